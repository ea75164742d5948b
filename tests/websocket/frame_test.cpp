// The WebSocket frame codec: exact bytes of what the server writes, and the decoder
// against hand-made client frames, every protocol error, a naive unmasking reference
// and randomized streams split at random points.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/websocket/helpers.hpp"
#include "websocket/frame.hpp"
#include "websocket/mask.hpp"

namespace cgw::websocket {
namespace {

using namespace std::string_literals;
using Key = std::array<std::uint8_t, 4>;
using test::close_payload;

constexpr Key default_key = {0x37, 0xFA, 0x21, 0x3D};

std::string header_bytes(const std::uint8_t* p, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(p), n);
}

// A client's frame header: first byte b0 (FIN, RSV, opcode), then the length in the
// given field (0: 7-bit, 2: 16-bit, 8: 64-bit, -1: the shortest), then the key.
std::string client_header(std::uint8_t b0, std::uint64_t length, const Key& key = default_key,
                          int field = -1, bool masked = true) {
  if (field < 0) field = length < 126 ? 0 : length <= 0xFFFF ? 2 : 8;
  std::string h(1, static_cast<char>(b0));
  const char mask_bit = masked ? '\x80' : '\0';
  if (field == 0) {
    h += static_cast<char>(mask_bit | static_cast<char>(length));
  } else {
    h += static_cast<char>(mask_bit | (field == 2 ? 126 : 127));
    for (int i = field - 1; i >= 0; --i) h += static_cast<char>(length >> (8 * i));
  }
  if (masked) h.append(reinterpret_cast<const char*>(key.data()), key.size());
  return h;
}

// A whole client frame carrying `payload`, masked with `key` (unless !masked).
std::string client_frame(std::uint8_t b0, std::string_view payload, const Key& key = default_key,
                         int field = -1, bool masked = true) {
  std::string f = client_header(b0, payload.size(), key, field, masked);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    f += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  }
  return f;
}

std::uint8_t fin(Opcode op) { return static_cast<std::uint8_t>(0x80 | static_cast<int>(op)); }
std::uint8_t more(Opcode op) { return static_cast<std::uint8_t>(op); }

