#include "stream/buffer_pool.hpp"

#include <vector>

namespace cgw::stream {
namespace {

// Enough for the busy sessions one thread serves at a time; more are freed.
constexpr std::size_t max_free_per_thread = 32;

std::atomic<std::size_t> g_outstanding{0};

std::vector<std::unique_ptr<char[]>>& free_list() {
  thread_local std::vector<std::unique_ptr<char[]>> list;
  return list;
}

}  // namespace

BorrowedBuffer& BorrowedBuffer::operator=(BorrowedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::move(other.data_);
  }
  return *this;
}

std::size_t BorrowedBuffer::outstanding() { return g_outstanding.load(std::memory_order_relaxed); }

BorrowedBuffer BorrowedBuffer::borrow() {
  BorrowedBuffer out;
  auto& list = free_list();
  if (!list.empty()) {
    out.data_ = std::move(list.back());
    list.pop_back();
  } else {
    out.data_ = std::make_unique_for_overwrite<char[]>(size);
  }
  g_outstanding.fetch_add(1, std::memory_order_relaxed);
  return out;
}

void BorrowedBuffer::release() noexcept {
  if (!data_) return;
  g_outstanding.fetch_sub(1, std::memory_order_relaxed);
  auto& list = free_list();
  if (list.size() < max_free_per_thread) {
    try {
      list.push_back(std::move(data_));
    } catch (...) {
      // No room to keep it: let it go to the allocator.
    }
  }
  data_.reset();
}

}  // namespace cgw::stream
