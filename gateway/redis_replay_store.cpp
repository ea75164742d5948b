#include "gateway/redis_replay_store.hpp"

#include "common/log.hpp"
#include "gateway/config.hpp"
#include "metrics/registry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <hiredis/hiredis.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <functional>
#include <iterator>
#include <vector>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::system_clock;
using Verdict = ReplayAnswer::Verdict;

constexpr log::Logger logger{"replay-store"};

// After a failed connect, checks within this time fail at once with the same
// reason instead of each waiting for a server that is not there.
constexpr auto reconnect_pause = std::chrono::milliseconds(250);

bool parse_number(std::string_view text, auto& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// %XX escapes, so that a password may hold '@', ':' or '/'; anything else as it is.
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '%' && i + 2 < text.size()) {
      const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec == std::errc() && end == text.data() + i + 3) {
        out += static_cast<char>(value);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// One check, with everything it needs owned: it runs on the store's thread,
// perhaps after the session that asked has given up.
struct Command {
  std::string key;
  std::string value;  // "<first use, ms since the epoch> <client>"
  std::string client;
  std::int64_t now_ms = 0;
  std::int64_t ttl_ms = 1;
  bool allow_grace = false;
  bool uses_up = true;
};

// A check on its way: whichever ends first, the store's thread or the timer,
// completes the caller, once (as libvirt_adapter's calls do). The store's
// thread holds it weakly and skips a check whose caller already gave up.
template <class Handler>
struct PendingCheck {
  PendingCheck(Handler h, const net::any_io_executor& ex) : handler(std::move(h)), timer(ex) {}
  Handler handler;
  net::steady_timer timer;
  std::atomic<bool> settled{false};
};

template <class Token>
auto async_on_thread(net::thread_pool& where, std::function<ReplayAnswer()> work,
                     std::chrono::milliseconds timeout, Token&& token) {
  auto start = [&where, timeout](auto handler, std::function<ReplayAnswer()> job) {
    using Handler = decltype(handler);
    const net::any_io_executor caller = net::get_associated_executor(handler);
    auto check = std::make_shared<PendingCheck<Handler>>(std::move(handler), caller);
    check->timer.expires_after(timeout);
    check->timer.async_wait([check](const boost::system::error_code& ec) {
      if (ec || check->settled.exchange(true)) return;
      std::move(check->handler)(std::optional<ReplayAnswer>());
    });
    std::weak_ptr<PendingCheck<Handler>> waiting = check;
    net::post(where, [waiting, job = std::move(job)] {
      if (auto asking = waiting.lock(); !asking || asking->settled.load()) return;
      ReplayAnswer answer = job();
      auto still = waiting.lock();
      if (!still || still->settled.exchange(true)) return;
      const auto ex = still->timer.get_executor();
      net::post(ex, [check = std::move(still), answer = std::move(answer)]() mutable {
        check->timer.cancel();
        std::move(check->handler)(std::optional<ReplayAnswer>(std::move(answer)));
      });
    });
  };
  return net::async_initiate<Token, void(std::optional<ReplayAnswer>)>(std::move(start), token,
                                                                       std::move(work));
}

ReplayAnswer answer(Verdict verdict, std::string detail = {}) {
  ReplayAnswer a;
  a.verdict = verdict;
  a.detail = std::move(detail);
  return a;
}

}  // namespace