// Decodes `raw` in one call; returns the data bytes.
std::string feed(Decoder& d, std::string_view raw) {
  std::vector<std::uint8_t> buf(raw.begin(), raw.end());
  const std::size_t n = d.decode(buf.data(), buf.size());
  EXPECT_LE(n, buf.size());
  return std::string(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
}

// Decodes `raw` in pieces of `chunk` bytes; returns the data bytes.
std::string feed_in_pieces(Decoder& d, std::string_view raw, std::size_t chunk) {
  std::string out;
  for (std::size_t at = 0; at < raw.size(); at += chunk) out += feed(d, raw.substr(at, chunk));
  return out;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t w = rng();
    std::memcpy(s.data() + i, &w, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

// --- Writing ---------------------------------------------------------------------------

TEST(WriteHeader, UsesTheShortestLengthEncoding) {
  struct Case {
    std::uint64_t size;
    std::string bytes;
  };
  const Case cases[] = {
      {0, "\x82\x00"s},
      {125, "\x82\x7D"s},
      {126, "\x82\x7E\x00\x7E"s},
      {65535, "\x82\x7E\xFF\xFF"s},
      {65536, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00"s},
      {std::uint64_t{1} << 40, "\x82\x7F\x00\x00\x01\x00\x00\x00\x00\x00"s},
  };
  for (const auto& c : cases) {
    std::uint8_t out[max_header_size];
    const std::size_t n = write_header(out, Opcode::binary, c.size);
    EXPECT_EQ(header_bytes(out, n), c.bytes) << c.size;
  }
}

TEST(WriteHeader, SetsFinAndTheOpcode) {
  std::uint8_t out[max_header_size];
  ASSERT_EQ(write_header(out, Opcode::close, 2), 2u);
  EXPECT_EQ(header_bytes(out, 2), "\x88\x02"s);
  ASSERT_EQ(write_header(out, Opcode::ping, 0), 2u);
  EXPECT_EQ(header_bytes(out, 2), "\x89\x00"s);
  ASSERT_EQ(write_header(out, Opcode::pong, 1), 2u);
  EXPECT_EQ(header_bytes(out, 2), "\x8A\x01"s);
  ASSERT_EQ(write_header(out, Opcode::continuation, 3), 2u);
  EXPECT_EQ(header_bytes(out, 2), "\x80\x03"s);
  ASSERT_EQ(write_header(out, Opcode::text, 300), 4u);
  EXPECT_EQ(header_bytes(out, 4), "\x81\x7E\x01\x2C"s);
}

TEST(CloseFrame, CarriesCodeAndReason) {
  EXPECT_EQ(close_frame(1000, "bye"),
            "\x88\x05\x03\xE8"
            "bye"s);
  EXPECT_EQ(close_frame(1001, ""), "\x88\x02\x03\xE9"s);
  EXPECT_EQ(close_frame(4000, "x"), "\x88\x03\x0F\xA0x"s);
}

TEST(CloseFrame, ClipsTheReasonTo123BytesOnACharacterBoundary) {
  const auto reason_of = [](const std::string& frame) {
    EXPECT_EQ(static_cast<std::size_t>(frame[1]), frame.size() - 2);
    return frame.substr(4);
  };
  const std::string a123(123, 'a');
  EXPECT_EQ(reason_of(close_frame(1000, a123)), a123);
  EXPECT_EQ(reason_of(close_frame(1000, a123 + "bcd")), a123);
  EXPECT_EQ(close_frame(1000, a123 + "b").size(), 2u + 125u);

  // A 2-byte character across the limit goes whole.
  const std::string a122(122, 'a');
  EXPECT_EQ(reason_of(close_frame(1000, a122 + "\xC3\xA9")), a122);
  // A 3-byte character across it.
  const std::string a121(121, 'a');
  EXPECT_EQ(reason_of(close_frame(1000, a121 + "\xE2\x82\xAC" + "x")), a121);
  // A 3-byte character that just fits stays.
  const std::string a120(120, 'a');
  EXPECT_EQ(reason_of(close_frame(1000, a120 + "\xE2\x82\xAC" + "x")), a120 + "\xE2\x82\xAC");
  // A 4-byte character, cut at each of its bytes.
  for (std::size_t lead = 120; lead <= 122; ++lead) {
    const std::string prefix(lead, 'a');
    EXPECT_EQ(reason_of(close_frame(1000, prefix + "\xF0\x9F\x98\x80")), prefix) << lead;
  }
  const std::string a119(119, 'a');
  EXPECT_EQ(reason_of(close_frame(1000, a119 + "\xF0\x9F\x98\x80" + "z")),
            a119 + "\xF0\x9F\x98\x80");
}

TEST(ControlFrame, CarriesThePayload) {
  EXPECT_EQ(control_frame(Opcode::ping, "abc"),
            "\x89\x03"
            "abc"s);
  EXPECT_EQ(control_frame(Opcode::pong, ""), "\x8A\x00"s);
  const std::string p125(125, 'p');
  EXPECT_EQ(control_frame(Opcode::pong, p125), "\x8A\x7D"s + p125);
}

TEST(ControlFrame, ClipsThePayloadTo125Bytes) {
  std::string payload(200, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i);
  const std::string frame = control_frame(Opcode::ping, payload);
  EXPECT_EQ(frame, "\x89\x7D"s + payload.substr(0, 125));
}

// --- Unmasking -------------------------------------------------------------------------

std::uint32_t key_word(const Key& key) {
  std::uint32_t w;
  std::memcpy(&w, key.data(), 4);
  return w;
}

TEST(Unmask, MatchesAByteByByteReferenceMovingTowardsTheFront) {
  const Key key = {0xA1, 0xB2, 0xC3, 0xD4};
  std::mt19937_64 rng(7);
  for (std::size_t length = 0; length <= 64; ++length) {
    for (std::size_t phase = 0; phase < 4; ++phase) {
      const std::uint32_t mask = detail::advance_mask(key_word(key), phase);
      for (std::size_t offset = 0; offset <= 16; ++offset) {
        const std::string original = random_bytes(rng, 64 + 16 + 8);
        std::string buf = original;
        auto* p = reinterpret_cast<std::uint8_t*>(buf.data());
        detail::unmask(p, p + offset, length, mask);
        std::string expected = original;
        for (std::size_t i = 0; i < length; ++i) {
          expected[i] = static_cast<char>(original[offset + i] ^ key[(phase + i) % 4]);
        }
        ASSERT_EQ(buf, expected) << "length " << length << " phase " << phase << " offset "
                                 << offset;
      }
    }
  }
}

TEST(Unmask, MatchesTheReferenceIntoAnotherBuffer) {
  const Key key = {0x01, 0x80, 0xFF, 0x5A};
  std::mt19937_64 rng(8);
  for (std::size_t length = 0; length <= 200; ++length) {
    for (std::size_t phase = 0; phase < 4; ++phase) {
      const std::string src = random_bytes(rng, length);
      std::string dst(length + 8, '\x11');
      detail::unmask(reinterpret_cast<std::uint8_t*>(dst.data()),
                     reinterpret_cast<const std::uint8_t*>(src.data()), length,
                     detail::advance_mask(key_word(key), phase));
      for (std::size_t i = 0; i < length; ++i) {
        ASSERT_EQ(static_cast<std::uint8_t>(dst[i]),
                  static_cast<std::uint8_t>(src[i] ^ key[(phase + i) % 4]))
            << length << " " << phase << " " << i;
      }
      EXPECT_EQ(dst.substr(length), std::string(8, '\x11'));
    }
  }
}

TEST(Unmask, AdvancingTheKeyComposes) {
  const std::uint32_t m = key_word({1, 2, 3, 4});
  EXPECT_EQ(detail::advance_mask(m, 0), m);
  EXPECT_EQ(detail::advance_mask(m, 4), m);
  EXPECT_EQ(detail::advance_mask(m, 1), key_word({2, 3, 4, 1}));
  EXPECT_EQ(detail::advance_mask(m, 2), key_word({3, 4, 1, 2}));
  EXPECT_EQ(detail::advance_mask(m, 7), key_word({4, 1, 2, 3}));
  EXPECT_EQ(detail::advance_mask(m, (std::uint64_t{1} << 40) + 1), key_word({2, 3, 4, 1}));
}

// --- Decoding --------------------------------------------------------------------------

TEST(Decoder, IsSmall) {
  // It lives in every idle session.
  EXPECT_LE(sizeof(Decoder), 64 + sizeof(std::string));
}

TEST(Decoder, DecodesOneMaskedBinaryFrame) {
  Decoder d;
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::binary), "hello")), "hello");
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.error_code(), 0);
  EXPECT_EQ(d.error_reason(), "");
  EXPECT_FALSE(d.take_ping());
  EXPECT_FALSE(d.take_pong());
  EXPECT_FALSE(d.close_received());
}

