#include "sampling/json_schema.h"

#include <set>

namespace hearth::sampling {

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxNodes = 4096;
constexpr int kMaxDepth = 32;

class Compiler {
 public:
  Compiler(JsonSchema& out, const std::string& what) : s_(out), what_(what) {}

  Result<int> add(const Json& j, const std::string& at, int depth) {
    if (j.is_boolean()) {
      if (j.get<bool>()) return JsonSchema::kAny;
      return bad(at, "the schema false admits no value");
    }
    if (!j.is_object()) return bad(at, "a schema must be an object");
    if (depth > kMaxDepth) return bad(at, "schemas nest deeper than " + std::to_string(kMaxDepth));
    if (s_.nodes.size() >= kMaxNodes) return bad(at, "more than " + std::to_string(kMaxNodes) + " schemas");
    static const std::set<std::string> kKnown = {
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
        "title", "description", "$schema", "$id", "$comment", "default", "examples"};
    for (const auto& [key, value] : j.items())
      if (!kKnown.count(key)) return bad(at, "keyword '" + key + "' is not supported");
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
    const int index = static_cast<int>(s_.nodes.size());
    s_.nodes.push_back({});  // reserved: children are added after it
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
    if (j.contains("items")) {
      if (!typed) n.types = JsonSchema::kArray;
      HEARTH_ASSIGN_OR_RETURN(n.items, add(j["items"], at + "/items", depth + 1));
    }
    for (const char* k : {"minItems", "maxItems"}) {
      if (!j.contains(k)) continue;
      const Json& v = j[k];
      if (!v.is_number_integer() || v.get<int64_t>() < 0) return bad(at, std::string(k) + " must be an integer >= 0");
      (std::string(k) == "minItems" ? n.min_items : n.max_items) = v.get<int64_t>();
    }
    if (n.max_items >= 0 && n.min_items > n.max_items) return bad(at, "minItems is above maxItems");
    if (j.contains("enum")) {
      if (!j["enum"].is_array() || j["enum"].empty()) return bad(at, "enum must be a non-empty list");
      for (const Json& v : j["enum"]) n.enum_values.push_back(v.dump());
    }
    if (j.contains("const")) n.enum_values = {j["const"].dump()};
    s_.nodes[static_cast<size_t>(index)] = std::move(n);
    return index;
  }

 private:
  Status bad(const std::string& at, const std::string& why) const {
    return invalid_argument(what_ + ": JSON schema" + (at.empty() ? "" : " at " + at) + ": " + why);
  }
  JsonSchema& s_;
  const std::string& what_;
};

}  // namespace

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(const Json& schema, const std::string& what) {
  auto s = std::make_shared<JsonSchema>();
  s->nodes.push_back(Node{});  // kAny
  Compiler c(*s, what);
  HEARTH_ASSIGN_OR_RETURN(s->root, c.add(schema, "", 0));
  return std::shared_ptr<const JsonSchema>(std::move(s));
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
