#include "server/fields.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/json_depth.h"

namespace hearth::server {

namespace {

std::string name_of(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

}  // namespace

void bad_request(const std::string& message, const std::string& param) { throw HttpError(400, message, param); }

Json parse_object(const std::string& body) {
  if (core::json_depth(body) > core::kMaxJsonDepth)
    bad_request("invalid JSON body: arrays and objects nest deeper than " + std::to_string(core::kMaxJsonDepth) + " levels");
  Json j;
  try {
    j = Json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    size_t p = what.find("] ");
    bad_request("invalid JSON body: " + (p == std::string::npos ? what : what.substr(p + 2)));
  }
  if (!j.is_object()) bad_request("the request body must be a JSON object");
  return j;
}

std::optional<std::string> opt_string(const Json& j, const std::string& key, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_string()) bad_request(name_of(path, key) + " must be a string", name_of(path, key));
  return j[key].get<std::string>();
}

std::string req_string(const Json& j, const std::string& key, const std::string& path) {
  auto s = opt_string(j, key, path);
  if (!s) bad_request(name_of(path, key) + " is required", name_of(path, key));
  return *s;
}

std::optional<double> opt_number(const Json& j, const std::string& key, double lo, double hi, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const std::string n = name_of(path, key);
  if (!j[key].is_number()) bad_request(n + " must be a number", n);
  double v = j[key].get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    bad_request(n + " must be between " + nlohmann::json(lo).dump() + " and " + nlohmann::json(hi).dump(), n);
  return v;
}

std::optional<int64_t> opt_int(const Json& j, const std::string& key, int64_t lo, int64_t hi, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const std::string n = name_of(path, key);
  const auto& v = j[key];
  bool integral = v.is_number_integer() || v.is_number_unsigned() ||
                  (v.is_number_float() && std::isfinite(v.get<double>()) && std::floor(v.get<double>()) == v.get<double>());
  if (!integral) bad_request(n + " must be an integer", n);
  double d = v.get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    bad_request(n + " must be between " + std::to_string(lo) + " and " + std::to_string(hi), n);
  return v.is_number_float() ? static_cast<int64_t>(d) : v.get<int64_t>();
}

std::optional<bool> opt_bool(const Json& j, const std::string& key, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_boolean()) bad_request(name_of(path, key) + " must be true or false", name_of(path, key));
  return j[key].get<bool>();
}

std::vector<std::string> string_or_list(const Json& j, const std::string& key, size_t max, const std::string& path) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  const std::string n = name_of(path, key);
  const auto& v = j[key];
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& s : v) {
      if (!s.is_string()) bad_request(n + " must be a string or an array of strings", n);
      out.push_back(s.get<std::string>());
    }
  } else {
    bad_request(n + " must be a string or an array of strings", n);
  }
  if (out.size() > max) bad_request(n + " may have at most " + std::to_string(max) + " entries", n);
  return out;
}

void apply_options(const Json& o, GenerationOptions* out, const std::string& path) {
  if (!o.is_object()) bad_request(path + " must be an object", path);
  auto& sp = out->sampling;
  if (auto v = opt_number(o, "temperature", 0, 100, path)) sp.temperature = static_cast<float>(*v);
  if (auto v = opt_int(o, "top_k", 0, 1 << 30, path)) sp.top_k = static_cast<int32_t>(*v);
  if (auto v = opt_number(o, "top_p", 0, 1, path)) sp.top_p = static_cast<float>(*v);
  if (auto v = opt_number(o, "min_p", 0, 1, path)) sp.min_p = static_cast<float>(*v);
  if (auto v = opt_number(o, "typical_p", 1e-6, 1, path)) sp.typical_p = static_cast<float>(*v);
  if (auto v = opt_number(o, "tfs_z", 1e-6, 1, path)) sp.tfs_z = static_cast<float>(*v);
  if (auto v = opt_number(o, "repeat_penalty", 1e-6, 100, path)) sp.repeat_penalty = static_cast<float>(*v);
  if (auto v = opt_int(o, "repeat_last_n", -1, 1 << 24, path)) sp.repeat_last_n = static_cast<int32_t>(*v);
  if (auto v = opt_number(o, "presence_penalty", -100, 100, path)) sp.presence_penalty = static_cast<float>(*v);
  if (auto v = opt_number(o, "frequency_penalty", -100, 100, path)) sp.frequency_penalty = static_cast<float>(*v);
  if (auto v = opt_int(o, "mirostat", 0, 2, path)) sp.mirostat = static_cast<int32_t>(*v);
  if (auto v = opt_number(o, "mirostat_tau", 1e-6, 100, path)) sp.mirostat_tau = static_cast<float>(*v);
  if (auto v = opt_number(o, "mirostat_eta", 1e-6, 10, path)) sp.mirostat_eta = static_cast<float>(*v);
  if (auto v = opt_int(o, "seed", INT64_MIN, INT64_MAX, path)) sp.seed = *v;
  if (auto v = opt_int(o, "num_ctx", 1, 1 << 24, path)) out->num_ctx = *v;
  if (auto v = opt_int(o, "num_predict", -2, 1 << 24, path)) out->num_predict = *v;
  if (o.contains("stop")) out->stop = string_or_list(o, "stop", 64, path);
}

std::optional<double> parse_keep_alive(const Json& j) {
  if (!j.contains("keep_alive") || j["keep_alive"].is_null()) return std::nullopt;
  const auto& v = j["keep_alive"];
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) bad_request("keep_alive must be a duration string (e.g. \"5m\") or a number of seconds", "keep_alive");
  std::string s = v.get<std::string>();
  if (s.empty()) return std::nullopt;
  if (auto d = parse_duration(s)) return d;
  bad_request("keep_alive '" + s.substr(0, 40) + "' is not a duration (e.g. \"5m\", \"1h30m\", \"-1\", or seconds)",
              "keep_alive");
}

std::optional<double> parse_duration(const std::string& text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  char* end = nullptr;
  const double whole = std::strtod(text.c_str(), &end);
  if (end && *end == '\0') return std::isfinite(whole) ? std::optional<double>(whole) : std::nullopt;  // seconds
  size_t i = 0;
  double sign = 1;
  if (text[0] == '-' || text[0] == '+') sign = text[0] == '-' ? -1 : 1, i = 1;
  double total = 0;
  bool any = false;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    const std::string num = text.substr(start, i - start);
    char* e = nullptr;
    const double n = std::strtod(num.c_str(), &e);
    if (!e || *e != '\0') return std::nullopt;
    const size_t u0 = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.') ++i;
    const std::string unit = text.substr(u0, i - u0);
    double scale = 0;
    if (unit == "h") scale = 3600;
    else if (unit == "m") scale = 60;
    else if (unit == "s") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "us" || unit == "\u00b5s") scale = 1e-6;
    else if (unit == "ns") scale = 1e-9;
    else return std::nullopt;  // (a number needs its unit after the first)
    total += n * scale;
    any = true;
  }
  if (!any || !std::isfinite(total)) return std::nullopt;
  return sign * total;
}

}  // namespace hearth::server
