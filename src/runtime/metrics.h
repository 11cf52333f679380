// Serving metrics, rendered in the Prometheus text format. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::runtime {

class Metrics {
 public:
  void observe(const std::string& histogram, const std::string& model, double seconds);
  void add(const std::string& counter, const std::string& model, double v);
  void set_gauge(const std::string& gauge, double v);
  std::string prometheus() const;

 private:
  struct Histogram {
    std::vector<double> counts;  // per bucket (cumulative on render)
    double sum = 0;
    uint64_t n = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, Histogram>> histograms_;  // name -> model -> data
  std::map<std::string, std::map<std::string, double>> counters_;
  std::map<std::string, double> gauges_;
};

}  // namespace hearth::runtime
