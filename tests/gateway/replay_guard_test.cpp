// ReplayGuard: a one-time token's ID opens once, until it expires; SPICE's
// further channels get a grace period from the same client; memory stays
// bounded by the tokens still alive.
#include "gateway/replay_guard.hpp"

#include <gtest/gtest.h>

namespace cgw::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = ReplayGuard::Clock;

const Clock::time_point t0 = Clock::time_point(std::chrono::seconds(1'800'000'000));

TEST(ReplayGuard, AnIdOpensOnceUntilItExpires) {
  ReplayGuard guard;
  EXPECT_FALSE(guard.refuses("a", "c1", false, t0));
  EXPECT_TRUE(guard.admit("a", t0 + 60s, "c1", false, t0));
  EXPECT_TRUE(guard.refuses("a", "c1", false, t0 + 1s));
  EXPECT_FALSE(guard.admit("a", t0 + 60s, "c1", false, t0 + 1s));
  EXPECT_FALSE(guard.admit("a", t0 + 60s, "c2", false, t0 + 59s));
  EXPECT_TRUE(guard.admit("b", t0 + 60s, "c1", false, t0 + 1s));
  // Once the first expired, the ID may stand for a new token.
  EXPECT_TRUE(guard.admit("a", t0 + 200s, "c1", false, t0 + 61s));
  EXPECT_FALSE(guard.admit("a", t0 + 200s, "c1", false, t0 + 62s));
}

TEST(ReplayGuard, GraceOnlyFromTheSameClientAndOnlyForAWhile) {
  ReplayGuard guard(30s);
  ASSERT_TRUE(guard.admit("s", t0 + 600s, "10.0.0.5", true, t0));
  EXPECT_TRUE(guard.admit("s", t0 + 600s, "10.0.0.5", true, t0 + 2s));
  EXPECT_FALSE(guard.refuses("s", "10.0.0.5", true, t0 + 30s));
  EXPECT_FALSE(guard.admit("s", t0 + 600s, "10.0.0.6", true, t0 + 3s));
  EXPECT_FALSE(guard.admit("s", t0 + 600s, "10.0.0.5", false, t0 + 3s));
  EXPECT_FALSE(guard.admit("s", t0 + 600s, "10.0.0.5", true, t0 + 31s));
}

TEST(ReplayGuard, RefusesRemembersNothing) {
  ReplayGuard guard;
  EXPECT_FALSE(guard.refuses("x", "c", false, t0));
  EXPECT_EQ(guard.remembered(), 0u);
}

TEST(ReplayGuard, ExpiredIdsAreSweptAway) {
  ReplayGuard guard;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(guard.admit("old" + std::to_string(i), t0 + 10s, "c", false, t0));
  }
  EXPECT_EQ(guard.remembered(), 1000u);
  // Later inserts sweep what expired; only the live ones stay.
  for (int i = 0; i < 1100; ++i) {
    ASSERT_TRUE(guard.admit("new" + std::to_string(i), t0 + 100s, "c", false, t0 + 20s));
  }
  EXPECT_LT(guard.remembered(), 1100u + 1000u);
  EXPECT_GE(guard.remembered(), 1100u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(guard.refuses("old" + std::to_string(i), "c", false, t0 + 20s));
  }
}

}  // namespace
}  // namespace cgw::gateway