TEST(Decoder, DecodesEmptyFrames) {
  Decoder d;
  const std::string raw =
      client_frame(fin(Opcode::binary), "") + client_frame(fin(Opcode::binary), "x") +
      client_frame(more(Opcode::binary), "") + client_frame(fin(Opcode::continuation), "");
  EXPECT_EQ(feed(d, raw), "x");
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::binary), "y")), "y");
  EXPECT_FALSE(d.failed());
}

TEST(Decoder, DecodesEachLengthEncoding) {
  std::mt19937_64 rng(1);
  for (const std::size_t size : {0, 1, 125, 126, 127, 1000, 65535, 65536, 70000}) {
    const std::string payload = random_bytes(rng, size);
    const std::string raw = client_frame(fin(Opcode::binary), payload);
    const std::size_t length_field = static_cast<std::uint8_t>(raw[1]) & 0x7F;
    EXPECT_EQ(length_field, size < 126 ? size : size <= 0xFFFF ? 126 : 127);
    Decoder d;
    EXPECT_EQ(feed(d, raw + raw), payload + payload) << size;
    Decoder pieces;
    EXPECT_EQ(feed_in_pieces(pieces, raw + raw, 7), payload + payload) << size;
    EXPECT_FALSE(d.failed());
  }
}

TEST(Decoder, DecodesAFragmentedMessageWithAPingBetweenFragments) {
  const std::string raw = client_frame(more(Opcode::binary), "ab", {1, 2, 3, 4}) +
                          client_frame(fin(Opcode::ping), "p1", {5, 6, 7, 8}) +
                          client_frame(more(Opcode::continuation), "cd", {9, 10, 11, 12}) +
                          client_frame(more(Opcode::continuation), "efg") +
                          client_frame(fin(Opcode::continuation), "hi") +
                          client_frame(fin(Opcode::binary), "next");
  Decoder d;
  EXPECT_EQ(feed(d, raw), "abcdefghinext");
  EXPECT_EQ(d.take_ping(), "p1");
  EXPECT_FALSE(d.failed());

  for (std::size_t chunk = 1; chunk <= 16; ++chunk) {
    Decoder pieces;
    std::string out;
    std::vector<std::string> pings;
    for (std::size_t at = 0; at < raw.size(); at += chunk) {
      out += feed(pieces, std::string_view(raw).substr(at, chunk));
      if (auto ping = pieces.take_ping()) pings.push_back(*ping);
    }
    EXPECT_EQ(out, "abcdefghinext") << chunk;
    EXPECT_EQ(pings, std::vector<std::string>{"p1"}) << chunk;
    EXPECT_FALSE(pieces.failed());
  }
}

