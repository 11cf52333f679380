#include "runtime/metrics.h"

#include <cstdio>

namespace hearth::runtime {

namespace {

const std::vector<double>& buckets() {
  static const std::vector<double> b = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return b;
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escape_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Metrics::observe(const std::string& name, const std::string& model, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = histograms_[name][model];
  if (h.counts.empty()) h.counts.assign(buckets().size(), 0);
  for (size_t i = 0; i < buckets().size(); ++i)
    if (seconds <= buckets()[i]) {
      h.counts[i] += 1;
      break;
    }
  h.sum += seconds;
  ++h.n;
}

void Metrics::add(const std::string& name, const std::string& model, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[name][model] += v;
}

void Metrics::set_gauge(const std::string& name, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[name] = v;
}

std::string Metrics::prometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, v] : gauges_) {
    out += "# TYPE hearth:" + name + " gauge\n";
    out += "hearth:" + name + " " + num(v) + "\n";
  }
  for (const auto& [name, per_model] : counters_) {
    out += "# TYPE hearth:" + name + " counter\n";
    for (const auto& [model, v] : per_model)
      out += "hearth:" + name + "{model_name=\"" + escape_label(model) + "\"} " + num(v) + "\n";
  }
  for (const auto& [name, per_model] : histograms_) {
    out += "# TYPE hearth:" + name + " histogram\n";
    for (const auto& [model, h] : per_model) {
      std::string label = "model_name=\"" + escape_label(model) + "\"";
      double cum = 0;
      for (size_t i = 0; i < buckets().size(); ++i) {
        cum += h.counts[i];
        out += "hearth:" + name + "_bucket{" + label + ",le=\"" + num(buckets()[i]) + "\"} " + num(cum) + "\n";
      }
      out += "hearth:" + name + "_bucket{" + label + ",le=\"+Inf\"} " + num(static_cast<double>(h.n)) + "\n";
      out += "hearth:" + name + "_sum{" + label + "} " + num(h.sum) + "\n";
      out += "hearth:" + name + "_count{" + label + "} " + num(static_cast<double>(h.n)) + "\n";
    }
  }
  return out;
}

}  // namespace hearth::runtime