std::string RedisTarget::where() const {
  if (!socket_path.empty()) return "unix:" + socket_path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<RedisTarget> parse_redis_url(std::string_view url) {
  RedisTarget t;
  if (url.starts_with("unix://")) {
    std::string_view rest = url.substr(7);
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
      const std::string_view query = rest.substr(q + 1);
      rest = rest.substr(0, q);
      if (!query.starts_with("db=") || !parse_number(query.substr(3), t.db) || t.db < 0)
        return std::nullopt;
    }
    if (!rest.starts_with('/') || rest.size() < 2) return std::nullopt;
    t.socket_path = std::string(rest);
    return t;
  }
  if (!url.starts_with("redis://")) return std::nullopt;
  std::string_view rest = url.substr(8);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      t.password = percent_decoded(userinfo);  // redis://password@host, as redis-cli takes it
    } else {
      t.user = percent_decoded(userinfo.substr(0, colon));
      t.password = percent_decoded(userinfo.substr(colon + 1));
    }
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty() && (!parse_number(db, t.db) || t.db < 0)) return std::nullopt;
  }
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with('[')) {  // [::1]:6379
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return std::nullopt;
      port = after.substr(1);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  if (!port.empty() && (!parse_number(port, t.port) || t.port == 0)) return std::nullopt;
  t.host = std::string(host);
  return t;
}

RedisStoreOptions redis_store_options(const Config& config) {
  RedisStoreOptions options;
  options.target = parse_redis_url(config.replay_store).value();  // checked when read
  options.timeout = config.replay_store_timeout;
  if (!config.replay_store_password_file.empty()) {
    std::ifstream in(config.replay_store_password_file, std::ios::binary);
    std::string password(std::istreambuf_iterator<char>(in), {});
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
      password.pop_back();
    if (!in.is_open() || password.empty()) {
      throw ConfigError((config.file.empty() ? std::string("command line") : config.file) +
                        ": tokens.replay_store_password_file: cannot read " +
                        config.replay_store_password_file + " (or it is empty)");
    }
    options.target.password = std::move(password);
  }
  return options;
}

struct RedisReplayStore::Impl {
  explicit Impl(RedisStoreOptions o) : options(std::move(o)) {}

  RedisStoreOptions options;
  net::thread_pool thread{1};
  std::atomic<bool> stopping{false};
  metrics::Counter* errors = nullptr;  // set before serving

  // The store's thread alone touches these.
  Context context;
  std::string last_error;
  std::chrono::steady_clock::time_point last_failed_connect{};
  std::optional<bool> reachable;  // what the log said last