TEST(Decoder, AMessageUpToTheLimitPasses) {
  Decoder d;
  d.limit_message_size(10);
  const std::string raw = client_frame(more(Opcode::binary), "abcd") +
                          client_frame(fin(Opcode::continuation), "efghij") +
                          client_frame(fin(Opcode::binary), "0123456789");
  EXPECT_EQ(feed(d, raw), "abcdefghij0123456789");
  EXPECT_FALSE(d.failed());
}

TEST(Decoder, AFrameOverTheLimitFailsWith1009AtItsHeader) {
  Decoder d;
  d.limit_message_size(10);
  const std::string raw =
      client_frame(fin(Opcode::binary), "ok") + client_frame(fin(Opcode::binary), "0123456789A");
  EXPECT_EQ(feed(d, raw), "ok");
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.error_code(), 1009);
  EXPECT_EQ(d.error_reason(), "message too big");
}

TEST(Decoder, FragmentsOverTheLimitTogetherFailWith1009) {
  for (std::size_t chunk : {1, 3, 64}) {
    Decoder d;
    d.limit_message_size(10);
    const std::string raw = client_frame(more(Opcode::binary), "abcdef") +
                            client_frame(fin(Opcode::ping), "p") +
                            client_frame(fin(Opcode::continuation), "ghijk");
    // The first fragment's payload came before the header that went over.
    EXPECT_EQ(feed_in_pieces(d, raw, chunk), "abcdef") << chunk;
    EXPECT_EQ(d.error_code(), 1009) << chunk;
  }
}

TEST(Decoder, AHugeLengthIsRefusedBeforeAnyPayload) {
  Decoder d;
  d.limit_message_size(4 * 1024 * 1024);
  EXPECT_EQ(feed(d, client_header(fin(Opcode::binary), std::uint64_t{1} << 40)), "");
  EXPECT_EQ(d.error_code(), 1009);
}

TEST(Decoder, GivesAPingOnce) {
  Decoder d;
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::ping), "are you there")), "");
  EXPECT_EQ(d.take_ping(), "are you there");
  EXPECT_EQ(d.take_ping(), std::nullopt);
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::ping), "")), "");
  EXPECT_EQ(d.take_ping(), "");
  EXPECT_EQ(d.take_ping(), std::nullopt);
  const std::string p125(125, 'q');
  feed(d, client_frame(fin(Opcode::ping), p125));
  EXPECT_EQ(d.take_ping(), p125);
}

TEST(Decoder, KeepsOnlyTheNewestPing) {
  Decoder d;
  feed(d, client_frame(fin(Opcode::ping), "first, rather long ping payload") +
              client_frame(fin(Opcode::ping), "second"));
  EXPECT_EQ(d.take_ping(), "second");
  EXPECT_EQ(d.take_ping(), std::nullopt);

  feed(d, client_frame(fin(Opcode::ping), "third"));
  feed(d, client_frame(fin(Opcode::ping), "fourth, a payload too long to be stored inline"));
  EXPECT_EQ(d.take_ping(), "fourth, a payload too long to be stored inline");
  EXPECT_EQ(d.take_ping(), std::nullopt);
}

TEST(Decoder, APongInBetweenKeepsThePendingPing) {
  Decoder d;
  const std::string raw = client_frame(fin(Opcode::ping), "ping payload") +
                          client_frame(fin(Opcode::pong), "pong payload, longer than 15");
  EXPECT_EQ(feed_in_pieces(d, raw, 3), "");
  EXPECT_TRUE(d.take_pong());
  EXPECT_EQ(d.take_ping(), "ping payload");
}

