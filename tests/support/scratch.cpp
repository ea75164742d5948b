#include "tests/support/scratch.hpp"

#include "tests/support/log_archive.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace cgw::test {

void run(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) output += buf;
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error("command failed: " + command + "\n" + output);
}

Scratch::Scratch() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cgw-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
}

Scratch::~Scratch() {
  archive_logs(dir_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Scratch::write(std::string_view name, std::string_view content) const {
  const std::string file = path(std::string(name));
  std::filesystem::create_directories(std::filesystem::path(file).parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + file);
  return file;
}

std::string Scratch::hs256_secret(const std::string& name) const {
  const std::string file = path(name);
  run("head -c 32 /dev/urandom | base64 > '" + file + "'");
  std::ifstream in(file);
  std::string secret;
  std::getline(in, secret);
  record_secret(secret);
  return file;
}

std::string Scratch::private_key(const std::string& name, const std::string& kind) const {
  const std::string file = path(name);
  std::string algorithm = kind == "EC"    ? "EC -pkeyopt ec_paramgen_curve:P-256"
                          : kind == "RSA" ? "RSA -pkeyopt rsa_keygen_bits:2048"
                                          : kind;
  run("openssl genpkey -algorithm " + algorithm + " -out '" + file + "'");
  run("openssl pkey -in '" + file + "' -pubout -out '" + file + ".pub'");
  return file;
}

std::pair<std::string, std::string> Scratch::tls_certificate(const std::string& name) const {
  const std::string cert = path(name + ".crt");
  const std::string key = path(name + ".key");
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
      "/CN=localhost"
      " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
      key + "' -out '" + cert + "'");
  return {cert, key};
}

}  // namespace cgw::test
