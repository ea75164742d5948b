// The ticker's lists, through a member of the test's own that records its
// ticks: the tick period, joining and leaving, members leaving or destroyed
// while their list is being ticked, one list per io_context and per period,
// and a list's ticking coroutine ending (so run() returns) once it is empty,
// and starting again for a new member.
//
// Timing assertions use only what timers guarantee (they never fire early) or
// generous deadlines for events; no sleep bounds a count from both sides.
#include "stream/ticker.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace cgw {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Records when it was ticked (into a log that may outlive it) and runs an
// optional hook (held outside it too, so that the hook may destroy it).
class TickRecorder final : public stream::TickerMember {
 public:
  explicit TickRecorder(std::vector<Clock::time_point>& log,
                        const std::function<void()>* hook = nullptr)
      : log_(log), hook_(hook) {}
  ~TickRecorder() override = default;

  void join(net::io_context& ioc, std::chrono::milliseconds period) {
    TickerMember::join(ioc.get_executor(), period);
  }

  void on_tick() override {
    log_.push_back(Clock::now());
    if (hook_ && *hook_) (*hook_)();  // may destroy *this: touch nothing after
  }

 private:
  std::vector<Clock::time_point>& log_;
  const std::function<void()>* hook_;
};

// Runs `ioc` until `done()` holds; false if `limit` passed first or the
// io_context ran out of work.
template <class Pred>
bool run_until(net::io_context& ioc, Pred done, Clock::duration limit = 10s) {
  const auto deadline = Clock::now() + limit;
  ioc.restart();
  while (!done()) {
    if (ioc.run_one_until(deadline) == 0) return done();
  }
  return true;
}

using Log = std::vector<Clock::time_point>;

// The smallest gap between the ticks in `log`, the first counted from `joined`.
Clock::duration smallest_gap(Clock::time_point joined, const Log& log) {
  Clock::duration smallest = log.at(0) - joined;
  for (std::size_t i = 1; i < log.size(); ++i) smallest = std::min(smallest, log[i] - log[i - 1]);
  return smallest;
}

TEST(Ticker, TicksEveryPeriod) {
  net::io_context ioc;
  Log log;
  TickRecorder member(log);
  const auto joined = Clock::now();
  member.join(ioc, 50ms);
  ASSERT_TRUE(run_until(ioc, [&] { return log.size() >= 6; }));
  // The timer is set again after each round, so every gap is at least the period.
  EXPECT_GE(smallest_gap(joined, log), 50ms);
  EXPECT_TRUE(member.is_member());
}

TEST(Ticker, AZeroPeriodNeverJoins) {
  net::io_context ioc;
  Log log;
  TickRecorder member(log);
  member.join(ioc, 0ms);
  EXPECT_FALSE(member.is_member());
  EXPECT_EQ(ioc.run_for(5s), 0u) << "nothing should be running";
  EXPECT_TRUE(log.empty());
}

TEST(Ticker, MembersJoinAndLeave) {
  net::io_context ioc;
  Log a_log;
  Log b_log;
  TickRecorder a(a_log);
  TickRecorder b(b_log);
  a.join(ioc, 20ms);
  a.join(ioc, 20ms);  // already a member: still one tick per round
  b.join(ioc, 20ms);
  ASSERT_TRUE(run_until(ioc, [&] { return b_log.size() >= 3; }));
  // A whole round runs in one handler, so between handlers both have had it.
  EXPECT_EQ(a_log.size(), b_log.size());

  a.leave();
  EXPECT_FALSE(a.is_member());
  a.leave();  // not a member: nothing happens
  const std::size_t a_ticks = a_log.size();
  const std::size_t b_ticks = b_log.size();
  ASSERT_TRUE(run_until(ioc, [&] { return b_log.size() >= b_ticks + 3; }));
  EXPECT_EQ(a_log.size(), a_ticks) << "ticked after leaving";

  a.join(ioc, 20ms);  // the list still ticks (b is in it): a joins it again
  ASSERT_TRUE(run_until(ioc, [&] { return a_log.size() >= a_ticks + 2; }));
}