TEST(Decoder, NotesAPong) {
  Decoder d;
  EXPECT_FALSE(d.take_pong());
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::pong), "keepalive") +
                        client_frame(fin(Opcode::binary), "data")),
            "data");
  EXPECT_TRUE(d.take_pong());
  EXPECT_FALSE(d.take_pong());
  EXPECT_EQ(d.take_ping(), std::nullopt);
  feed(d, client_frame(fin(Opcode::pong), ""));
  EXPECT_TRUE(d.take_pong());
  EXPECT_FALSE(d.take_pong());
}

TEST(Decoder, ReceivesACloseWithCodeAndReason) {
  Decoder d;
  const std::string raw = client_frame(fin(Opcode::binary), "before") +
                          client_frame(fin(Opcode::close), close_payload(1001, "going away")) +
                          client_frame(fin(Opcode::binary), "after");
  EXPECT_EQ(feed(d, raw), "before");
  EXPECT_TRUE(d.close_received());
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.close_code(), 1001);
  EXPECT_EQ(d.close_reason(), "going away");
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::binary), "later")), "");
  EXPECT_EQ(feed(d, "\xFF\xFF\xFF"), "");
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.close_code(), 1001);
}

TEST(Decoder, ReceivesACloseWithoutPayload) {
  Decoder d;
  EXPECT_FALSE(d.close_received());
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::close), "")), "");
  EXPECT_TRUE(d.close_received());
  EXPECT_EQ(d.close_code(), 1005);
  EXPECT_EQ(d.close_reason(), "");
  EXPECT_EQ(feed(d, client_frame(fin(Opcode::binary), "x")), "");
}

TEST(Decoder, ReceivesACloseInPiecesWithAPingPending) {
  const std::string reason = "a reason of more than fifteen bytes, \xC3\xA9t\xC3\xA9";
  const std::string raw = client_frame(fin(Opcode::ping), "the ping") +
                          client_frame(fin(Opcode::close), close_payload(4000, reason));
  for (std::size_t chunk = 1; chunk <= 16; ++chunk) {
    Decoder d;
    EXPECT_EQ(feed_in_pieces(d, raw, chunk), "");
    ASSERT_TRUE(d.close_received()) << chunk;
    EXPECT_EQ(d.close_code(), 4000);
    EXPECT_EQ(d.close_reason(), reason);
    EXPECT_EQ(d.take_ping(), "the ping");
    EXPECT_EQ(d.close_reason(), reason);
  }
}

TEST(Decoder, AcceptsEveryValidCloseCode) {
  for (const std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1010, 1014, 3000, 4000, 4999}) {
    Decoder d;
    feed(d, client_frame(fin(Opcode::close), close_payload(code)));
    EXPECT_TRUE(d.close_received()) << code;
    EXPECT_FALSE(d.failed()) << code;
    EXPECT_EQ(d.close_code(), code);
  }
}

struct ErrorCase {
  const char* name;
  std::string raw;
  std::uint16_t code;
  std::string_view reason;
  std::string_view data = "";  // from the valid frames before the bad one
};

