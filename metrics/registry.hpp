// Registry: the gateway's metrics, written out in the Prometheus text
// exposition format (version 0.0.4) for GET /metrics.
//
// Counters, gauges and histograms, each in a family that has a name, a help
// text and label names; a family's children are its label values. Updating a
// child is a relaxed atomic operation and takes no lock, so the hot path holds
// a reference to its child, found once (with(), which locks its family to find
// or create it). Children live as long as the registry and never move.
//
// A callback family is asked for its samples at each exposition: for state
// that lives elsewhere (a connection's up or down), read where it is kept
// rather than copied on every change.
//
// Label cardinality is the caller's to bound: never a label value taken from a
// request (a client address, a UUID).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::metrics {

// A value that only goes up (restarts from zero with the process).
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double n = 1) noexcept { add(n); }
  void dec(double n = 1) noexcept { add(-n); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  void add(double n) noexcept;
  std::atomic<double> value_{0};
};

// Observations counted in buckets by upper bound ("le"), with their sum.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // sorted, finite
  void observe(double v) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (+Inf)
  std::atomic<double> sum_{0};
};

// `count` bounds from `start`, each `factor` times the one before.
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

// One label value per label name of the family, in order.
using LabelValues = std::vector<std::string>;

class Registry;

namespace detail {

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type, std::vector<std::string> labels);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  const std::string& name() const noexcept { return name_; }
  // Appends this family's "# HELP", "# TYPE" and sample lines.
  void expose(std::string& out) const;

 protected:
  // The sample lines only.
  virtual void expose_samples(std::string& out) const = 0;
  void check_values(std::size_t count) const;

  std::string name_;
  std::string help_;
  std::string type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;  // guards the children, not their values
};

}  // namespace detail

// A family of counters, gauges or histograms.
template <class Metric>
class Family final : public detail::FamilyBase {
 public:
  // The child with these label values, created at zero on first use. Throws
  // std::invalid_argument when the number of values is not the number of names.
  Metric& with(const LabelValues& values);
  Metric& with(std::initializer_list<std::string_view> values) {
    return with(LabelValues(values.begin(), values.end()));
  }

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::function<std::unique_ptr<Metric>()> make);
  void expose_samples(std::string& out) const override;
  std::function<std::unique_ptr<Metric>()> make_;
  std::vector<std::pair<LabelValues, std::unique_ptr<Metric>>> children_;
};

// What a callback family reports at one exposition.
struct Sample {
  LabelValues labels;
  double value = 0;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each throws std::invalid_argument on a name that the format does not allow
  // or that is already registered.
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<double> bounds,
                               std::vector<std::string> label_names = {});
  // A gauge family whose samples `collect` gives at each exposition. `collect`
  // runs on the thread that exposes; it must be cheap and must not block.
  void gauge_callback(std::string name, std::string help, std::vector<std::string> label_names,
                      std::function<std::vector<Sample>()> collect);

  // All families, in the order they were registered, in the text format 0.0.4.
  std::string expose() const;

  // The text format's Content-Type.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  void add(std::unique_ptr<detail::FamilyBase> family);
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<detail::FamilyBase>> families_;
};

// Exposition helpers, public for the tests.
// A sample value as the format writes it: "+Inf", "-Inf", "NaN", or the
// shortest decimal that reads back as the same double.
std::string format_value(double v);
// A label value escaped: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace cgw::metrics
