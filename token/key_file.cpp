#include "token/key_material.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace cgw::token::detail {

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    bytes_ = std::exchange(other.bytes_, {});
  }
  return *this;
}

Secret::~Secret() { wipe(); }

void Secret::wipe() noexcept {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

namespace {

// Real key files are a few KiB at most; anything bigger is a wrong path.
constexpr std::size_t max_key_file_size = 64 * 1024;
constexpr std::size_t min_secret_size = 32;

using file_ptr = std::unique_ptr<std::FILE, openssl_deleter<&std::fclose>>;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  // A failed parse leaves entries on this thread's OpenSSL error queue; they
  // would otherwise surface in an unrelated later call.
  ERR_clear_error();
  throw KeyError(path + ": " + problem);
}

std::string errno_text(int error) { return std::generic_category().message(error); }

Secret read_file(const std::string& path) {
  file_ptr file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open key file: " + errno_text(errno));
  std::string bytes(max_key_file_size + 1, '\0');
  const std::size_t got = std::fread(bytes.data(), 1, bytes.size(), file.get());
  if (std::ferror(file.get())) {
    const int error = errno;
    Secret wipe_partial(std::move(bytes));
    fail(path, "cannot read key file: " + errno_text(error));
  }
  if (got > max_key_file_size) {
    Secret wipe_partial(std::move(bytes));
    fail(path, "key file is larger than 64 KiB; not a key");
  }
  // Shrinking in place keeps the bytes in the one buffer that Secret wipes.
  bytes.resize(got);
  return Secret(std::move(bytes));
}

// The labels of every "-----BEGIN <label>-----" line, in order.
std::vector<std::string> pem_labels(std::string_view text) {
  constexpr std::string_view begin = "-----BEGIN ";
  std::vector<std::string> labels;
  for (auto at = text.find(begin); at != std::string_view::npos; at = text.find(begin, at + 1)) {
    const auto start = at + begin.size();
    const auto end = text.find("-----", start);
    if (end == std::string_view::npos) break;
    labels.emplace_back(text.substr(start, end - start));
  }
  return labels;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool any_label(const std::vector<std::string>& labels, std::string_view part) {
  return std::any_of(labels.begin(), labels.end(),
                     [&](const std::string& label) { return contains(label, part); });
}

bool looks_like_der_key(std::string_view bytes) {
  const auto* begin = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto length = static_cast<long>(bytes.size());
  const unsigned char* cursor = begin;
  pkey_ptr public_key(d2i_PUBKEY(nullptr, &cursor, length));
  cursor = begin;
  pkey_ptr private_key(public_key ? nullptr : d2i_AutoPrivateKey(nullptr, &cursor, length));
  ERR_clear_error();
  return public_key || private_key;
}

bool looks_like_openssh_key(std::string_view text) {
  for (const std::string_view prefix : {"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"}) {
    if (text.starts_with(prefix)) return true;
  }
  return false;
}

KeyMaterial load_secret(const std::string& path, std::string_view text) {
  // A public key used as an HMAC secret would let anyone who has it mint
  // tokens, so key files that are not PEM but still look like keys are refused.
  if (looks_like_der_key(text)) {
    fail(path,
         "looks like a DER-encoded key; give a PEM key (openssl pkey -inform DER) or an "
         "HS256 secret");
  }
  constexpr std::string_view space = " \t\r\n\v\f";
  const auto first = text.find_first_not_of(space);
  const auto trimmed = first == std::string_view::npos
                           ? std::string_view{}
                           : text.substr(first, text.find_last_not_of(space) - first + 1);
  if (looks_like_openssh_key(trimmed)) {
    fail(path, "looks like an OpenSSH key; give a PEM key or an HS256 secret");
  }
  if (trimmed.size() < min_secret_size) {
    fail(path, "HS256 secret is " + std::to_string(trimmed.size()) + " bytes; at least " +
                   std::to_string(min_secret_size) + " are needed");
  }
  KeyMaterial key;
  key.algorithm = Algorithm::hs256;
  key.secret = Secret(std::string(trimmed));
  prepare_hmac(key);
  return key;
}

// The key's type alone decides the JWS algorithm; sizes and curves weaker than
// the issue allows are refused here rather than at the first token.
Algorithm algorithm_for(const std::string& path, EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[80] = {};
    std::size_t group_length = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &group_length) != 1) {
      fail(path, "EC key without a named curve; only P-256 (ES256) is supported");
    }
    if (OBJ_sn2nid(group) != NID_X9_62_prime256v1) {
      fail(path, "EC key on curve " + std::string(group) + "; only P-256 (ES256) is supported");
    }
    return Algorithm::es256;
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) return Algorithm::eddsa;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < 2048) {
      fail(path, "RSA key is " + std::to_string(bits) + " bits; at least 2048 are needed");
    }
    return Algorithm::rs256;
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  fail(path, "unsupported key type " + std::string(type ? type : "(unknown)") +
                 "; use EC P-256, Ed25519 or RSA");
}

