// IoPool: one io_context per thread, each run by its own thread, so that a
// connection and everything done on it stay on one thread: no strands, no locks
// on the data path. Countdown: how the main thread waits for the coroutines it
// spawned, with a time limit.
//
// The main thread creates, starts, stops and joins the pool; other threads only
// post work to its contexts.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace cgw::bench {

class IoPool {
 public:
  explicit IoPool(unsigned threads);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  std::size_t size() const { return contexts_.size(); }
  // The context for the i-th piece of work: round robin over the threads.
  boost::asio::io_context& context(std::size_t i) { return *contexts_[i % contexts_.size()]; }

  void start();
  void stop();  // every context stops as soon as its current handler returns
  void join();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// Counts finished tasks; any thread may call done(), the main thread waits.
class Countdown {
 public:
  explicit Countdown(std::size_t count) : left_(count) {}
  void done();
  // True when every task finished before `timeout` passed.
  bool wait_for(std::chrono::duration<double> timeout);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t left_;
};

}  // namespace cgw::bench
