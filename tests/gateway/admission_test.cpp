// The admission tables on their own: counts per key and in total given back by
// their tickets, and the token bucket per address with explicit times.
#include "gateway/admission.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace cgw::gateway {
namespace {

using namespace std::chrono_literals;
using Verdict = CountTable::Verdict;

TEST(CountTable, CountsPerKeyAndInTotalUntilTheTicketsGo) {
  CountTable table;
  Verdict why{};
  {
    CountTable::Ticket a = table.take("10.0.0.1", 3, 2, why);
    EXPECT_TRUE(a);
    EXPECT_EQ(why, Verdict::admitted);
    CountTable::Ticket b = table.take("10.0.0.1", 3, 2, why);
    EXPECT_TRUE(b);
    // The key is full; another key is not.
    EXPECT_FALSE(table.take("10.0.0.1", 3, 2, why));
    EXPECT_EQ(why, Verdict::key_full);
    CountTable::Ticket c = table.take("10.0.0.2", 3, 2, why);
    EXPECT_TRUE(c);
    // The total is full, whatever the key.
    EXPECT_FALSE(table.take("10.0.0.3", 3, 2, why));
    EXPECT_EQ(why, Verdict::total_full);
    EXPECT_EQ(table.total(), 3u);
    EXPECT_EQ(table.count("10.0.0.1"), 2u);
  }
  // Nothing leaks: no count and no key left behind (refused takes included).
  EXPECT_EQ(table.total(), 0u);
  EXPECT_EQ(table.keys(), 0u);
}

TEST(CountTable, ZeroPerKeyMeansOnlyTheTotalCounts) {
  CountTable table;
  Verdict why{};
  std::vector<CountTable::Ticket> held;
  for (int i = 0; i < 5; ++i) held.push_back(table.take("proxy", 5, 0, why));
  for (const auto& t : held) EXPECT_TRUE(t);
  EXPECT_FALSE(table.take("proxy", 5, 0, why));
  EXPECT_EQ(why, Verdict::total_full);
}

TEST(CountTable, ATicketMovesAndIsGivenBackOnce) {
  CountTable table;
  Verdict why{};
  CountTable::Ticket a = table.take("k", 10, 10, why);
  CountTable::Ticket b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): a moved-from ticket is empty
  EXPECT_EQ(table.total(), 1u);
  CountTable::Ticket c = table.take("k", 10, 10, why);
  c = std::move(b);  // c's own slot is given back
  EXPECT_EQ(table.total(), 1u);
  c = CountTable::Ticket();
  EXPECT_EQ(table.total(), 0u);
  EXPECT_EQ(table.keys(), 0u);
}

TEST(CountTable, ThreadsTakingAndGivingBackLeaveNothing) {
  CountTable table;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&table, t] {
      Verdict why{};
      for (int i = 0; i < 10000; ++i) {
        CountTable::Ticket ticket = table.take("k" + std::to_string((t + i) % 3), 100, 50, why);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(table.total(), 0u);
  EXPECT_EQ(table.keys(), 0u);
}

TEST(RateTable, AllowsTheBurstThenTheRate) {
  RateTable rate(2.0, 3.0, 100);
  const auto t0 = RateTable::Clock::time_point{} + 1h;
  EXPECT_TRUE(rate.allow("a", t0));
  EXPECT_TRUE(rate.allow("a", t0));
  EXPECT_TRUE(rate.allow("a", t0));
  EXPECT_FALSE(rate.allow("a", t0));
  // Another address has a bucket of its own.
  EXPECT_TRUE(rate.allow("b", t0));
  // Two per second: one more after half a second, not before.
  EXPECT_FALSE(rate.allow("a", t0 + 400ms));
  EXPECT_TRUE(rate.allow("a", t0 + 500ms));
  EXPECT_FALSE(rate.allow("a", t0 + 500ms));
  // A long pause refills to the burst, no more.
  const auto later = t0 + 1h;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rate.allow("a", later)) << i;
  EXPECT_FALSE(rate.allow("a", later));
}

TEST(RateTable, ZeroRateIsNoLimit) {
  RateTable rate(0.0, 1.0, 100);
  const auto t0 = RateTable::Clock::time_point{} + 1h;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(rate.allow("a", t0));
  EXPECT_EQ(rate.tracked(), 0u);
}

TEST(RateTable, TheTableIsBoundedAndPrunesRefilledBuckets) {
  RateTable rate(10.0, 2.0, 3);
  const auto t0 = RateTable::Clock::time_point{} + 1h;
  for (const char* key : {"a", "b", "c"}) EXPECT_TRUE(rate.allow(key, t0));
  EXPECT_EQ(rate.tracked(), 3u);
  // Full and nothing refilled yet: a new address goes untracked (and through).
  EXPECT_TRUE(rate.allow("d", t0));
  EXPECT_EQ(rate.tracked(), 3u);
  // A second later every bucket is full again: they are pruned for the new one.
  EXPECT_TRUE(rate.allow("e", t0 + 1s));
  EXPECT_EQ(rate.tracked(), 1u);
}

TEST(Admission, HandshakesOfTrustedProxiesCountOnlyInTotal) {
  AdmissionLimits limits;
  limits.max_handshakes = 4;
  limits.max_handshakes_per_peer = 1;
  Admission admission(limits);
  Verdict why{};
  auto a = admission.begin_handshake("10.0.0.1", false, why);
  EXPECT_TRUE(a);
  EXPECT_FALSE(admission.begin_handshake("10.0.0.1", false, why));
  EXPECT_EQ(why, Verdict::key_full);
  auto p1 = admission.begin_handshake("127.0.0.1", true, why);
  auto p2 = admission.begin_handshake("127.0.0.1", true, why);
  auto p3 = admission.begin_handshake("127.0.0.1", true, why);
  EXPECT_TRUE(p1 && p2 && p3);
  EXPECT_FALSE(admission.begin_handshake("127.0.0.1", true, why));
  EXPECT_EQ(why, Verdict::total_full);
  EXPECT_EQ(admission.handshakes(), 4u);
  EXPECT_EQ(admission.open_consoles(), 0u);
}

}  // namespace
}  // namespace cgw::gateway