std::vector<ErrorCase> error_cases() {
  const std::string a_fragment = client_frame(more(Opcode::binary), "ab");
  const auto bad_close = [](std::string payload) {
    return client_frame(fin(Opcode::close), payload);
  };
  std::vector<ErrorCase> cases = {
      {"rsv1", client_frame(0x82 | 0x40, "x"), 1002, "reserved bits set"},
      {"rsv2", client_frame(0x82 | 0x20, "x"), 1002, "reserved bits set"},
      {"rsv3", client_frame(0x82 | 0x10, "x"), 1002, "reserved bits set"},
      {"rsv on ping", client_frame(0x89 | 0x40, ""), 1002, "reserved bits set"},
      {"unmasked", client_frame(fin(Opcode::binary), "hello", default_key, -1, false), 1002,
       "unmasked client frame"},
      {"unmasked ping", client_frame(fin(Opcode::ping), "", default_key, -1, false), 1002,
       "unmasked client frame"},
      {"bad control: ping without fin", client_frame(more(Opcode::ping), "p"), 1002,
       "bad control frame"},
      {"bad control: close without fin", client_frame(more(Opcode::close), ""), 1002,
       "bad control frame"},
      {"bad control: 126-byte ping", client_frame(fin(Opcode::ping), std::string(126, 'p')), 1002,
       "bad control frame"},
      {"bad control: 16-bit length", client_frame(fin(Opcode::pong), "x", default_key, 2), 1002,
       "bad control frame"},
      {"unexpected continuation", client_frame(fin(Opcode::continuation), "x"), 1002,
       "unexpected continuation frame"},
      {"unexpected continuation, more", client_frame(more(Opcode::continuation), "x"), 1002,
       "unexpected continuation frame"},
      {"unexpected continuation after message",
       client_frame(more(Opcode::binary), "a") + client_frame(fin(Opcode::continuation), "b") +
           client_frame(fin(Opcode::continuation), "c"),
       1002, "unexpected continuation frame", "ab"},
      {"binary in a fragmented message", a_fragment + client_frame(fin(Opcode::binary), "x"), 1002,
       "expected continuation frame", "ab"},
      {"text in a fragmented message", a_fragment + client_frame(fin(Opcode::text), "x"), 1002,
       "expected continuation frame", "ab"},
      {"16-bit length below 126", client_frame(fin(Opcode::binary), "short", default_key, 2), 1002,
       "bad frame length"},
      {"16-bit length 125",
       client_frame(fin(Opcode::binary), std::string(125, 'x'), default_key, 2), 1002,
       "bad frame length"},
      {"64-bit length below 65536",
       client_frame(fin(Opcode::binary), std::string(300, 'x'), default_key, 8), 1002,
       "bad frame length"},
      {"64-bit length 65535",
       client_frame(fin(Opcode::binary), std::string(65535, 'x'), default_key, 8), 1002,
       "bad frame length"},
      {"64-bit length with the top bit",
       client_header(fin(Opcode::binary), std::uint64_t{1} << 63) + "xxxx", 1002,
       "bad frame length"},
      {"text", client_frame(fin(Opcode::text), "hello"), 1003, "text frames not supported"},
      {"fragmented text", client_frame(more(Opcode::text), "hel"), 1003,
       "text frames not supported"},
      {"close with 1 byte", bad_close("\x03"), 1002, "bad close frame"},
      {"invalid UTF-8 reason", bad_close(close_payload(1000, "\xFF")), 1007,
       "close reason not UTF-8"},
      {"overlong UTF-8 reason", bad_close(close_payload(1000, "ok \xC0\x80")), 1007,
       "close reason not UTF-8"},
      {"surrogate in reason", bad_close(close_payload(1000, "\xED\xA0\x80")), 1007,
       "close reason not UTF-8"},
      {"truncated UTF-8 reason", bad_close(close_payload(1000, "euro \xE2\x82")), 1007,
       "close reason not UTF-8"},
      {"above U+10FFFF in reason", bad_close(close_payload(1000, "\xF4\x90\x80\x80")), 1007,
       "close reason not UTF-8"},
      {"stray continuation byte in reason", bad_close(close_payload(1000, "a\x80")), 1007,
       "close reason not UTF-8"},
  };
  for (const std::uint8_t opcode : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    cases.push_back({"unknown opcode", client_frame(static_cast<std::uint8_t>(0x80 | opcode), ""),
                     1002, "unknown opcode"});
  }
  for (const std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    cases.push_back(
        {"invalid close code", bad_close(close_payload(code)), 1002, "bad close frame"});
  }
  return cases;
}

TEST(Decoder, FailsOnEachProtocolError) {
  for (const auto& c : error_cases()) {
    for (const std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
      SCOPED_TRACE(std::string(c.name) + ", chunk " + std::to_string(chunk));
      Decoder d;
      // Data decoded before the error is still returned.
      const std::string raw = client_frame(fin(Opcode::binary), "ok") + c.raw;
      const std::string out = chunk == 0 ? feed(d, raw) : feed_in_pieces(d, raw, chunk);
      EXPECT_EQ(out, "ok" + std::string(c.data));
      EXPECT_TRUE(d.failed());
      EXPECT_EQ(d.error_code(), c.code);
      EXPECT_EQ(d.error_reason(), c.reason);
      EXPECT_FALSE(d.close_received());
      // Then nothing more.
      EXPECT_EQ(feed(d, client_frame(fin(Opcode::binary), "more")), "");
      EXPECT_EQ(feed(d, client_frame(fin(Opcode::close), "")), "");
      EXPECT_FALSE(d.close_received());
      EXPECT_EQ(d.error_code(), c.code);
    }
  }
}

