#include "store/modelfile.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

namespace hearth::store {

namespace {

enum class Kind { kInt, kFloat, kBool, kString };

const std::map<std::string, Kind>& parameter_kinds() {
  static const std::map<std::string, Kind> k = {
      {"num_ctx", Kind::kInt}, {"num_predict", Kind::kInt}, {"num_keep", Kind::kInt}, {"num_batch", Kind::kInt},
      {"num_thread", Kind::kInt}, {"num_gpu", Kind::kInt}, {"main_gpu", Kind::kInt}, {"seed", Kind::kInt},
      {"top_k", Kind::kInt}, {"repeat_last_n", Kind::kInt}, {"mirostat", Kind::kInt},
      {"temperature", Kind::kFloat}, {"top_p", Kind::kFloat}, {"min_p", Kind::kFloat}, {"typical_p", Kind::kFloat},
      {"tfs_z", Kind::kFloat}, {"repeat_penalty", Kind::kFloat}, {"presence_penalty", Kind::kFloat},
      {"frequency_penalty", Kind::kFloat}, {"mirostat_tau", Kind::kFloat}, {"mirostat_eta", Kind::kFloat},
      {"penalize_newline", Kind::kBool}, {"use_mmap", Kind::kBool}, {"use_mlock", Kind::kBool}, {"numa", Kind::kBool},
      {"low_vram", Kind::kBool}, {"stop", Kind::kString},
  };
  return k;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A value written so that parse_modelfile reads it back unchanged: as is when
// that is unambiguous, else in a """block""" (which cannot hold """ or end
// in a quote), else in "quotes" (one line; the parser strips exactly the
// outer pair, with no escapes). Every value the parser returns fits one of
// these; a value set otherwise that fits none is written as a block.
std::string quote_block(const std::string& v) {
  const bool one_line = v.find('\n') == std::string::npos;
  const bool padded = !v.empty() && (std::isspace(static_cast<unsigned char>(v.front())) ||
                                     std::isspace(static_cast<unsigned char>(v.back())));
  const bool wrapped = v.size() >= 2 && v.front() == '"' && v.back() == '"';
  if (one_line && !v.empty() && !padded && v.rfind("\"\"\"", 0) != 0 && !wrapped) return v;
  const bool block_ok = v.find("\"\"\"") == std::string::npos && (v.empty() || v.back() != '"');
  if (block_ok) return "\"\"\"" + v + "\"\"\"";
  if (one_line && v.rfind("\"\"", 0) != 0) return "\"" + v + "\"";
  return "\"\"\"" + v + "\"\"\"";
}

}  // namespace

Result<nlohmann::ordered_json> parse_parameter(const std::string& raw_name, const std::string& value) {
  std::string name = lower(raw_name);
  auto it = parameter_kinds().find(name);
  if (it == parameter_kinds().end()) return invalid_argument("unknown parameter '" + raw_name + "'");
  errno = 0;
  char* end = nullptr;
  switch (it->second) {
    case Kind::kInt: {
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE)
        return invalid_argument("parameter " + name + " must be an integer, got '" + value + "'");
      return nlohmann::ordered_json(v);
    }
    case Kind::kFloat: {
      double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
        return invalid_argument("parameter " + name + " must be a number, got '" + value + "'");
      return nlohmann::ordered_json(v);
    }
    case Kind::kBool: {
      std::string v = lower(value);
      if (v == "true" || v == "1") return nlohmann::ordered_json(true);
      if (v == "false" || v == "0") return nlohmann::ordered_json(false);
      return invalid_argument("parameter " + name + " must be true or false, got '" + value + "'");
    }
    case Kind::kString: return nlohmann::ordered_json(value);
  }
  return invalid_argument("unknown parameter '" + raw_name + "'");
}

Result<Modelfile> parse_modelfile(const std::string& text) {
  Modelfile mf;
  size_t pos = 0;
  int line_no = 0;
  auto fail = [&](int line, const std::string& m) { return invalid_argument("Modelfile line " + std::to_string(line) + ": " + m); };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    ++line_no;
    const int start_line = line_no;
    while (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF (and stray CRs: reading stays idempotent)
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t sp = 0;
    while (sp < t.size() && !std::isspace(static_cast<unsigned char>(t[sp]))) ++sp;
    std::string instr = lower(t.substr(0, sp));
    std::string rest = trim(t.substr(sp));
    // Values: """ ... """ (possibly across lines), "quoted", or the rest of the line.
    auto take_value = [&](std::string v, std::string* out) -> Status {
      if (v.rfind("\"\"\"", 0) == 0) {
        std::string body = v.substr(3);
        size_t close = body.find("\"\"\"");
        while (close == std::string::npos) {
          if (pos >= text.size()) return fail(start_line, "unterminated \"\"\" block");
          size_t e2 = text.find('\n', pos);
          std::string next = text.substr(pos, e2 == std::string::npos ? std::string::npos : e2 - pos);
          pos = e2 == std::string::npos ? text.size() : e2 + 1;
          ++line_no;
          while (!next.empty() && next.back() == '\r') next.pop_back();
          body += "\n" + next;
          close = body.find("\"\"\"");
        }
        if (!trim(body.substr(close + 3)).empty()) return fail(line_no, "unexpected text after closing \"\"\"");
        *out = body.substr(0, close);
        return Status();
      }
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        *out = v.substr(1, v.size() - 2);
        return Status();
      }
      *out = v;
      return Status();
    };
    if (instr == "from") {
      if (rest.empty()) return fail(start_line, "FROM needs a model name or a GGUF path");
      if (!mf.from.empty()) return fail(start_line, "FROM given twice");
      HEARTH_RETURN_IF_ERROR(take_value(rest, &mf.from));
    } else if (instr == "parameter") {
      size_t s2 = 0;
      while (s2 < rest.size() && !std::isspace(static_cast<unsigned char>(rest[s2]))) ++s2;
      std::string name = rest.substr(0, s2), value;
      if (name.empty()) return fail(start_line, "PARAMETER needs a name and a value");
      HEARTH_RETURN_IF_ERROR(take_value(trim(rest.substr(s2)), &value));
      if (value.empty()) return fail(start_line, "PARAMETER " + name + " needs a value");
      auto v = parse_parameter(name, value);
      if (!v.ok()) return fail(start_line, v.status().message());
      std::string key = lower(name);
      if (key == "stop") {
        if (!mf.parameters.contains("stop")) mf.parameters["stop"] = nlohmann::ordered_json::array();
        mf.parameters["stop"].push_back(v.value());
      } else {
        mf.parameters[key] = v.value();
      }
    } else if (instr == "template") {
      HEARTH_RETURN_IF_ERROR(take_value(rest, &mf.template_text));
      mf.has_template = true;
    } else if (instr == "system") {
      HEARTH_RETURN_IF_ERROR(take_value(rest, &mf.system));
      mf.has_system = true;
    } else if (instr == "license") {
      std::string l;
      HEARTH_RETURN_IF_ERROR(take_value(rest, &l));
      mf.licenses.push_back(l);
    } else if (instr == "adapter") {
      std::string a;
      HEARTH_RETURN_IF_ERROR(take_value(rest, &a));
      if (a.empty()) return fail(start_line, "ADAPTER needs a path");
      mf.adapters.push_back(a);
    } else if (instr == "message") {
      size_t s2 = 0;
      while (s2 < rest.size() && !std::isspace(static_cast<unsigned char>(rest[s2]))) ++s2;
      std::string role = lower(rest.substr(0, s2)), content;
      if (role != "system" && role != "user" && role != "assistant")
        return fail(start_line, "MESSAGE role must be system, user or assistant, got '" + rest.substr(0, s2) + "'");
      HEARTH_RETURN_IF_ERROR(take_value(trim(rest.substr(s2)), &content));
      mf.messages.emplace_back(role, content);
    } else {
      return fail(start_line, "unknown instruction '" + t.substr(0, sp) + "'");
    }
  }
  if (mf.from.empty()) return invalid_argument("Modelfile has no FROM instruction");
  return mf;
}

std::string Modelfile::to_text() const {
  std::string out = "FROM " + quote_block(from) + "\n";
  for (const auto& a : adapters) out += "ADAPTER " + quote_block(a) + "\n";
  if (has_template) out += "TEMPLATE " + quote_block(template_text) + "\n";
  if (has_system) out += "SYSTEM " + quote_block(system) + "\n";
  for (const auto& [k, v] : parameters.items()) {
    if (v.is_array())
      for (const auto& s : v) out += "PARAMETER " + k + " " + quote_block(s.get<std::string>()) + "\n";
    else
      out += "PARAMETER " + k + " " + (v.is_string() ? quote_block(v.get<std::string>()) : v.dump()) + "\n";
  }
  for (const auto& [r, c] : messages) out += "MESSAGE " + r + " " + quote_block(c) + "\n";
  for (const auto& l : licenses) out += "LICENSE " + quote_block(l) + "\n";
  return out;
}

}  // namespace hearth::store
