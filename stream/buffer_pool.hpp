// Large copy buffers lent to busy sessions and taken back when they go quiet,
// so that an idle session holds none (issue: thousands of idle consoles).
//
// Each thread keeps a short free list; a buffer borrowed on one thread may be
// returned on another (a strand's coroutines move between threads), it then
// simply joins that thread's list. No locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

namespace cgw::stream {

class BorrowedBuffer {
 public:
  static constexpr std::size_t size = 64 * 1024;

  BorrowedBuffer() = default;
  BorrowedBuffer(BorrowedBuffer&& other) noexcept : data_(std::move(other.data_)) {}
  BorrowedBuffer& operator=(BorrowedBuffer&& other) noexcept;
  BorrowedBuffer(const BorrowedBuffer&) = delete;
  BorrowedBuffer& operator=(const BorrowedBuffer&) = delete;
  ~BorrowedBuffer() { release(); }

  // Takes one from this thread's free list, or allocates one.
  static BorrowedBuffer borrow();
  // Gives it back (to this thread's free list, or to the allocator when full).
  void release() noexcept;

  // How many are lent out right now, process-wide (busy directions).
  static std::size_t outstanding();

  explicit operator bool() const { return data_ != nullptr; }
  char* data() const { return data_.get(); }

 private:
  std::unique_ptr<char[]> data_;
};

}  // namespace cgw::stream