TEST(Decoder, FailsAsSoonAsTheFirstTwoBytesTell) {
  Decoder d;
  const std::string raw = client_frame(fin(Opcode::binary), "hello", default_key, -1, false);
  EXPECT_EQ(feed(d, raw.substr(0, 1)), "");
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(feed(d, raw.substr(1, 1)), "");
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.error_reason(), "unmasked client frame");
}

// --- Randomized streams ----------------------------------------------------------------

// What a client sent, and where in those bytes the decoder's results lie.
struct ClientStream {
  struct Range {
    std::size_t begin;  // in bytes
    std::size_t size;
  };
  struct Control {
    std::size_t end;  // in bytes, just after the frame
    std::string payload;
  };
  std::string bytes;
  std::string data;
  std::vector<Range> data_ranges;
  std::vector<Control> pings;
  std::vector<Control> pongs;
  std::optional<std::size_t> close_end;
};

std::size_t random_size(std::mt19937_64& rng) {
  static constexpr std::size_t edges[] = {0, 1,   2,   3,   4,     7,     8,
                                          9, 125, 126, 127, 65535, 65536, 65537};
  switch (rng() % 10) {
    case 0:
    case 1:
    case 2:
      return edges[rng() % std::size(edges)];
    case 3:
    case 4:
    case 5:
      return rng() % 301;
    case 6:
    case 7:
      return rng() % 5001;
    default:
      return rng() % 200001;
  }
}

Key random_key(std::mt19937_64& rng) {
  const std::uint64_t r = rng();
  if (r % 16 == 0) return {0, 0, 0, 0};
  return {static_cast<std::uint8_t>(r >> 8), static_cast<std::uint8_t>(r >> 16),
          static_cast<std::uint8_t>(r >> 24), static_cast<std::uint8_t>(r >> 32)};
}

void add_frame(ClientStream& s, std::mt19937_64& rng, std::uint8_t b0, std::string_view payload) {
  const std::string f = client_frame(b0, payload, random_key(rng));
  const std::size_t begin = s.bytes.size() + (f.size() - payload.size());
  s.bytes += f;
  if ((b0 & 0x0F) < 0x8 && !payload.empty()) {
    s.data_ranges.push_back({begin, payload.size()});
    s.data += payload;
  }
}

void maybe_add_controls(ClientStream& s, std::mt19937_64& rng) {
  while (rng() % 5 == 0) {
    const std::string payload = random_bytes(rng, rng() % 126);
    const bool ping = rng() % 3 != 0;
    add_frame(s, rng, fin(ping ? Opcode::ping : Opcode::pong), payload);
    (ping ? s.pings : s.pongs).push_back({s.bytes.size(), payload});
  }
}

ClientStream random_stream(std::mt19937_64& rng) {
  ClientStream s;
  const std::size_t messages = 1 + rng() % 10;
  for (std::size_t m = 0; m < messages; ++m) {
    const std::size_t frames = rng() % 2 == 0 ? 1 : 1 + rng() % 5;
    for (std::size_t f = 0; f < frames; ++f) {
      maybe_add_controls(s, rng);
      const bool last = f + 1 == frames;
      const Opcode op = f == 0 ? Opcode::binary : Opcode::continuation;
      add_frame(s, rng, last ? fin(op) : more(op), random_bytes(rng, random_size(rng)));
    }
  }
  maybe_add_controls(s, rng);
  if (rng() % 3 == 0) {
    add_frame(s, rng, fin(Opcode::close), close_payload(1000, "done"));
    s.close_end = s.bytes.size();
    // Whatever follows the close frame is ignored.
    s.bytes +=
        client_frame(fin(Opcode::binary), "ignored") + client_frame(fin(Opcode::ping), "ignored");
  }
  return s;
}

// How many data bytes lie in s.bytes[0, end).
std::size_t data_before(const ClientStream& s, std::size_t end) {
  std::size_t n = 0;
  for (const auto& r : s.data_ranges) {
    if (r.begin >= end) break;
    n += std::min(r.size, end - r.begin);
  }
  return n;
}

