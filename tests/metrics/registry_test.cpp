// The registry's text exposition, line by line, as Prometheus reads it.
#include "metrics/registry.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace cgw::metrics {
namespace {

TEST(Registry, CounterWithLabelsIsExposedWithHelpAndType) {
  Registry r;
  auto& requests = r.counter("test_requests_total", "Requests served.", {"outcome"});
  requests.with({"ok"}).inc();
  requests.with({"ok"}).inc(2);
  requests.with({"refused"}).inc();
  EXPECT_EQ(r.expose(),
            "# HELP test_requests_total Requests served.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{outcome=\"ok\"} 3\n"
            "test_requests_total{outcome=\"refused\"} 1\n");
}

TEST(Registry, GaugeWithoutLabels) {
  Registry r;
  auto& active = r.gauge("test_active", "Open now.").with({});
  active.inc();
  active.inc();
  active.dec();
  EXPECT_EQ(r.expose(),
            "# HELP test_active Open now.\n"
            "# TYPE test_active gauge\n"
            "test_active 1\n");
  active.set(1.5e9);  // the shortest form that reads back the same, as Go parses it
  EXPECT_NE(r.expose().find("test_active 1.5e+09\n"), std::string::npos) << r.expose();
}

TEST(Registry, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  auto& h = r.histogram("test_seconds", "Latency.", {0.01, 0.1, 1}, {"path"}).with({"ssh"});
  h.observe(0.005);
  h.observe(0.01);  // on a bound: counted in that bucket (le is "less or equal")
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(r.expose(),
            "# HELP test_seconds Latency.\n"
            "# TYPE test_seconds histogram\n"
            "test_seconds_bucket{path=\"ssh\",le=\"0.01\"} 2\n"
            "test_seconds_bucket{path=\"ssh\",le=\"0.1\"} 2\n"
            "test_seconds_bucket{path=\"ssh\",le=\"1\"} 3\n"
            "test_seconds_bucket{path=\"ssh\",le=\"+Inf\"} 4\n"
            "test_seconds_sum{path=\"ssh\"} 7.515\n"
            "test_seconds_count{path=\"ssh\"} 4\n");
}

TEST(Registry, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("test_total", "Back\\slash and\nnewline.", {"v"}).with({"a\"b\\c\nd"}).inc();
  EXPECT_EQ(r.expose(),
            "# HELP test_total Back\\\\slash and\\nnewline.\n"
            "# TYPE test_total counter\n"
            "test_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Registry, CallbackGaugeIsReadAtEachExposition) {
  Registry r;
  double up = 0;
  r.gauge_callback("test_up", "Connected.", {"host"}, [&up] {
    return std::vector<Sample>{{{"kvm01"}, up}, {{"kvm02"}, 1}};
  });
  EXPECT_NE(r.expose().find("test_up{host=\"kvm01\"} 0\n"), std::string::npos);
  up = 1;
  EXPECT_NE(r.expose().find("test_up{host=\"kvm01\"} 1\ntest_up{host=\"kvm02\"} 1\n"),
            std::string::npos)
      << r.expose();
}

TEST(Registry, FamiliesKeepTheirRegistrationOrder) {
  Registry r;
  r.counter("b_total", "B.").with({}).inc();
  r.gauge("a", "A.").with({});
  const std::string text = r.expose();
  EXPECT_LT(text.find("b_total"), text.find("# HELP a "));
}

TEST(Registry, RejectsBadNamesDuplicatesAndWrongLabelCounts) {
  Registry r;
  EXPECT_THROW(r.counter("1abc", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("a-b", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "x", {1, 0.5}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h2", "x", {0.1}, {"le"}), std::invalid_argument);
  auto& family = r.counter("ok_total", "x", {"a"});
  EXPECT_THROW(r.gauge("ok_total", "x"), std::invalid_argument);
  EXPECT_THROW(family.with({"1", "2"}), std::invalid_argument);
  EXPECT_THROW(family.with({}), std::invalid_argument);
}

TEST(Registry, ValuesAreFormattedAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(0.001), "0.001");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Registry, ExponentialBucketsCoverMillisecondsToSeconds) {
  const auto b = exponential_buckets(0.001, 2, 15);
  ASSERT_EQ(b.size(), 15u);
  EXPECT_DOUBLE_EQ(b.front(), 0.001);
  EXPECT_GT(b.back(), 10);
}

TEST(Registry, CountersAddUpAcrossThreads) {
  Registry r;
  auto& c = r.counter("test_total", "x").with({});
  auto& h = r.histogram("test_seconds", "x", {1}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.snapshot().cumulative.back(), 40000u);
  EXPECT_DOUBLE_EQ(h.snapshot().sum, 20000);
}

}  // namespace
}  // namespace cgw::metrics
