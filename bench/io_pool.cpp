#include "bench/io_pool.hpp"

#include <algorithm>

namespace cgw::bench {

namespace net = boost::asio;

IoPool::IoPool(unsigned threads) {
  threads = std::max(1u, threads);
  for (unsigned i = 0; i < threads; ++i) {
    // Concurrency hint 1: each context is run by exactly one thread, which lets
    // Asio's scheduler take its single-thread path.
    contexts_.push_back(std::make_unique<net::io_context>(1));
    guards_.push_back(net::make_work_guard(*contexts_.back()));
  }
}

IoPool::~IoPool() {
  stop();
  join();
}

void IoPool::start() {
  for (auto& ioc : contexts_) threads_.emplace_back([ctx = ioc.get()] { ctx->run(); });
}

void IoPool::stop() {
  guards_.clear();
  for (auto& ioc : contexts_) ioc->stop();
}

void IoPool::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Countdown::done() {
  std::lock_guard lock(mutex_);
  if (left_ > 0) --left_;
  if (left_ == 0) changed_.notify_all();
}

bool Countdown::wait_for(std::chrono::duration<double> timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return left_ == 0; });
}

}  // namespace cgw::bench