// The last of `controls` that ends in (from, to].
const ClientStream::Control* last_ending_in(const std::vector<ClientStream::Control>& controls,
                                            std::size_t from, std::size_t to) {
  const ClientStream::Control* found = nullptr;
  for (const auto& c : controls) {
    if (c.end > from && c.end <= to) found = &c;
  }
  return found;
}

std::size_t random_chunk(std::mt19937_64& rng, int mode) {
  if (mode == 3) mode = static_cast<int>(rng() % 3);
  switch (mode) {
    case 0:
      return 1 + rng() % 16;
    case 1:
      return 1 + rng() % 4096;
    default:
      return 1 + rng() % (300 * 1024);
  }
}

TEST(Decoder, DecodesRandomStreamsSplitAtRandomPoints) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const ClientStream s = random_stream(rng);
    const int mode = static_cast<int>(seed % 4);

    Decoder d;
    std::string out;
    std::vector<std::uint8_t> buf;
    std::size_t at = 0;
    while (at < s.bytes.size()) {
      const std::size_t n = std::min(random_chunk(rng, mode), s.bytes.size() - at);
      buf.assign(s.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                 s.bytes.begin() + static_cast<std::ptrdiff_t>(at + n));
      const std::size_t got = d.decode(buf.data(), n);
      const std::size_t from = at;
      at += n;
      const std::size_t seen = s.close_end ? std::min(at, *s.close_end) : at;

      // Every data byte that has arrived comes out at once, and right.
      ASSERT_EQ(out.size() + got, data_before(s, seen)) << "at " << at;
      ASSERT_EQ(std::memcmp(buf.data(), s.data.data() + out.size(), got), 0) << "at " << at;
      out.append(reinterpret_cast<const char*>(buf.data()), got);

      // The newest ping completed by this piece, if any; whether a pong was.
      const auto* ping = last_ending_in(s.pings, from, seen);
      const auto taken = d.take_ping();
      ASSERT_EQ(taken.has_value(), ping != nullptr) << "at " << at;
      if (ping) {
        ASSERT_EQ(*taken, ping->payload) << "at " << at;
      }
      ASSERT_EQ(d.take_pong(), last_ending_in(s.pongs, from, seen) != nullptr) << "at " << at;

      ASSERT_FALSE(d.failed()) << d.error_reason();
      ASSERT_EQ(d.close_received(), s.close_end && at >= *s.close_end) << "at " << at;
    }
    EXPECT_EQ(out, s.data);
    if (s.close_end) {
      EXPECT_EQ(d.close_code(), 1000);
      EXPECT_EQ(d.close_reason(), "done");
    }
  }
}

TEST(Decoder, DecodesAStreamInEveryFixedChunkSize) {
  std::mt19937_64 rng(42);
  ClientStream s;
  for (const std::size_t size : {0, 1, 5, 125, 126, 127, 300, 65535, 65536, 4, 3, 2}) {
    const std::string ping = random_bytes(rng, size % 126);
    add_frame(s, rng, fin(Opcode::ping), ping);
    s.pings.push_back({s.bytes.size(), ping});
    add_frame(s, rng, more(Opcode::binary), random_bytes(rng, size));
    add_frame(s, rng, fin(Opcode::continuation), random_bytes(rng, (size * 7) % 131));
  }
  for (std::size_t chunk = 1; chunk <= 16; ++chunk) {
    Decoder d;
    std::string out;
    std::vector<std::string> pings;
    for (std::size_t at = 0; at < s.bytes.size(); at += chunk) {
      out += feed(d, std::string_view(s.bytes).substr(at, chunk));
      if (auto ping = d.take_ping()) pings.push_back(*ping);
    }
    EXPECT_EQ(out, s.data) << chunk;
    EXPECT_FALSE(d.failed()) << chunk;
    // Pings completed by the same piece collapse into the newest; the last is always seen.
    ASSERT_FALSE(pings.empty());
    EXPECT_EQ(pings.back(), s.pings.back().payload) << chunk;
    auto next = s.pings.begin();
    for (const auto& p : pings) {
      next = std::find_if(next, s.pings.end(), [&](const auto& c) { return c.payload == p; });
      ASSERT_NE(next, s.pings.end()) << chunk;
      ++next;
    }
  }
}

}  // namespace
}  // namespace cgw::websocket
