#include "chat/tool_calls.h"

#include <algorithm>
#include <optional>

#include "core/json_depth.h"

namespace hearth::chat {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>", kFence = "```json", kFenceEnd = "```";
// What a reply may begin a call with (besides '{' or '[').
constexpr std::string_view kStarts[] = {kOpen, "[TOOL_CALLS]", "<|python_tag|>", "functools", kFence};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

std::string trim(std::string_view s) {
  size_t b = skip_ws(s, 0), e = s.size();
  while (e > b && is_ws(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

bool starts(std::string_view s, size_t i, std::string_view what) { return s.compare(i, what.size(), what) == 0; }

// Deeper call JSON is not taken for a call (printing it back recurses).
constexpr int kMaxDepth = 256;

// The end of the JSON object or array at s[i] ('{' or '['): one past its
// closing bracket, or npos when it does not close (or nests too deep).
size_t json_value_end(std::string_view s, size_t i) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return std::string_view::npos;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// One call object: {"name", "arguments" | "parameters"} or {"function": {...}}.
std::optional<ToolCall> to_call(const Json& j, const std::vector<std::string>& names) {
  const Json* f = &j;
  if (j.is_object() && j.contains("function") && j["function"].is_object()) f = &j["function"];
  if (!f->is_object() || !f->contains("name") || !(*f)["name"].is_string()) return std::nullopt;
  ToolCall call;
  call.name = (*f)["name"].get<std::string>();
  if (std::find(names.begin(), names.end(), call.name) == names.end()) return std::nullopt;
  for (const char* key : {"arguments", "parameters"}) {
    if (!f->contains(key)) continue;
    Json args = (*f)[key];
    if (args.is_string()) args = core::parse_json_bounded<Json>(args.get<std::string>());
    if (args.is_null()) args = Json::object();
    if (!args.is_object()) return std::nullopt;
    call.arguments = std::move(args);
    break;
  }
  return call;
}

// A call object, or a list of them, appended to `out`.
bool add_value(const Json& v, const std::vector<std::string>& names, std::vector<ToolCall>& out) {
  if (v.is_array()) {
    if (v.empty()) return false;
    for (const Json& e : v)
      if (e.is_array() || !add_value(e, names, out)) return false;
    return true;
  }
  auto call = to_call(v, names);
  if (!call) return false;
  out.push_back(std::move(*call));
  return true;
}

// JSON values (objects or lists) separated by whitespace, ';' or ',', and
// nothing else.
bool parse_values(std::string_view s, const std::vector<std::string>& names, std::vector<ToolCall>& out) {
  size_t p = skip_ws(s, 0);
  if (p == s.size()) return false;
  while (p < s.size()) {
    if (s[p] != '{' && s[p] != '[') return false;
    const size_t e = json_value_end(s, p);
    if (e == std::string_view::npos) return false;
    const Json v = core::parse_json_bounded<Json>(s.substr(p, e - p));
    if (v.is_discarded() || !add_value(v, names, out)) return false;
    p = skip_ws(s, e);
    if (p < s.size() && (s[p] == ';' || s[p] == ',')) p = skip_ws(s, p + 1);
  }
  return true;
}

// Whether s is a proper prefix of something a call may begin with.
bool may_begin_call(std::string_view s) {
  for (std::string_view m : kStarts)
    if (s.size() < m.size() && m.substr(0, s.size()) == s) return true;
  return false;
}

}  // namespace

std::vector<std::string> tool_names(const nlohmann::ordered_json& tools) {
  std::vector<std::string> names;
  if (!tools.is_array()) return names;
  for (const Json& t : tools) {
    if (!t.is_object()) continue;
    const Json& f = t.contains("function") && t["function"].is_object() ? t["function"] : t;
    if (f.contains("name") && f["name"].is_string()) names.push_back(f["name"].get<std::string>());
  }
  return names;
}

ParsedReply parse_tool_calls(std::string_view s, const std::vector<std::string>& names) {
  ParsedReply text{std::string(s), {}};
  std::vector<ToolCall> calls;
  if (const size_t tag = s.find(kOpen); tag != std::string_view::npos) {
    // <tool_call> blocks, text before and after them.
    size_t p = tag;
    while (starts(s, p, kOpen)) {
      p = skip_ws(s, p + kOpen.size());
      if (p >= s.size() || (s[p] != '{' && s[p] != '[')) return text;
      const size_t e = json_value_end(s, p);
      if (e == std::string_view::npos) return text;
      const Json v = core::parse_json_bounded<Json>(s.substr(p, e - p));
      if (v.is_discarded() || !add_value(v, names, calls)) return text;
      p = skip_ws(s, e);
      if (starts(s, p, kClose)) p = skip_ws(s, p + kClose.size());
    }
    return {trim(std::string(s.substr(0, tag)) + std::string(s.substr(p))), std::move(calls)};
  }
  // A whole reply of calls, after an optional marker, maybe fenced.
  size_t p = skip_ws(s, 0);
  for (std::string_view m : {std::string_view("[TOOL_CALLS]"), std::string_view("<|python_tag|>"), std::string_view("functools")})
    if (starts(s, p, m)) {
      p = skip_ws(s, p + m.size());
      break;
    }
  size_t end = s.size();
  if (starts(s, p, kFence)) {
    p += kFence.size();
    end = s.rfind(kFenceEnd);
    if (end == std::string_view::npos || end < p || skip_ws(s, end + kFenceEnd.size()) != s.size()) return text;
  }
  if (!parse_values(s.substr(p, end - p), names, calls)) return text;
  return {"", std::move(calls)};
}

std::string ToolCallFilter::push(std::string_view text) {
  held_ += text;
  if (holding_) return "";
  if (!started_) {
    // The reply's start: a call may begin here with a marker or with JSON.
    const size_t i = skip_ws(held_, 0);
    if (i == held_.size()) return "";  // whitespace so far
    const std::string_view rest = std::string_view(held_).substr(i);
    bool call = rest[0] == '{' || rest[0] == '[';
    for (std::string_view m : kStarts) call = call || starts(rest, 0, m);
    if (call) {
      holding_ = true;
      return "";
    }
    if (may_begin_call(rest)) return "";  // "<tool", "funct", "``": not yet decided
    started_ = true;
  }
  // Mid-reply only <tool_call> begins calls: hold from it, or from a suffix
  // that may become it.
  std::string out;
  if (const size_t tag = held_.find(kOpen); tag != std::string::npos) {
    out = held_.substr(0, tag);
    held_.erase(0, tag);
    holding_ = true;
    return out;
  }
  size_t keep = std::min(held_.size(), kOpen.size() - 1);
  while (keep > 0 && kOpen.substr(0, keep) != std::string_view(held_).substr(held_.size() - keep)) --keep;
  out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

ParsedReply ToolCallFilter::finish() {
  ParsedReply r;
  if (holding_) r = parse_tool_calls(held_, names_);
  else r.content = held_;
  held_.clear();
  return r;
}

}  // namespace hearth::chat
