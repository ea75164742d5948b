// RedisReplayStore against a real redis-server: a one-time token's ID opens
// once across every store that names the same Redis; SPICE's further channels
// keep their grace period; a Redis that is stopped, silent or refuses the
// password makes one-time tokens unavailable (fail closed), and a Redis that
// comes back serves again.
#include "gateway/redis_replay_store.hpp"

#include "tests/support/closed_port.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/scratch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using Verdict = ReplayAnswer::Verdict;

TEST(RedisUrl, Forms) {
  auto t = parse_redis_url("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 6380);
  EXPECT_EQ(t->db, 2);
  EXPECT_TRUE(t->password.empty());
  EXPECT_EQ(t->where(), "127.0.0.1:6380");

  t = parse_redis_url("redis://:s%40cret@redis.example");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "redis.example");
  EXPECT_EQ(t->port, 6379);
  EXPECT_EQ(t->password, "s@cret");
  EXPECT_EQ(t->where().find("cret"), std::string::npos);

  t = parse_redis_url("redis://gw:pw@[::1]:7000");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->user, "gw");
  EXPECT_EQ(t->password, "pw");
  EXPECT_EQ(t->where(), "[::1]:7000");

  t = parse_redis_url("unix:///run/redis/redis.sock?db=3");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(t->db, 3);

  for (const char* bad :
       {"", "redis://", "redis://:pw@", "http://x", "redis://h:0", "redis://h:99999", "redis://h/x",
        "unix://", "unix://relative", "unix:///s?db=x"}) {
    EXPECT_FALSE(parse_redis_url(bad)) << bad;
  }
}

class RedisStore : public ::testing::Test {
 protected:
  RedisStore() : redis_(scratch_.dir().string()) {}

  RedisStoreOptions options(const std::string& url) const {
    RedisStoreOptions o;
    o.target = parse_redis_url(url).value();
    o.timeout = 500ms;
    o.grace = 30s;
    // Each test's keys are its own, although the server is too.
    o.key_prefix =
        "cgw-test:" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
        ":";
    return o;
  }

  ReplayAnswer check(RedisReplayStore& store, std::string_view jti, std::string_view client,
                     bool grace = false, bool uses_up = true) {
    ReplayUse use;
    use.jti = jti;
    use.expires = std::chrono::system_clock::now() + 60s;
    use.client = client;
    use.allow_grace = grace;
    use.uses_up = uses_up;
    auto result = net::co_spawn(io_, store.check(use), net::use_future);
    io_.restart();
    io_.run();
    return result.get();
  }

  test::Scratch scratch_;
  test::RedisServer redis_;
  net::io_context io_;
};

TEST_F(RedisStore, AnIdOpensOnceAcrossStores) {
  RedisReplayStore one(options(redis_.url()));
  RedisReplayStore other(options(redis_.url()));  // another gateway
  EXPECT_EQ(check(one, "a", "10.0.0.5", false, false).verdict, Verdict::admitted);  // the page
  EXPECT_EQ(check(one, "a", "10.0.0.5").verdict, Verdict::admitted);
  EXPECT_EQ(check(one, "a", "10.0.0.5").verdict, Verdict::already_used);
  EXPECT_EQ(check(other, "a", "10.0.0.5").verdict, Verdict::already_used);
  EXPECT_EQ(check(other, "a", "10.0.0.5", false, false).verdict, Verdict::already_used);
  EXPECT_EQ(check(other, "b", "10.0.0.5").verdict, Verdict::admitted);
}

TEST_F(RedisStore, SpiceGraceFromTheSameClientOnAnyStore) {
  RedisReplayStore one(options(redis_.url()));
  RedisReplayStore other(options(redis_.url()));
  EXPECT_EQ(check(one, "s", "10.0.0.5", true).verdict, Verdict::admitted);    // main channel
  EXPECT_EQ(check(other, "s", "10.0.0.5", true).verdict, Verdict::admitted);  // display, ...
  EXPECT_EQ(check(other, "s", "10.0.0.6", true).verdict, Verdict::already_used);
  EXPECT_EQ(check(one, "s", "10.0.0.5", false).verdict, Verdict::already_used);  // VNC: no grace
}

