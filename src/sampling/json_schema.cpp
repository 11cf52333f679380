#include "sampling/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace hearth::sampling {

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxNodes = 4096;
constexpr int kMaxDepth = 32;

class Compiler {
 public:
  Compiler(JsonSchema& out, const Json& document, const std::string& what) : s_(out), doc_(document), what_(what) {}

  Result<int> add(const Json& j, const std::string& at, int depth) {
    if (j.is_boolean()) {
      if (j.get<bool>()) return JsonSchema::kAny;
      return bad(at, "the schema false admits no value");
    }
    if (!j.is_object()) return bad(at, "a schema must be an object");
    if (depth > kMaxDepth) return bad(at, "schemas nest deeper than " + std::to_string(kMaxDepth));
    if (s_.nodes.size() >= kMaxNodes) return bad(at, "more than " + std::to_string(kMaxNodes) + " schemas");
    static const std::set<std::string> kAnnotations = {"title",   "description", "$schema", "$id",  "$comment",
                                                       "default", "examples",    "format",  "$defs", "definitions"};
    static const std::set<std::string> kAssertions = {"type",     "properties", "required",  "additionalProperties",
                                                      "items",    "minItems",   "maxItems",  "minLength",
                                                      "maxLength", "enum",      "const",     "minimum",
                                                      "maximum",  "exclusiveMinimum", "exclusiveMaximum",
                                                      "prefixItems", "additionalItems", "pattern"};
    static const std::set<std::string> kCombinators = {"$ref", "anyOf", "oneOf", "allOf"};
    std::string combinator;
    for (const auto& [key, value] : j.items()) {
      if (kCombinators.count(key)) {
        if (!combinator.empty()) return bad(at, "keywords '" + combinator + "' and '" + key + "' together are not supported");
        combinator = key;
      } else if (!kAnnotations.count(key) && !kAssertions.count(key)) {
        return bad(at, "keyword '" + key + "' is not supported");
      }
    }
    if (!combinator.empty()) {
      for (const auto& [key, value] : j.items())
        if (kAssertions.count(key)) return bad(at, "keyword '" + key + "' beside '" + combinator + "' is not supported");
      if (combinator == "$ref") return reference(j["$ref"], at, depth);
      const Json& list = j[combinator];
      if (!list.is_array() || list.empty()) return bad(at, combinator + " must be a non-empty list of schemas");
      if (combinator == "allOf" && list.size() != 1) return bad(at, "allOf of more than one schema is not supported");
      const int index = reserve();
      std::vector<int> alternatives;
      for (size_t i = 0; i < list.size(); ++i) {
        HEARTH_ASSIGN_OR_RETURN(int a, add(list[i], at + "/" + combinator + "/" + std::to_string(i), depth + 1));
        alternatives.push_back(a);
      }
      s_.nodes[static_cast<size_t>(index)].alternatives = std::move(alternatives);
      unions_.push_back({index, at, combinator});
      return index;
    }
    JsonSchema::Node n;
    bool typed = false;
    if (j.contains("type")) {
      typed = true;
      n.types = 0;
      const Json& t = j["type"];
      std::vector<Json> names = t.is_array() ? std::vector<Json>(t.begin(), t.end()) : std::vector<Json>{t};
      for (const Json& name : names) {
        if (!name.is_string()) return bad(at, "type must be a name or a list of names");
        const std::string v = name.get<std::string>();
        if (v == "object") n.types |= JsonSchema::kObject;
        else if (v == "array") n.types |= JsonSchema::kArray;
        else if (v == "string") n.types |= JsonSchema::kString;
        else if (v == "number") n.types |= JsonSchema::kNumber;
        else if (v == "integer") n.types |= JsonSchema::kInteger;
        else if (v == "boolean") n.types |= JsonSchema::kBoolean;
        else if (v == "null") n.types |= JsonSchema::kNull;
        else return bad(at, "unknown type '" + v + "'");
      }
      if (n.types == 0) return bad(at, "type lists no type");
    }
    const int index = reserve();  // children are added after it
    if (j.contains("properties")) {
      const Json& props = j["properties"];
      if (!props.is_object()) return bad(at, "properties must be an object");
      if (props.size() > JsonSchema::kMaxProperties)
        return bad(at, "more than " + std::to_string(JsonSchema::kMaxProperties) + " properties");
      if (!typed) n.types = JsonSchema::kObject;
      for (const auto& [name, sub] : props.items()) {
        HEARTH_ASSIGN_OR_RETURN(int child, add(sub, at + "/properties/" + name, depth + 1));
        const std::string quoted = Json(name).dump();
        n.names.push_back(quoted.substr(1, quoted.size() - 2));
        n.values.push_back(child);
      }
    }
    if (j.contains("required")) {
      const Json& req = j["required"];
      if (!req.is_array()) return bad(at, "required must be a list of names");
      for (const Json& name : req) {
        if (!name.is_string()) return bad(at, "required must be a list of names");
        const std::string quoted = Json(name.get<std::string>()).dump();
        const std::string escaped = quoted.substr(1, quoted.size() - 2);
        size_t i = 0;
        while (i < n.names.size() && n.names[i] != escaped) ++i;
        if (i == n.names.size()) return bad(at, "required property '" + name.get<std::string>() + "' is not in properties");
        n.required |= uint64_t{1} << i;
      }
    }
    if (j.contains("additionalProperties")) {
      const Json& a = j["additionalProperties"];
      if (a.is_boolean() && !a.get<bool>()) {
        n.additional = JsonSchema::kNotAllowed;
      } else {
        HEARTH_ASSIGN_OR_RETURN(n.additional, add(a, at + "/additionalProperties", depth + 1));
      }
    }
    // Tuples: prefixItems (2020-12) or an items list (draft 7), then items /
    // additionalItems for the rest (false: no more).
    const bool list_items = j.contains("items") && j["items"].is_array();
    const char* prefix_key = list_items ? "items" : j.contains("prefixItems") ? "prefixItems" : nullptr;
    const char* rest_key = list_items ? "additionalItems" : "items";
    if (list_items && j.contains("prefixItems")) return bad(at, "prefixItems and a list of items together are not supported");
    if (prefix_key) {
      const Json& list = j[prefix_key];
      if (!list.is_array()) return bad(at, std::string(prefix_key) + " must be a list of schemas");
      if (!typed) n.types = JsonSchema::kArray;
      for (size_t i = 0; i < list.size(); ++i) {
        HEARTH_ASSIGN_OR_RETURN(int item, add(list[i], at + "/" + prefix_key + "/" + std::to_string(i), depth + 1));
        n.prefix_items.push_back(item);
      }
    }
    if (j.contains(rest_key)) {
      if (!typed) n.types = JsonSchema::kArray;
      const Json& rest = j[rest_key];
      if (rest.is_boolean() && !rest.get<bool>()) {
        const auto limit = static_cast<int64_t>(n.prefix_items.size());
        n.max_items = n.max_items < 0 ? limit : std::min(n.max_items, limit);
      } else {
        HEARTH_ASSIGN_OR_RETURN(n.items, add(rest, at + "/" + rest_key, depth + 1));
      }
    }
    for (const char* k : {"minItems", "maxItems", "minLength", "maxLength"}) {
      if (!j.contains(k)) continue;
      const Json& v = j[k];
      if (!v.is_number_integer() || v.get<int64_t>() < 0) return bad(at, std::string(k) + " must be an integer >= 0");
      const std::string key = k;
      const int64_t value = v.get<int64_t>();
      if (key == "maxItems") n.max_items = n.max_items < 0 ? value : std::min(n.max_items, value);
      else (key == "minItems" ? n.min_items : key == "minLength" ? n.min_length : n.max_length) = value;
    }
    if (n.max_items >= 0 && n.min_items > n.max_items) return bad(at, "minItems is above maxItems");
    if (n.max_length >= 0 && n.min_length > n.max_length) return bad(at, "minLength is above maxLength");
    if (j.contains("pattern")) {
      if (!j["pattern"].is_string()) return bad(at, "pattern must be a string");
      auto pattern = JsonPattern::compile(j["pattern"].get<std::string>());
      if (!pattern.ok()) return bad(at, pattern.status().message());
      n.pattern = pattern.value();
    }
    if ((j.contains("minLength") || j.contains("maxLength") || j.contains("pattern")) && !typed) n.types = JsonSchema::kString;
    HEARTH_RETURN_IF_ERROR(bounds(j, at, typed, n));
    if (j.contains("enum")) {
      if (!j["enum"].is_array() || j["enum"].empty()) return bad(at, "enum must be a non-empty list");
      for (const Json& v : j["enum"]) n.enum_values.push_back(v.dump());
    }
    if (j.contains("const")) n.enum_values = {j["const"].dump()};
    s_.nodes[static_cast<size_t>(index)] = std::move(n);
    return index;
  }