TEST(Ticker, AMemberDestroyedDuringARoundIsNotTickedAgain) {
  net::io_context ioc;
  Log a_log;
  Log b_log;
  Log c_log;
  Log d_log;
  std::unique_ptr<TickRecorder> b;
  std::size_t b_ticks_when_destroyed = 0;
  // The first tick of `a` destroys `b`. Members join at the front of the list,
  // so a round goes a, b, c, d: `b` is the member the round would tick next.
  const std::function<void()> destroy_b = [&] {
    if (!b) return;
    b_ticks_when_destroyed = b_log.size();
    b.reset();
  };
  auto d = std::make_unique<TickRecorder>(d_log);
  auto c = std::make_unique<TickRecorder>(c_log);
  b = std::make_unique<TickRecorder>(b_log);
  auto a = std::make_unique<TickRecorder>(a_log, &destroy_b);
  d->join(ioc, 20ms);
  c->join(ioc, 20ms);
  b->join(ioc, 20ms);
  a->join(ioc, 20ms);
  ASSERT_TRUE(run_until(ioc, [&] { return c_log.size() >= 3 && d_log.size() >= 3; }));
  EXPECT_FALSE(b);
  EXPECT_EQ(b_log.size(), b_ticks_when_destroyed);
  EXPECT_EQ(b_log.size(), 0u) << "the round went on to the destroyed member";
  EXPECT_EQ(a_log.size(), c_log.size());
  EXPECT_EQ(c_log.size(), d_log.size()) << "the round stopped short";
}

TEST(Ticker, AMemberMayDestroyItselfWhenTicked) {
  net::io_context ioc;
  Log a_log;
  Log b_log;
  Log c_log;
  std::unique_ptr<TickRecorder> b;
  const std::function<void()> destroy_self = [&] { b.reset(); };
  TickRecorder c(c_log);
  b = std::make_unique<TickRecorder>(b_log, &destroy_self);
  TickRecorder a(a_log);
  c.join(ioc, 20ms);
  b->join(ioc, 20ms);
  a.join(ioc, 20ms);
  ASSERT_TRUE(run_until(ioc, [&] { return c_log.size() >= 3; }));
  EXPECT_EQ(b_log.size(), 1u);
  EXPECT_EQ(a_log.size(), c_log.size());
}

TEST(Ticker, StopsTickingWhenTheListIsEmptyAndStartsAgain) {
  net::io_context ioc;
  Log log;
  auto member = std::make_unique<TickRecorder>(log);
  member->join(ioc, 20ms);
  ASSERT_TRUE(run_until(ioc, [&] { return log.size() >= 2; }));
  member.reset();  // the list is empty now
  const std::size_t ticks = log.size();

  // Nothing else is pending: run() returns once the timer's last wait ends,
  // rather than at the limit.
  ioc.restart();
  const auto started = Clock::now();
  ioc.run_for(10s);
  EXPECT_TRUE(ioc.stopped());
  EXPECT_LT(Clock::now() - started, 5s) << "the ticking went on with no members";
  EXPECT_EQ(log.size(), ticks);

  // The list ticks again for a new member.
  TickRecorder again(log);
  again.join(ioc, 20ms);
  ASSERT_TRUE(run_until(ioc, [&] { return log.size() >= ticks + 2; }));
}

TEST(Ticker, ALastMemberLeavingWhenTickedEndsTheTicking) {
  net::io_context ioc;
  Log log;
  std::unique_ptr<TickRecorder> member;
  const std::function<void()> leave_on_second = [&] {
    if (log.size() == 2) member->leave();
  };
  member = std::make_unique<TickRecorder>(log, &leave_on_second);
  member->join(ioc, 20ms);
  const auto started = Clock::now();
  ioc.run_for(10s);
  EXPECT_TRUE(ioc.stopped());
  EXPECT_LT(Clock::now() - started, 5s) << "the ticking went on with no members";
  EXPECT_EQ(log.size(), 2u);
}