bio_ptr memory_bio(const std::string& path, std::string_view text) {
  bio_ptr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) fail(path, "out of memory");
  return bio;
}

KeyMaterial load_public_key(const std::string& path, std::string_view text,
                            const std::vector<std::string>& labels) {
  if (any_label(labels, "PRIVATE KEY")) {
    fail(path, "is a private key; give the gateway the public key instead (openssl pkey -in " +
                   path + " -pubout)");
  }
  if (std::find(labels.begin(), labels.end(), "PUBLIC KEY") == labels.end()) {
    if (any_label(labels, "RSA PUBLIC KEY")) {
      fail(path, "is a PKCS#1 RSA public key; convert it (openssl rsa -RSAPublicKey_in -in " +
                     path + " -pubout)");
    }
    if (any_label(labels, "CERTIFICATE")) {
      fail(path,
           "is a certificate; give its public key (openssl x509 -in " + path + " -pubkey -noout)");
    }
    fail(path, "PEM block \"" + labels.front() + "\" is not a public key");
  }
  auto bio = memory_bio(path, text);
  pkey_ptr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) fail(path, "not a valid PEM public key");
  KeyMaterial key;
  key.algorithm = algorithm_for(path, pkey.get());
  key.pkey = std::move(pkey);
  return key;
}

// Never prompt on the terminal for a pass phrase: the gateway and the CLI run
// unattended, and an encrypted key has already been refused.
int no_pass_phrase(char*, int, int, void*) { return -1; }

KeyMaterial load_private_key(const std::string& path, std::string_view text,
                             const std::vector<std::string>& labels) {
  if (any_label(labels, "ENCRYPTED") || contains(text, "Proc-Type: 4,ENCRYPTED")) {
    fail(path, "private key is encrypted; decrypt it (openssl pkey -in " + path +
                   " -out plain.pem) and protect the file instead");
  }
  if (any_label(labels, "OPENSSH PRIVATE KEY")) {
    fail(path, "OpenSSH key format is not supported; create a key with openssl genpkey");
  }
  if (!any_label(labels, "PRIVATE KEY")) {
    if (any_label(labels, "PUBLIC KEY")) {
      fail(path, "is a public key; signing tokens needs the private key");
    }
    fail(path, "PEM block \"" + labels.front() + "\" is not a private key");
  }
  auto bio = memory_bio(path, text);
  pkey_ptr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, &no_pass_phrase, nullptr));
  if (!pkey) fail(path, "not a valid PEM private key");
  KeyMaterial key;
  key.algorithm = algorithm_for(path, pkey.get());
  key.pkey = std::move(pkey);
  return key;
}

}  // namespace

KeyMaterial load_key_file(const std::string& path, KeyUse use) {
  // Even a successful PEM read can leave entries (e.g. for skipped blocks) on
  // this thread's OpenSSL error queue.
  struct clear_errors_on_exit {
    ~clear_errors_on_exit() { ERR_clear_error(); }
  } clear_errors;
  const Secret contents = read_file(path);
  const auto labels = pem_labels(contents.view());
  if (labels.empty()) return load_secret(path, contents.view());
  return use == KeyUse::verify ? load_public_key(path, contents.view(), labels)
                               : load_private_key(path, contents.view(), labels);
}

}  // namespace cgw::token::detail