  // Every node's `first`; alternatives may not lead back to themselves
  // without a value in between.
  Status finish() {
    std::vector<uint8_t> state(s_.nodes.size(), 0);  // 0 new, 1 being computed, 2 done
    for (size_t i = 0; i < s_.nodes.size(); ++i) HEARTH_RETURN_IF_ERROR(first_of(static_cast<int>(i), state));
    return Status();
  }

 private:
  struct Union {
    int index;
    std::string at, keyword;
  };

  // minimum / maximum / exclusiveMinimum / exclusiveMaximum, on integers:
  // made inclusive int64 bounds.
  Status bounds(const Json& j, const std::string& at, bool typed, JsonSchema::Node& n) const {
    bool any = false;
    for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
      if (!j.contains(k)) continue;
      any = true;
      const Json& v = j[k];
      const std::string key = k;
      if (v.is_boolean() && key.rfind("exclusive", 0) == 0) continue;  // draft 4's form, read with its bound below
      if (!v.is_number()) return bad(at, key + " must be a number");
      const double d = v.get<double>();
      if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return bad(at, key + " is out of range");
      const bool draft4_exclusive = (key == "minimum" && j.value("exclusiveMinimum", Json(false)).is_boolean() &&
                                     j.value("exclusiveMinimum", false)) ||
                                    (key == "maximum" && j.value("exclusiveMaximum", Json(false)).is_boolean() &&
                                     j.value("exclusiveMaximum", false));
      if (key == "minimum" || key == "exclusiveMinimum") {
        const bool exclusive = key == "exclusiveMinimum" || draft4_exclusive;
        const auto b = static_cast<int64_t>(exclusive ? std::floor(d) + 1 : std::ceil(d));
        n.minimum = std::max(n.minimum, b);
      } else {
        const bool exclusive = key == "exclusiveMaximum" || draft4_exclusive;
        const auto b = static_cast<int64_t>(exclusive ? std::ceil(d) - 1 : std::floor(d));
        n.maximum = std::min(n.maximum, b);
      }
    }
    if (!any) return Status();
    if (!typed) n.types = JsonSchema::kInteger;
    if (n.types != JsonSchema::kInteger)
      return bad(at, "minimum / maximum are supported on integers only (type: integer)");
    if (n.minimum > n.maximum) return bad(at, "no integer is within minimum and maximum");
    return Status();
  }

  int reserve() {
    s_.nodes.push_back({});
    return static_cast<int>(s_.nodes.size()) - 1;
  }

  // A `$ref` into this document, compiled once (a reference met again, also
  // from inside its own target, is the same node).
  Result<int> reference(const Json& ref, const std::string& at, int depth) {
    if (!ref.is_string()) return bad(at, "$ref must be a string");
    const std::string r = ref.get<std::string>();
    if (const auto it = refs_.find(r); it != refs_.end()) return it->second;
    if (r.empty() || r[0] != '#')
      return bad(at, "$ref '" + r + "' is not supported: only references into this schema ('#/$defs/...')");
    const Json* target = nullptr;
    try {
      const Json::json_pointer pointer(r.substr(1));
      if (doc_.contains(pointer)) target = &doc_.at(pointer);
    } catch (const Json::exception&) {
      return bad(at, "$ref '" + r + "' is not a JSON pointer");
    }
    if (target == nullptr) return bad(at, "$ref '" + r + "' points at nothing in the schema");
    if (s_.nodes.size() >= kMaxNodes) return bad(at, "more than " + std::to_string(kMaxNodes) + " schemas");
    const int index = reserve();
    refs_[r] = index;
    HEARTH_ASSIGN_OR_RETURN(int resolved, add(*target, r.substr(1), depth + 1));
    s_.nodes[static_cast<size_t>(index)].alternatives = {resolved};
    unions_.push_back({index, at, "$ref"});
    return index;
  }

  Status first_of(int i, std::vector<uint8_t>& state) {
    const size_t k = static_cast<size_t>(i);
    if (state[k] == 2) return Status();
    JsonSchema::Node& n = s_.nodes[k];
    if (state[k] == 1) {
      for (const Union& u : unions_)
        if (u.index == i) return bad(u.at, u.keyword + " leads back to itself before any value begins");
      return bad("", "a schema leads back to itself before any value begins");
    }
    state[k] = 1;
    uint8_t f = 0;
    if (!n.alternatives.empty()) {
      for (int a : n.alternatives) {
        HEARTH_RETURN_IF_ERROR(first_of(a, state));
        f |= s_.node(a).first;
      }
    } else if (!n.enum_values.empty()) {
      for (const std::string& v : n.enum_values) f |= JsonSchema::first_kind(static_cast<unsigned char>(v[0]));
    } else {
      f = n.types & ~JsonSchema::kInteger;
      if (n.types & JsonSchema::kInteger) f |= JsonSchema::kNumber;
    }
    s_.nodes[k].first = f;
    state[k] = 2;
    return Status();
  }

  Status bad(const std::string& at, const std::string& why) const {
    return invalid_argument(what_ + ": JSON schema" + (at.empty() ? "" : " at " + at) + ": " + why);
  }
  JsonSchema& s_;
  const Json& doc_;
  const std::string& what_;
  std::map<std::string, int> refs_;
  std::vector<Union> unions_;
};

}  // namespace

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(const Json& schema, const std::string& what) {
  auto s = std::make_shared<JsonSchema>();
  s->nodes.push_back(Node{});  // kAny
  Compiler c(*s, schema, what);
  HEARTH_ASSIGN_OR_RETURN(s->root, c.add(schema, "", 0));
  HEARTH_RETURN_IF_ERROR(c.finish());
  return std::shared_ptr<const JsonSchema>(std::move(s));
}

uint8_t JsonSchema::first_kind(unsigned char c) {
  switch (c) {
    case '{': return kObject;
    case '[': return kArray;
    case '"': return kString;
    case 't': case 'f': return kBoolean;
    case 'n': return kNull;
    default: return c == '-' || (c >= '0' && c <= '9') ? kNumber : 0;
  }
}

std::shared_ptr<const JsonSchema> JsonSchema::any_object() {
  static const std::shared_ptr<const JsonSchema> s = [] {
    auto o = std::make_shared<JsonSchema>();
    o->nodes.push_back(Node{});
    Node obj;
    obj.types = kObject;
    o->nodes.push_back(obj);
    o->root = 1;
    return std::shared_ptr<const JsonSchema>(std::move(o));
  }();
  return s;
}

}  // namespace hearth::sampling