  // One command; null (and the connection dropped) on a failure, with `error` set.
  Reply command(const std::vector<std::string_view>& args, std::string& error) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    Reply reply(static_cast<redisReply*>(redisCommandArgv(
        context.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) {
      const bool timed_out =
          context->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
      error = timed_out ? "no answer within " + std::to_string(options.timeout.count()) + " ms"
                        : std::string(context->errstr);
      context.reset();
      return nullptr;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      // Redis's own words (e.g. "NOAUTH Authentication required."): no secret in them.
      error = std::string(reply->str, reply->len);
      context.reset();
      return nullptr;
    }
    if (reachable != true) {
      logger.info("redis at ", options.target.where(), " answers; one-time tokens are shared");
    }
    reachable = true;
    return reply;
  }

  bool connect(std::string& error) {
    if (context) return true;
    const auto now = std::chrono::steady_clock::now();
    if (!last_error.empty() && now - last_failed_connect < reconnect_pause) {
      error = last_error;
      return false;
    }
    const RedisTarget& t = options.target;
    const timeval tv = to_timeval(options.timeout);
    context.reset(t.socket_path.empty() ? redisConnectWithTimeout(t.host.c_str(), t.port, tv)
                                        : redisConnectUnixWithTimeout(t.socket_path.c_str(), tv));
    if (!context || context->err) {
      error = context ? std::string(context->errstr) : "cannot allocate a connection";
      context.reset();
    } else {
      redisSetTimeout(context.get(), tv);
      if (t.socket_path.empty()) redisEnableKeepAlive(context.get());
      const std::string db = std::to_string(t.db);
      Reply r;
      if (!t.password.empty()) {
        std::vector<std::string_view> auth{"AUTH"};
        if (!t.user.empty()) auth.push_back(t.user);
        auth.push_back(t.password);
        r = command(auth, error);
      }
      if (context && t.db != 0) r = command({"SELECT", db}, error);
      if (context) {
        last_error.clear();
        return true;
      }
    }
    last_error = error;
    last_failed_connect = now;
    return false;
  }

  ReplayAnswer unavailable(std::string error) {
    if (reachable != false) {
      logger.warn("redis at ", options.target.where(), " unavailable (", error,
                  "); one-time tokens are refused until it answers");
    }
    reachable = false;
    return answer(Verdict::unavailable, "redis at " + options.target.where() + ": " + error);
  }

  // Runs on the store's thread.
  ReplayAnswer run(const Command& c) {
    if (stopping.load()) return answer(Verdict::unavailable, "the gateway is stopping");
    std::string error;
    for (int round = 0; round < 2; ++round) {
      const bool kept = context != nullptr;
      if (!connect(error)) break;
      if (auto done = attempt(c, error)) return std::move(*done);
      // A connection kept from before may have died with a Redis that has
      // restarted since: once more, on a new one.
      if (!kept) break;
    }
    return unavailable(error);
  }

  // SET NX, then GET when the key is there already; nullopt (the connection
  // dropped) when Redis did not answer.
  std::optional<ReplayAnswer> attempt(const Command& c, std::string& error) {
    const std::string ttl = std::to_string(c.ttl_ms);
    // Twice at most: a key that expires between SET and GET is set again.
    for (int round = 0; round < 2; ++round) {
      if (c.uses_up) {
        Reply set = command({"SET", c.key, c.value, "NX", "PX", ttl}, error);
        if (!set) return std::nullopt;
        if (set->type == REDIS_REPLY_STATUS) return answer(Verdict::admitted);
      }
      Reply get = command({"GET", c.key}, error);
      if (!get) return std::nullopt;
      if (get->type != REDIS_REPLY_STRING) {
        if (c.uses_up) continue;
        return answer(Verdict::admitted);
      }
      // Used already: SPICE's further channels from the same client, within the grace period.
      const std::string_view value(get->str, get->len);
      const auto space = value.find(' ');
      std::int64_t first_ms = 0;
      if (c.allow_grace && space != std::string_view::npos &&
          parse_number(value.substr(0, space), first_ms) && value.substr(space + 1) == c.client &&
          c.now_ms - first_ms <=
              std::chrono::duration_cast<std::chrono::milliseconds>(options.grace).count()) {
        return answer(Verdict::admitted);
      }
      return answer(Verdict::already_used);
    }
    return answer(Verdict::already_used);
  }
};

RedisReplayStore::RedisReplayStore(RedisStoreOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

RedisReplayStore::~RedisReplayStore() {
  impl_->stopping.store(true);
  impl_->thread.join();
}

void RedisReplayStore::expose(metrics::Registry& registry) {
  impl_->errors = &registry
                       .counter("console_gw_replay_store_errors_total",
                                "One-time token checks the shared store (Redis) did not answer: "
                                "each refused such a token.")
                       .with({});
}

net::awaitable<ReplayAnswer> RedisReplayStore::check(const ReplayUse& use) {
  const auto now = Clock::now();
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  auto command = std::make_shared<Command>();
  command->key = impl_->options.key_prefix + std::string(use.jti);
  command->client = std::string(use.client);
  command->value = std::to_string(now_ms) + " " + command->client;
  command->now_ms = now_ms;
  command->ttl_ms = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(use.expires - now).count());
  command->allow_grace = use.allow_grace;
  command->uses_up = use.uses_up;

  Impl* impl = impl_.get();
  std::function<ReplayAnswer()> job = [impl, command] { return impl->run(*command); };
  std::optional<ReplayAnswer> result = co_await async_on_thread(
      impl->thread, std::move(job), impl->options.timeout, net::use_awaitable);
  if (!result) {
    result = answer(Verdict::unavailable,
                    "redis at " + impl->options.target.where() + ": no answer within " +
                        std::to_string(impl->options.timeout.count()) + " ms");
  }
  if (result->verdict == Verdict::unavailable && impl->errors) impl->errors->inc();
  co_return std::move(*result);
}

}  // namespace cgw::gateway