TEST(Ticker, AMemberLeavingDuringARoundLetsTheRoundGoOn) {
  net::io_context ioc;
  Log a_log;
  Log b_log;
  Log c_log;
  TickRecorder* b_ptr = nullptr;
  TickRecorder* c_ptr = nullptr;
  // `a` (ticked first) makes the next member, `b`, leave; `c` leaves when
  // ticked. Neither is ticked again; the round still reaches `d`.
  const std::function<void()> b_leaves = [&] { b_ptr->leave(); };
  const std::function<void()> c_leaves = [&] { c_ptr->leave(); };
  Log d_log;
  TickRecorder d(d_log);
  TickRecorder c(c_log, &c_leaves);
  TickRecorder b(b_log);
  TickRecorder a(a_log, &b_leaves);
  b_ptr = &b;
  c_ptr = &c;
  d.join(ioc, 20ms);
  c.join(ioc, 20ms);
  b.join(ioc, 20ms);
  a.join(ioc, 20ms);
  ASSERT_TRUE(run_until(ioc, [&] { return d_log.size() >= 3; }));
  EXPECT_EQ(b_log.size(), 0u);
  EXPECT_EQ(c_log.size(), 1u);
  EXPECT_EQ(a_log.size(), d_log.size()) << "the round stopped short";
}

TEST(Ticker, TwoPeriodsOnOneIoContextTickApart) {
  net::io_context ioc;
  Log fast_log;
  Log slow_log;
  Log slow_too_log;
  TickRecorder fast(fast_log);
  TickRecorder slow(slow_log);
  const auto joined = Clock::now();
  // The first member to join does not set the period for the others.
  fast.join(ioc, 20ms);
  slow.join(ioc, 200ms);
  ASSERT_TRUE(run_until(ioc, [&] { return slow_log.size() >= 2; }));
  EXPECT_GE(smallest_gap(joined, slow_log), 200ms) << "ticked at the other list's period";
  // Timers never fire early, so only the lower bound is exact; the fast list
  // has had at least as many rounds as fit the time, or nearly.
  EXPECT_GT(fast_log.size(), 2 * slow_log.size());

  // A member joining later joins the running list of its period.
  TickRecorder slow_too(slow_too_log);
  slow_too.join(ioc, 200ms);
  const std::size_t slow_ticks = slow_log.size();
  ASSERT_TRUE(run_until(ioc, [&] { return slow_log.size() >= slow_ticks + 2; }));
  // A whole round runs in one handler: both had each of those two rounds.
  EXPECT_EQ(slow_too_log.size(), 2u);

  // One list emptying stops its ticking only.
  fast.leave();
  const std::size_t fast_ticks = fast_log.size();
  const std::size_t slow_now = slow_log.size();
  ASSERT_TRUE(run_until(ioc, [&] { return slow_log.size() >= slow_now + 1; }));
  EXPECT_EQ(fast_log.size(), fast_ticks);

  // Both lists empty: nothing is left to run.
  slow.leave();
  slow_too.leave();
  ioc.restart();
  const auto started = Clock::now();
  ioc.run_for(10s);
  EXPECT_TRUE(ioc.stopped());
  EXPECT_LT(Clock::now() - started, 5s) << "a list went on ticking with no members";
}

TEST(Ticker, EachIoContextHasItsOwnList) {
  net::io_context first;
  net::io_context second;
  Log first_log;
  Log second_log;
  TickRecorder on_first(first_log);
  TickRecorder on_second(second_log);
  on_first.join(first, 20ms);
  on_second.join(second, 20ms);
  ASSERT_TRUE(run_until(first, [&] { return first_log.size() >= 3; }));
  EXPECT_TRUE(second_log.empty()) << "ticked by another io_context";
  ASSERT_TRUE(run_until(second, [&] { return !second_log.empty(); }));
}

}  // namespace
}  // namespace cgw
