// The view-only filter, on its own: each client message type, malformed and
// unknown ones, and streams that real noVNC sent to Xvnc and QEMU
// (tests/rfb/record/), fed whole, split at every position, in random chunks and
// byte by byte. What comes out is checked against an independent whole-buffer
// parser of the same stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rfb/input_filter.hpp"

namespace cgw::rfb {
namespace {

using Buffer = std::vector<std::uint8_t>;

// --- Client messages, as RFB 3.8 and noVNC's RFB.messages write them ---------

void put16(Buffer& b, std::uint32_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(Buffer& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}

Buffer set_pixel_format() {
  Buffer b{0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0};
  return b;
}
Buffer set_encodings(std::uint32_t count) {
  Buffer b{2, 0};
  put16(b, count);
  for (std::uint32_t i = 0; i < count; ++i) put32(b, 0xffffff00u + i);
  return b;
}
Buffer update_request(std::uint8_t incremental = 1) {
  Buffer b{3, incremental};
  put16(b, 0);
  put16(b, 0);
  put16(b, 800);
  put16(b, 600);
  return b;
}
Buffer key_event(std::uint8_t down, std::uint32_t keysym) {
  Buffer b{4, down, 0, 0};
  put32(b, keysym);
  return b;
}
Buffer pointer_event(std::uint8_t mask, std::uint32_t x, std::uint32_t y) {
  Buffer b{5, mask};
  put16(b, x);
  put16(b, y);
  return b;
}
Buffer cut_text(const std::string& text) {
  Buffer b{6, 0, 0, 0};
  put32(b, static_cast<std::uint32_t>(text.size()));
  b.insert(b.end(), text.begin(), text.end());
  return b;
}
// The extended clipboard: a negative length, |length| bytes of flags and data.
Buffer cut_text_extended(std::size_t size) {
  Buffer b{6, 0, 0, 0};
  put32(b, 0u - static_cast<std::uint32_t>(size));
  for (std::size_t i = 0; i < size; ++i) b.push_back(static_cast<std::uint8_t>(i * 7));
  return b;
}
Buffer continuous_updates(std::uint8_t enable) {
  Buffer b{150, enable};
  put16(b, 0);
  put16(b, 0);
  put16(b, 1024);
  put16(b, 768);
  return b;
}
Buffer fence(std::uint32_t flags, std::size_t payload) {
  Buffer b{248, 0, 0, 0};
  put32(b, flags);
  b.push_back(static_cast<std::uint8_t>(payload));
  for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<std::uint8_t>('a' + i % 26));
  return b;
}
Buffer xvp(std::uint8_t op) { return Buffer{250, 0, 1, op}; }
Buffer set_desktop_size(std::uint8_t screens) {
  Buffer b{251, 0};
  put16(b, 1024);
  put16(b, 768);
  b.push_back(screens);
  b.push_back(0);
  for (std::uint8_t i = 0; i < screens; ++i) {
    put32(b, i);
    put16(b, 0);
    put16(b, 0);
    put16(b, 1024);
    put16(b, 768);
    put32(b, 0);
  }
  return b;
}
Buffer qemu_key_event(std::uint8_t down, std::uint32_t keysym, std::uint32_t keycode) {
  Buffer b{255, 0};
  put16(b, down);
  put32(b, keysym);
  put32(b, keycode);
  return b;
}
Buffer qemu_audio(std::uint16_t operation) {
  Buffer b{255, 1};
  put16(b, operation);
  if (operation == 2) {
    b.push_back(3);  // format
    b.push_back(2);  // channels
    put32(b, 44100);
  }
  return b;
}

Buffer concat(std::initializer_list<Buffer> parts) {
  Buffer out;
  for (const Buffer& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// --- An independent parser of a whole stream -----------------------------------

struct Message {
  std::uint8_t type = 0;
  int subtype = -1;  // QEMU's messages only
  Buffer bytes;
};

std::uint32_t get16(const Buffer& b, std::size_t at) { return b[at] << 8 | b[at + 1]; }
std::uint32_t get32(const Buffer& b, std::size_t at) {
  return get16(b, at) << 16 | get16(b, at + 2);
}

// The messages after ClientInit (stream[0]); nullopt when one is unknown,
// malformed or cut short.
std::optional<std::vector<Message>> parse_messages(const Buffer& stream) {
  std::vector<Message> out;
  std::size_t at = 1;
  while (at < stream.size()) {
    const auto have = [&](std::size_t n) { return at + n <= stream.size(); };
    Message m;
    m.type = stream[at];
    std::size_t size = 0;
    switch (m.type) {
      case 0:
        size = 20;
        break;
      case 2:
        if (!have(4)) return std::nullopt;
        size = 4 + 4 * get16(stream, at + 2);
        break;
      case 3:
        size = 10;
        break;
      case 4:
        size = 8;
        break;
      case 5:
        size = 6;
        break;
      case 6: {
        if (!have(8)) return std::nullopt;
        const std::int32_t length = static_cast<std::int32_t>(get32(stream, at + 4));
        size =
            8 + static_cast<std::size_t>(length < 0 ? -static_cast<std::int64_t>(length) : length);
        break;
      }
      case 150:
        size = 10;
        break;
      case 248:
        if (!have(9) || stream[at + 8] > 64) return std::nullopt;
        size = 9 + stream[at + 8];
        break;
      case 250:
        size = 4;
        break;
      case 251:
        if (!have(8)) return std::nullopt;
        size = 8 + 16 * stream[at + 6];
        break;
      case 255:
        if (!have(2)) return std::nullopt;
        m.subtype = stream[at + 1];
        if (m.subtype == 0) {
          size = 12;
        } else if (m.subtype == 1) {
          if (!have(4)) return std::nullopt;
          const std::uint32_t op = get16(stream, at + 2);
          if (op > 2) return std::nullopt;
          size = op == 2 ? 10 : 4;
        } else {
          return std::nullopt;
        }
        break;
      default:
        return std::nullopt;
    }
    if (!have(size)) return std::nullopt;
    m.bytes.assign(stream.begin() + static_cast<std::ptrdiff_t>(at),
                   stream.begin() + static_cast<std::ptrdiff_t>(at + size));
    out.push_back(std::move(m));
    at += size;
  }
  return out;
}

// What a viewer may not send.
bool is_input(const Message& m) {
  return m.type == 4 || m.type == 5 || m.type == 6 || m.type == 250 || m.type == 251 ||
         (m.type == 255 && m.subtype == 0);
}

// What the filter should forward of a whole, valid stream: ClientInit as
// shared, then every message that is not input, byte for byte, in order.
Buffer expected_output(const Buffer& stream) {
  const auto messages = parse_messages(stream);
  EXPECT_TRUE(messages.has_value());
  Buffer out{1};
  for (const Message& m : messages.value_or(std::vector<Message>{})) {
    if (!is_input(m)) out.insert(out.end(), m.bytes.begin(), m.bytes.end());
  }
  return out;
}

// --- Running the filter -----------------------------------------------------------

struct Outcome {
  Buffer out;
  std::string error;
  FilterCounters counters;
};

// Feeds `stream` cut at `cuts` (increasing positions), each chunk from a buffer
// of its own so that a piece kept from an earlier chunk would show.
Outcome run_filter(const Buffer& stream, const std::vector<std::size_t>& cuts) {
  InputFilter filter;
  Outcome run;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : stream.size();
    Buffer chunk(stream.begin() + static_cast<std::ptrdiff_t>(from),
                 stream.begin() + static_cast<std::ptrdiff_t>(to));
    const FilterResult result = filter.feed(chunk);
    if (!result.ok()) {
      run.error = std::string(result.error);
      EXPECT_TRUE(result.keep.empty());
      break;
    }
    std::size_t kept = 0;
    for (const Bytes piece : result.keep) {
      EXPECT_FALSE(piece.empty());
      kept += piece.size();
      run.out.insert(run.out.end(), piece.begin(), piece.end());
    }
    EXPECT_LE(run.out.size(), to) << "more kept than fed";
    (void)kept;
    std::fill(chunk.begin(), chunk.end(), std::uint8_t{0xee});  // the pieces are used up
    from = to;
  }
  run.counters = filter.counters();
  return run;
}

Outcome run_whole(const Buffer& stream) { return run_filter(stream, {}); }

Outcome run_bytewise(const Buffer& stream) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  return run_filter(stream, cuts);
}

std::vector<std::size_t> random_cuts(std::size_t size, std::mt19937& gen, std::size_t max_chunk) {
  std::vector<std::size_t> cuts;
  std::uniform_int_distribution<std::size_t> step(1, max_chunk);
  for (std::size_t at = step(gen); at < size; at += step(gen)) cuts.push_back(at);
  return cuts;
}

// --- Recorded noVNC sessions ---------------------------------------------------------

Buffer read_recording(const std::string& name) {
  std::ifstream in(std::string(CGW_RFB_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return Buffer(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class Recording : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    stream_ = read_recording(GetParam());
    ASSERT_GT(stream_.size(), 100u);
    const auto messages = parse_messages(stream_);
    ASSERT_TRUE(messages.has_value()) << "the recording does not parse";
    messages_ = *messages;
    expected_ = expected_output(stream_);
  }

  // The checks of one run: the kept bytes are the expected ones, and parsed
  // again they hold no input at all.
  void check(const Outcome& run, const std::string& how) {
    ASSERT_EQ(run.error, "") << how;
    ASSERT_EQ(run.out.size(), expected_.size()) << how;
    ASSERT_TRUE(run.out == expected_) << how << ": kept bytes differ";
    const auto kept = parse_messages(run.out);
    ASSERT_TRUE(kept.has_value()) << how;
    for (const Message& m : *kept) ASSERT_FALSE(is_input(m)) << how;
  }

  Buffer stream_;
  std::vector<Message> messages_;
  Buffer expected_;
};

TEST_P(Recording, HoldsInputAndWhatAViewerNeeds) {
  const auto count = [&](auto pred) {
    return std::count_if(messages_.begin(), messages_.end(), pred);
  };
  EXPECT_EQ(stream_[0], 1) << "noVNC asks for a shared session";
  EXPECT_GT(count([](const Message& m) { return m.type == 5; }), 10);
  EXPECT_GT(
      count([](const Message& m) { return m.type == 4 || (m.type == 255 && m.subtype == 0); }), 10);
  EXPECT_GT(count([](const Message& m) { return m.type == 6; }), 0);
  EXPECT_GT(count([](const Message& m) { return m.type == 251; }), 0);
  EXPECT_EQ(count([](const Message& m) { return m.type == 0; }), 1);
  EXPECT_EQ(count([](const Message& m) { return m.type == 2; }), 1);
  EXPECT_GT(count([](const Message& m) { return m.type == 3; }), 0);
}

TEST_P(Recording, WholeKeepsAllButInput) {
  const Outcome run = run_whole(stream_);
  check(run, "whole");
  const auto dropped = std::count_if(messages_.begin(), messages_.end(), is_input);
  EXPECT_EQ(run.counters.dropped, static_cast<std::uint64_t>(dropped));
  EXPECT_EQ(run.counters.passed, messages_.size() - static_cast<std::size_t>(dropped) + 1);
  EXPECT_EQ(run.counters.bytes_dropped, stream_.size() - expected_.size());
}

TEST_P(Recording, SplitAtEveryPosition) {
  for (std::size_t cut = 0; cut <= stream_.size(); ++cut) {
    check(run_filter(stream_, {cut}), "cut at " + std::to_string(cut));
  }
}

TEST_P(Recording, RandomChunks) {
  std::mt19937 gen(20261204);
  for (int round = 0; round < 300; ++round) {
    const std::size_t max_chunk = round % 3 == 0 ? 3 : round % 3 == 1 ? 40 : 1000;
    check(run_filter(stream_, random_cuts(stream_.size(), gen, max_chunk)),
          "round " + std::to_string(round));
  }
}

TEST_P(Recording, ByteByByte) { check(run_bytewise(stream_), "byte by byte"); }

// Without input the filter changes nothing, and a whole chunk is kept as one piece.
TEST_P(Recording, WithoutInputIsIdentity) {
  const Buffer viewer = expected_;
  InputFilter filter;
  const FilterResult result = filter.feed(viewer);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.keep.size(), 1u);
  EXPECT_EQ(result.keep[0].data(), viewer.data());
  EXPECT_EQ(result.keep[0].size(), viewer.size());
  EXPECT_EQ(filter.counters().dropped, 0u);
  check(run_bytewise(viewer), "identity, byte by byte");
}

INSTANTIATE_TEST_SUITE_P(NoVnc, Recording,
                         ::testing::Values("novnc-xvnc.bin", "novnc-xvnc-plain.bin",
                                           "novnc-qemu.bin"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           name = name.substr(0, name.find('.'));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// --- Each message type ------------------------------------------------------------------

struct MessageCase {
  const char* name;
  Buffer bytes;
  bool passes;
};

std::vector<MessageCase> message_cases() {
  return {
      {"SetPixelFormat", set_pixel_format(), true},
      {"SetEncodings", set_encodings(12), true},
      {"SetEncodingsNone", set_encodings(0), true},
      {"FramebufferUpdateRequest", update_request(0), true},
      {"EnableContinuousUpdates", continuous_updates(1), true},
      {"ClientFence", fence(0x80000002u, 8), true},
      {"ClientFenceEmpty", fence(0, 0), true},
      {"ClientFenceLongest", fence(1, 64), true},
      {"QemuAudioEnable", qemu_audio(0), true},
      {"QemuAudioDisable", qemu_audio(1), true},
      {"QemuAudioSetFormat", qemu_audio(2), true},
      {"KeyEvent", key_event(1, 0x61), false},
      {"PointerEvent", pointer_event(1, 100, 200), false},
      {"ClientCutText", cut_text("secret paste"), false},
      {"ClientCutTextEmpty", cut_text(""), false},
      {"ClientCutTextExtended", cut_text_extended(37), false},
      {"ClientCutTextExtendedFlagsOnly", cut_text_extended(4), false},
      {"QemuExtendedKeyEvent", qemu_key_event(1, 0x61, 0x1e), false},
      {"XvpReboot", xvp(3), false},
      {"SetDesktopSize", set_desktop_size(1), false},
      {"SetDesktopSizeThreeScreens", set_desktop_size(3), false},
  };
}

class EachMessage : public ::testing::TestWithParam<MessageCase> {};

// ClientInit, then the message between two messages that pass, split at every
// pair of positions (three chunks), so that each of its bytes starts, ends or
// sits alone in a chunk.
TEST_P(EachMessage, KeptOrDroppedHoweverSplit) {
  const MessageCase& c = GetParam();
  const Buffer before = update_request(1);
  const Buffer after = fence(3, 2);
  const Buffer stream = concat({{1}, before, c.bytes, after});
  const Buffer expected = c.passes ? stream : concat({{1}, before, after});
  ASSERT_TRUE(parse_messages(stream).has_value());
  EXPECT_EQ(expected_output(stream), expected) << "the test's parser disagrees";

  const Outcome whole = run_whole(stream);
  ASSERT_EQ(whole.error, "");
  EXPECT_EQ(whole.out, expected);
  EXPECT_EQ(whole.counters.dropped, c.passes ? 0u : 1u);
  EXPECT_EQ(whole.counters.passed, c.passes ? 4u : 3u);
  EXPECT_EQ(whole.counters.bytes_dropped, c.passes ? 0u : c.bytes.size());

  for (std::size_t i = 0; i <= stream.size(); ++i) {
    for (std::size_t j = i; j <= stream.size(); ++j) {
      const Outcome run = run_filter(stream, {i, j});
      ASSERT_EQ(run.error, "") << i << "," << j;
      ASSERT_EQ(run.out, expected) << "cut at " << i << " and " << j;
    }
  }
  EXPECT_EQ(run_bytewise(stream).out, expected);
}

INSTANTIATE_TEST_SUITE_P(Types, EachMessage, ::testing::ValuesIn(message_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// --- What ends the session ------------------------------------------------------------

struct BadCase {
  const char* name;
  Buffer bytes;
  const char* error;
};

std::vector<BadCase> bad_cases() {
  std::vector<BadCase> cases = {
      {"Type42",
       {42, 0, 0, 0, 0, 0, 0, 0},
       "view-only: unknown RFB message type 42 from the browser"},
      {"FenceOver64", fence(0, 65), "view-only: a fence of 65 bytes from the browser (at most 64)"},
      {"FenceOf255", fence(0, 255),
       "view-only: a fence of 255 bytes from the browser (at most 64)"},
      {"QemuSubtype2",
       {255, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       "view-only: unknown QEMU message subtype 2 from the browser"},
      {"QemuAudioOperation3",
       {255, 1, 0, 3},
       "view-only: unknown QEMU audio operation 3 from the browser"},
      {"QemuAudioOperation256",
       {255, 1, 1, 0},
       "view-only: unknown QEMU audio operation 256 from the browser"},
      // gii (253): input devices; noVNC 1.3 never sends it, so it is unknown here.
      {"Gii",
       {253, 0x80, 0, 4, 0, 0, 0, 0},
       "view-only: unknown RFB message type 253 from the browser"},
  };
  // Every other type byte: the RFB types noVNC does not send (FileTransfer 7,
  // SetScale 8, ...) and everything never assigned.
  const std::vector<int> known = {0, 2, 3, 4, 5, 6, 150, 248, 250, 251, 255};
  static std::vector<std::string> names;
  static std::vector<std::string> errors;
  names.reserve(256);
  errors.reserve(256);
  for (int t = 0; t < 256; ++t) {
    if (std::find(known.begin(), known.end(), t) != known.end() || t == 42 || t == 253) continue;
    names.push_back("Type" + std::to_string(t));
    errors.push_back("view-only: unknown RFB message type " + std::to_string(t) +
                     " from the browser");
    cases.push_back({names.back().c_str(), Buffer(24, 0), errors.back().c_str()});
    cases.back().bytes[0] = static_cast<std::uint8_t>(t);
  }
  return cases;
}

class BadMessage : public ::testing::TestWithParam<BadCase> {};

// After valid messages, a bad one ends it at whatever split: the error says
// why, nothing of the chunk that holds the bad message's deciding byte is
// kept, and the filter stays failed.
TEST_P(BadMessage, EndsTheSessionHoweverSplit) {
  const BadCase& c = GetParam();
  const Buffer good = concat({{1}, update_request(1), pointer_event(0, 1, 1)});
  const Buffer stream = concat({good, c.bytes, update_request(1)});
  const Buffer good_out = concat({{1}, update_request(1)});

  for (std::size_t i = 0; i <= stream.size(); ++i) {
    const Outcome run = run_filter(stream, {i});
    ASSERT_EQ(run.error, c.error) << "cut at " << i;
    // Only bytes of the good messages (or the bad one's own start) went out.
    ASSERT_LE(run.out.size(), good_out.size() + c.bytes.size()) << i;
    ASSERT_TRUE(std::equal(
        run.out.begin(),
        run.out.begin() + static_cast<std::ptrdiff_t>(std::min(run.out.size(), good_out.size())),
        good_out.begin()))
        << i;
  }
  EXPECT_EQ(run_bytewise(stream).error, c.error);

  InputFilter filter;
  const FilterResult first = filter.feed(stream);
  EXPECT_FALSE(first.ok());
  EXPECT_TRUE(first.keep.empty());
  EXPECT_TRUE(filter.failed());
  EXPECT_EQ(filter.error_text(), c.error);
  const Buffer more = update_request(1);
  const FilterResult later = filter.feed(more);
  EXPECT_EQ(later.error, c.error);
  EXPECT_TRUE(later.keep.empty());
}

INSTANTIATE_TEST_SUITE_P(Types, BadMessage, ::testing::ValuesIn(bad_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// --- ClientInit, the fast path, long messages ------------------------------------------

TEST(ClientInit, ForcedShared) {
  for (const std::uint8_t flag : {0, 1, 2, 0x80, 0xff}) {
    const Buffer stream = concat({{flag}, update_request(0)});
    EXPECT_EQ(run_whole(stream).out, concat({{1}, update_request(0)})) << int{flag};
    EXPECT_EQ(run_bytewise(stream).out, concat({{1}, update_request(0)})) << int{flag};
  }
}

TEST(ClientInit, SharedPassesInPlace) {
  const Buffer stream = concat({{1}, set_pixel_format(), set_encodings(3)});
  InputFilter filter;
  const FilterResult result = filter.feed(stream);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.keep.size(), 1u);
  EXPECT_EQ(result.keep[0].data(), stream.data());
  EXPECT_EQ(result.keep[0].size(), stream.size());
}

TEST(ClientInit, ExclusiveIsReplacedNotWrittenOver) {
  const Buffer stream = concat({{0}, update_request(0)});
  const Buffer copy = stream;
  InputFilter filter;
  const FilterResult result = filter.feed(stream);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.keep.size(), 2u);
  EXPECT_EQ(result.keep[0].size(), 1u);
  EXPECT_EQ(result.keep[0][0], 1);
  EXPECT_EQ(result.keep[1].data(), stream.data() + 1);
  EXPECT_EQ(stream, copy) << "the caller's bytes are const";
}

TEST(FastPath, ChunkWithoutInputIsOnePiece) {
  const Buffer init{1};
  // Cuts inside a SetEncodings, so a chunk may start in a message's body.
  const Buffer stream = concat(
      {set_encodings(20), update_request(1), fence(1, 10), continuous_updates(1), qemu_audio(2)});
  // A QEMU message's first bytes wait for its subtype and operation: a cut
  // among them gives two pieces, the rest of the time a chunk is one piece.
  const std::size_t qemu_at = stream.size() - 10;
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    InputFilter filter;
    ASSERT_TRUE(filter.feed(init).ok());
    const Buffer a(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(cut));
    const Buffer b(stream.begin() + static_cast<std::ptrdiff_t>(cut), stream.end());
    const bool held = cut > qemu_at && cut < qemu_at + 4;
    Buffer out;
    for (const Buffer* chunk : {&a, &b}) {
      const FilterResult r = filter.feed(*chunk);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r.keep.size(), held && chunk == &b ? 2u : 1u) << cut;
      if (!held) {
        EXPECT_EQ(r.keep[0].size(), chunk->size()) << cut;
      } else if (chunk == &a) {
        EXPECT_EQ(r.keep[0].size(), qemu_at) << cut;
      } else {
        EXPECT_EQ(r.keep[1].data(), b.data()) << cut;
      }
      for (const Bytes piece : r.keep) out.insert(out.end(), piece.begin(), piece.end());
    }
    EXPECT_EQ(out, stream) << cut;
  }
}

TEST(FastPath, DroppedInputBetweenPassesGivesSeparatePieces) {
  const Buffer stream = concat({{1},
                                update_request(1),
                                pointer_event(1, 2, 3),
                                pointer_event(0, 2, 3),
                                update_request(1),
                                key_event(1, 0x20),
                                update_request(1)});
  InputFilter filter;
  const FilterResult result = filter.feed(stream);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.keep.size(), 3u);
  EXPECT_EQ(result.keep[0].size(), 11u);
  EXPECT_EQ(result.keep[1].size(), 10u);
  EXPECT_EQ(result.keep[2].size(), 10u);
}

// A long paste is counted, not buffered: megabytes in small chunks, nothing kept,
// and the message after it passes.
TEST(LongMessages, ClientCutTextSkippedByCounting) {
  constexpr std::uint32_t size = 8u << 20;
  Buffer header{1, 6, 0, 0, 0};
  put32(header, size);
  InputFilter filter;
  ASSERT_EQ(filter.feed(header).keep.size(), 1u);  // ClientInit only
  const Buffer block(4096, 'x');
  for (std::uint32_t sent = 0; sent < size; sent += block.size()) {
    const FilterResult r = filter.feed(block);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r.keep.empty());
  }
  const Buffer next = update_request(1);
  const FilterResult r = filter.feed(next);
  ASSERT_EQ(r.keep.size(), 1u);
  EXPECT_EQ(r.keep[0].size(), next.size());
  EXPECT_EQ(filter.counters().bytes_dropped, size + 8u);
}

// The largest extended length, -2^31: 2 GiB follow, all dropped.
TEST(LongMessages, ExtendedClipboardMostNegativeLength) {
  Buffer header{1, 6, 0, 0, 0};
  put32(header, 0x80000000u);
  InputFilter filter;
  ASSERT_TRUE(filter.feed(header).ok());
  const Buffer block(1 << 20, 0);
  for (int i = 0; i < 2048; ++i) {
    const FilterResult r = filter.feed(block);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r.keep.empty());
  }
  const Buffer next = update_request(1);
  const FilterResult r = filter.feed(next);
  ASSERT_EQ(r.keep.size(), 1u);
  EXPECT_EQ(filter.counters().bytes_dropped, (std::uint64_t{1} << 31) + 8u);
}

TEST(LongMessages, SetEncodingsPassedAsItComes) {
  const Buffer stream = concat({{1}, set_encodings(65535), update_request(1)});
  std::mt19937 gen(7);
  const Outcome run = run_filter(stream, random_cuts(stream.size(), gen, 5000));
  EXPECT_EQ(run.error, "");
  EXPECT_EQ(run.out, stream);
}

TEST(QemuMessages, HeaderHeldUntilTheSubtypeDecides) {
  // The type byte alone in one chunk, the subtype in the next: nothing of a
  // key event may go out, and an audio message goes out whole and in order.
  InputFilter filter;
  const Buffer init{1};
  ASSERT_TRUE(filter.feed(init).ok());
  const Buffer type{255};
  EXPECT_TRUE(filter.feed(type).keep.empty());
  const Buffer rest{1, 0, 0};
  const FilterResult r = filter.feed(rest);
  ASSERT_TRUE(r.ok());
  Buffer out;
  for (const Bytes piece : r.keep) out.insert(out.end(), piece.begin(), piece.end());
  EXPECT_EQ(out, qemu_audio(0));
  EXPECT_EQ(filter.counters().passed, 2u);
}

TEST(Counters, CountWholeMessages) {
  const Buffer stream = concat({{1},
                                key_event(1, 1),
                                key_event(0, 1),
                                pointer_event(0, 0, 0),
                                update_request(1),
                                qemu_key_event(1, 2, 3),
                                qemu_audio(1)});
  const Outcome run = run_bytewise(stream);
  EXPECT_EQ(run.counters.passed, 3u);
  EXPECT_EQ(run.counters.dropped, 4u);
  EXPECT_EQ(run.counters.bytes_dropped, 8u + 8u + 6u + 12u);
}

}  // namespace
}  // namespace cgw::rfb
