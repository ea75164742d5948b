#include "metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace cgw::metrics {
namespace {

// "# HELP" text escapes only backslash and newline.
std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="1",b="2"}`, with `extra` (a histogram's le) last; nothing without labels.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const LabelValues& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out.append(names[i]).append("=\"").append(escape_label_value(values[i])).append("\"");
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out.append(extra_name).append("=\"").append(extra_value).append("\"");
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                   const LabelValues& values, std::string_view value) {
  out.append(name);
  append_labels(out, names, values);
  out.append(" ").append(value).append("\n");
}

std::string format_count(std::uint64_t n) {
  char text[24];
  return std::string(text, std::to_chars(text, text + sizeof text, n).ptr);
}

bool name_char(char c, bool first, bool colon) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (letter || (colon && c == ':')) return true;
  return !first && c >= '0' && c <= '9';
}

void add_to(std::atomic<double>& value, double n) noexcept {
  double old = value.load(std::memory_order_relaxed);
  while (!value.compare_exchange_weak(old, old + n, std::memory_order_relaxed)) {
  }
}

void check_label_names(const std::string& family, const std::vector<std::string>& names) {
  for (const std::string& label : names) {
    if (!valid_label_name(label) || label == "le" || label == "quantile") {
      throw std::invalid_argument("metric " + family + ": label name not allowed: " + label);
    }
  }
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof text, v).ptr);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Gauge::add(double n) noexcept { add_to(value_, n); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
      std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); })) {
    throw std::invalid_argument("histogram bounds must be finite and increasing");
  }
}

void Histogram::observe(double v) noexcept {
  // Each observation lands in one bucket; the exposition adds them up.
  const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  add_to(sum_, v);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  std::vector<double> bounds;
  double bound = start;
  for (std::size_t i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

namespace detail {

FamilyBase::FamilyBase(std::string name, std::string help, std::string type,
                       std::vector<std::string> labels)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(labels)) {
  if (!valid_metric_name(name_)) throw std::invalid_argument("metric name not allowed: " + name_);
  check_label_names(name_, label_names_);
}

void FamilyBase::check_values(std::size_t count) const {
  if (count != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": " + std::to_string(label_names_.size()) +
                                " label value(s) expected, got " + std::to_string(count));
  }
}

void FamilyBase::expose(std::string& out) const {
  out.append("# HELP ").append(name_).append(" ").append(escape_help(help_)).append("\n");
  out.append("# TYPE ").append(name_).append(" ").append(type_).append("\n");
  expose_samples(out);
}

}  // namespace detail

template <class Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> labels,
                       std::function<std::unique_ptr<Metric>()> make)
    : FamilyBase(std::move(name), std::move(help),
                 std::is_same_v<Metric, Counter> ? "counter"
                 : std::is_same_v<Metric, Gauge> ? "gauge"
                                                 : "histogram",
                 std::move(labels)),
      make_(std::move(make)) {}

template <class Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  check_values(values.size());
  std::lock_guard lock(mutex_);
  for (auto& [labels, child] : children_) {
    if (labels == values) return *child;
  }
  children_.emplace_back(values, make_());
  return *children_.back().second;
}

template <>
void Family<Counter>::expose_samples(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [labels, child] : children_) {
    append_sample(out, name_, label_names_, labels, format_count(child->value()));
  }
}

template <>
void Family<Gauge>::expose_samples(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [labels, child] : children_) {
    append_sample(out, name_, label_names_, labels, format_value(child->value()));
  }
}

template <>
void Family<Histogram>::expose_samples(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [labels, child] : children_) {
    const Histogram::Snapshot s = child->snapshot();
    const auto& bounds = child->bounds();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      out.append(name_).append("_bucket");
      append_labels(out, label_names_, labels, "le",
                    i < bounds.size() ? format_value(bounds[i]) : "+Inf");
      out.append(" ").append(format_count(s.cumulative[i])).append("\n");
    }
    append_sample(out, name_ + "_sum", label_names_, labels, format_value(s.sum));
    append_sample(out, name_ + "_count", label_names_, labels, format_count(s.cumulative.back()));
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {

class CallbackFamily final : public detail::FamilyBase {
 public:
  CallbackFamily(std::string name, std::string help, std::vector<std::string> labels,
                 std::function<std::vector<Sample>()> collect)
      : FamilyBase(std::move(name), std::move(help), "gauge", std::move(labels)),
        collect_(std::move(collect)) {}

 private:
  void expose_samples(std::string& out) const override {
    for (const Sample& sample : collect_()) {
      if (sample.labels.size() != label_names_.size()) continue;
      append_sample(out, name_, label_names_, sample.labels, format_value(sample.value));
    }
  }
  std::function<std::vector<Sample>()> collect_;
};

}  // namespace

void Registry::add(std::unique_ptr<detail::FamilyBase> family) {
  std::lock_guard lock(mutex_);
  for (const auto& existing : families_) {
    if (existing->name() == family->name()) {
      throw std::invalid_argument("metric registered twice: " + family->name());
    }
  }
  families_.push_back(std::move(family));
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  std::unique_ptr<Family<Counter>> family(
      new Family<Counter>(std::move(name), std::move(help), std::move(label_names),
                          [] { return std::make_unique<Counter>(); }));
  auto& ref = *family;
  add(std::move(family));
  return ref;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  std::unique_ptr<Family<Gauge>> family(
      new Family<Gauge>(std::move(name), std::move(help), std::move(label_names),
                        [] { return std::make_unique<Gauge>(); }));
  auto& ref = *family;
  add(std::move(family));
  return ref;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<double> bounds,
                                       std::vector<std::string> label_names) {
  Histogram{bounds};  // throws on bounds that are not increasing
  std::unique_ptr<Family<Histogram>> family(new Family<Histogram>(
      std::move(name), std::move(help), std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); }));
  auto& ref = *family;
  add(std::move(family));
  return ref;
}

void Registry::gauge_callback(std::string name, std::string help,
                              std::vector<std::string> label_names,
                              std::function<std::vector<Sample>()> collect) {
  add(std::make_unique<CallbackFamily>(std::move(name), std::move(help), std::move(label_names),
                                       std::move(collect)));
}

std::string Registry::expose() const {
  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->expose(out);
  return out;
}

}  // namespace cgw::metrics
