// libFuzzer target: rfb::InputFilter on any byte stream from the browser.
//
// The input is the stream after the security handshake (ClientInit first, as
// the recordings in corpus/rfb_input_filter/ are). It is fed twice, whole and
// in chunks whose sizes come from the input itself, and each run is checked
// against a reference written here as a plain whole-buffer parser:
//   - the filter forwards exactly the reference's bytes: ClientInit as 1, every
//     complete message a viewer may send, none of the input, in order; of a
//     message cut short by the end of the input at most its own first bytes,
//     and none of one that is dropped;
//   - it fails exactly where the reference finds an unknown or malformed
//     message, with the same sentence for both runs;
//   - it never forwards more bytes than it was given.
// A broken invariant aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "rfb/input_filter.hpp"

namespace {

using cgw::rfb::Bytes;
using cgw::rfb::FilterResult;
using cgw::rfb::InputFilter;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "rfb_input_filter_fuzz: %s\n", what);
  std::abort();
}

struct Reference {
  std::vector<std::uint8_t> complete;  // what must be forwarded of complete messages
  std::vector<std::uint8_t> tail;      // a passed message cut short: may follow, in part
  bool failed = false;
};

std::uint32_t be16(const std::uint8_t* p) { return std::uint32_t{p[0]} << 8 | p[1]; }
std::uint32_t be32(const std::uint8_t* p) { return be16(p) << 16 | be16(p + 2); }

// The messages of RFB 3.8's client, as docs and noVNC define them, one at a time.
Reference reference(const std::uint8_t* data, std::size_t size) {
  Reference ref;
  if (size == 0) return ref;
  ref.complete.push_back(1);
  std::size_t at = 1;
  while (at < size) {
    const std::uint8_t* m = data + at;
    const std::size_t left = size - at;
    std::uint64_t length = 0;  // 0: not known yet (cut short before its header ends)
    bool pass = true;
    switch (m[0]) {
      case 0:
        length = 20;
        break;
      case 2:
        length = left >= 4 ? 4 + 4 * std::uint64_t{be16(m + 2)} : 0;
        break;
      case 3:
      case 150:
        length = 10;
        break;
      case 4:
        length = 8;
        pass = false;
        break;
      case 5:
        length = 6;
        pass = false;
        break;
      case 6: {
        pass = false;
        if (left >= 8) {
          const auto n = static_cast<std::int32_t>(be32(m + 4));
          length = 8 + static_cast<std::uint64_t>(n < 0 ? -std::int64_t{n} : std::int64_t{n});
        }
        break;
      }
      case 248:
        if (left >= 9 && m[8] > 64) ref.failed = true;
        length = left >= 9 ? 9 + std::uint64_t{m[8]} : 0;
        break;
      case 250:
        length = 4;
        pass = false;
        break;
      case 251:
        pass = false;
        length = left >= 8 ? 8 + 16 * std::uint64_t{m[6]} : 0;
        break;
      case 255:
        if (left < 2) return ref;  // undecided: nothing of it may go
        if (m[1] == 0) {
          pass = false;
          length = 12;
        } else if (m[1] == 1) {
          if (left < 4) return ref;  // undecided
          const std::uint32_t op = be16(m + 2);
          if (op > 2) ref.failed = true;
          length = op == 2 ? 10 : 4;
        } else {
          ref.failed = true;
        }
        break;
      default:
        ref.failed = true;
    }
    if (ref.failed) {
      // A passed message may have gone out in part before its deciding byte.
      if (m[0] == 248) ref.tail.assign(m, m + std::min<std::size_t>(left, 8));
      return ref;
    }
    if (length == 0 || length > left) {
      if (pass) ref.tail.assign(m, m + left);
      return ref;
    }
    if (pass) ref.complete.insert(ref.complete.end(), m, m + length);
    at += static_cast<std::size_t>(length);
  }
  return ref;
}

struct Run {
  std::vector<std::uint8_t> out;
  std::string error;
};

// Feeds the input in chunks of the given sizes (cycled), each copied into a
// buffer of its own that is scribbled over once its pieces are used.
Run run_filter(const std::uint8_t* data, std::size_t size, const std::vector<std::size_t>& sizes) {
  InputFilter filter;
  Run run;
  std::size_t at = 0;
  std::size_t fed = 0;
  for (std::size_t i = 0; at < size; ++i) {
    const std::size_t n = std::min(sizes[i % sizes.size()], size - at);
    std::vector<std::uint8_t> chunk(data + at, data + at + n);
    at += n;
    fed += n;
    const FilterResult result = filter.feed(Bytes(chunk));
    if (!result.ok()) {
      check(result.keep.empty(), "an error with bytes to keep");
      check(filter.failed() && result.error == filter.error_text(), "error not remembered");
      run.error = filter.error_text();
      const std::uint8_t more[] = {3, 0, 0, 0, 0, 0, 0, 1, 0, 1};
      check(filter.feed(Bytes(more)).error == run.error, "the filter did not stay failed");
      break;
    }
    for (const Bytes piece : result.keep) {
      check(!piece.empty(), "an empty piece");
      run.out.insert(run.out.end(), piece.begin(), piece.end());
    }
    check(run.out.size() <= fed, "more bytes forwarded than received");
    std::memset(chunk.data(), 0xee, chunk.size());
  }
  return run;
}

bool starts_with(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& prefix) {
  return a.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), a.begin());
}

void check_against(const Run& run, const Reference& ref) {
  check(run.error.empty() != ref.failed, "the filter and the reference disagree on failing");
  if (!ref.failed) {
    check(starts_with(run.out, ref.complete), "forwarded bytes differ from the reference");
  } else {
    // The chunk with the bad byte is dropped whole: a prefix of what was good.
    std::vector<std::uint8_t> allowed = ref.complete;
    allowed.insert(allowed.end(), ref.tail.begin(), ref.tail.end());
    check(run.out.size() <= allowed.size() &&
              std::equal(run.out.begin(), run.out.end(), allowed.begin()),
          "forwarded bytes before an error differ from the reference");
    return;
  }
  const std::size_t extra = run.out.size() - ref.complete.size();
  check(extra <= ref.tail.size() &&
            std::equal(run.out.begin() + static_cast<std::ptrdiff_t>(ref.complete.size()),
                       run.out.end(), ref.tail.begin()),
        "bytes of an unfinished message differ from the reference");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Reference ref = reference(data, size);

  const Run whole = run_filter(data, size, {size + 1});
  check_against(whole, ref);
  if (!ref.failed) check(whole.out.size() >= ref.complete.size(), "whole: bytes missing");

  // Chunk sizes from the input: a split may fall anywhere, often at 1 byte.
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 16); ++i) {
    sizes.push_back(1 + (data[size - 1 - i] % 13));
  }
  if (sizes.empty()) sizes.push_back(1);
  const Run chunked = run_filter(data, size, sizes);
  check_against(chunked, ref);
  check(chunked.error == whole.error, "chunks change the error");
  if (!ref.failed) check(chunked.out == whole.out, "chunks change the bytes forwarded");
  return 0;
}
