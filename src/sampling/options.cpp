// Setting sampling parameters by their Ollama names from text (CLI /set,
// Modelfile PARAMETER lines), with type checks naming the parameter.
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "sampling/params.h"

namespace hearth::sampling {

namespace {

Result<double> parse_number(const std::string& name, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(d))
    return invalid_argument("parameter " + name + ": '" + v + "' is not a number");
  return d;
}

Result<int64_t> parse_int(const std::string& name, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  long long i = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE) return invalid_argument("parameter " + name + ": '" + v + "' is not an integer");
  return static_cast<int64_t>(i);
}

}  // namespace

Status set_option(SamplingParams& p, const std::string& name, const std::string& value) {
  auto num = [&](float* out) -> Status {
    HEARTH_ASSIGN_OR_RETURN(double d, parse_number(name, value));
    *out = static_cast<float>(d);
    return Status();
  };
  auto integer = [&](auto* out) -> Status {
    HEARTH_ASSIGN_OR_RETURN(int64_t i, parse_int(name, value));
    if (i < INT32_MIN || i > INT32_MAX) return invalid_argument("parameter " + name + ": " + value + " is out of range");
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(i);
    return Status();
  };
  if (name == "temperature") return num(&p.temperature);
  if (name == "top_k") return integer(&p.top_k);
  if (name == "top_p") return num(&p.top_p);
  if (name == "min_p") return num(&p.min_p);
  if (name == "tfs_z") return num(&p.tfs_z);
  if (name == "typical_p") return num(&p.typical_p);
  if (name == "repeat_penalty") return num(&p.repeat_penalty);
  if (name == "repeat_last_n") return integer(&p.repeat_last_n);
  if (name == "presence_penalty") return num(&p.presence_penalty);
  if (name == "frequency_penalty") return num(&p.frequency_penalty);
  if (name == "mirostat") return integer(&p.mirostat);
  if (name == "mirostat_tau") return num(&p.mirostat_tau);
  if (name == "mirostat_eta") return num(&p.mirostat_eta);
  if (name == "seed") {
    HEARTH_ASSIGN_OR_RETURN(p.seed, parse_int(name, value));
    return Status();
  }
  return not_found("unknown sampling parameter '" + name + "'");
}

}  // namespace hearth::sampling