TEST_F(RedisStore, TheKeyExpiresWithTheToken) {
  RedisReplayStore store(options(redis_.url()));
  ReplayUse use;
  use.jti = "short";
  use.expires = std::chrono::system_clock::now() + 300ms;
  use.client = "c";
  auto first = net::co_spawn(io_, store.check(use), net::use_future);
  io_.run();
  EXPECT_EQ(first.get().verdict, Verdict::admitted);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(check(store, "short", "c").verdict, Verdict::admitted);
}

TEST_F(RedisStore, StoppedRedisFailsClosedAndComesBack) {
  RedisReplayStore store(options(redis_.url()));
  RedisReplayStore quiet(options(redis_.url()));  // not asked while Redis is away
  EXPECT_EQ(check(store, "x1", "c").verdict, Verdict::admitted);
  EXPECT_EQ(check(quiet, "x0", "c").verdict, Verdict::admitted);
  redis_.stop();
  const ReplayAnswer down = check(store, "x2", "c");
  EXPECT_EQ(down.verdict, Verdict::unavailable);
  EXPECT_NE(down.detail.find("redis at 127.0.0.1:" + std::to_string(redis_.port())),
            std::string::npos)
      << down.detail;
  redis_.start();
  std::this_thread::sleep_for(300ms);  // past the pause between connects
  EXPECT_EQ(check(store, "x2", "c").verdict, Verdict::admitted);
  // Used up in the Redis that came back.
  EXPECT_EQ(check(store, "x2", "c").verdict, Verdict::already_used);
  // Its old connection died with the server; the first check after uses a new one.
  EXPECT_EQ(check(quiet, "x3", "c").verdict, Verdict::admitted);
}

TEST_F(RedisStore, OverAUnixSocket) {
  RedisReplayStore local(options("unix://" + redis_.socket_path()));
  RedisReplayStore tcp(options(redis_.url()));
  EXPECT_EQ(check(local, "u", "c").verdict, Verdict::admitted);
  EXPECT_EQ(check(tcp, "u", "c").verdict, Verdict::already_used);
}

TEST_F(RedisStore, NothingListeningIsUnavailable) {
  test::ClosedPort closed;
  RedisReplayStore store(options("redis://127.0.0.1:" + std::to_string(closed.port())));
  const ReplayAnswer a = check(store, "y", "c");
  EXPECT_EQ(a.verdict, Verdict::unavailable);
  EXPECT_FALSE(a.detail.empty());
}

// A server that accepts and never answers: the time limit, not a hang.
TEST_F(RedisStore, SilentServerTimesOut) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 16), 0);  // the kernel accepts; nobody reads
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  {
    RedisReplayStore store(options("redis://127.0.0.1:" + std::to_string(ntohs(address.sin_port))));
    const auto started = std::chrono::steady_clock::now();
    const ReplayAnswer a = check(store, "z", "c");
    EXPECT_EQ(a.verdict, Verdict::unavailable);
    EXPECT_NE(a.detail.find("500 ms"), std::string::npos) << a.detail;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  }
  ::close(fd);
}

TEST(RedisStorePassword, WrongPasswordIsUnavailableAndNeverShown) {
  test::Scratch scratch;
  test::RedisServer redis(scratch.dir().string(), "cgw-test-redis-pw");
  net::io_context io;
  const auto ask = [&io](RedisReplayStore& store) {
    ReplayUse use;
    use.jti = "p";
    use.expires = std::chrono::system_clock::now() + 60s;
    use.client = "c";
    auto result = net::co_spawn(io, store.check(use), net::use_future);
    io.restart();
    io.run();
    return result.get();
  };
  RedisStoreOptions wrong;
  wrong.target =
      parse_redis_url("redis://:not-the-pw@127.0.0.1:" + std::to_string(redis.port())).value();
  RedisReplayStore refused(wrong);
  const ReplayAnswer a = ask(refused);
  EXPECT_EQ(a.verdict, Verdict::unavailable);
  EXPECT_EQ(a.detail.find("not-the-pw"), std::string::npos) << a.detail;

  RedisStoreOptions right;
  right.target = parse_redis_url(redis.url()).value();
  RedisReplayStore store(right);
  EXPECT_EQ(ask(store).verdict, Verdict::admitted);
}

}  // namespace
}  // namespace cgw::gateway
