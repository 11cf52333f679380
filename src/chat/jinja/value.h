// Values of the template language: the Python-like data model Jinja templates
// expect (None, bool, int, float, str, list, dict in insertion order,
// namespace, callables, lazy sequences and Undefined).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::chat::jinja {

// Raised while rendering; the message is what the template's author sees.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Value;
struct Dict;
struct Callable;
using List = std::vector<Value>;

enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable };

struct Value {
  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::shared_ptr<const std::string> s;
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;        // kDict and kNamespace
  std::shared_ptr<Callable> fn;
  bool generator = false;            // a lazy sequence (map/select results): not JSON-serializable
  bool safe = false;                 // a "safe" (Markup) string: plain strings added to it get HTML-escaped
  std::string undefined_hint;        // why it is undefined, for error messages

  static Value undefined(std::string hint) { Value v; v.undefined_hint = std::move(hint); return v; }
  static Value none() { Value v; v.kind = Kind::kNone; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::kBool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::kInt; v.i = x; return v; }
  static Value number(double x) { Value v; v.kind = Kind::kFloat; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.kind = Kind::kString; v.s = std::make_shared<const std::string>(std::move(x)); return v; }
  static Value make_list(List items = {}, bool generator = false);
  static Value make_dict();
  static Value make_namespace();
  static Value callable(std::string name, std::function<Value(std::vector<Value>&, std::vector<std::pair<std::string, Value>>&)> f);

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat; }
  bool is_mapping() const { return kind == Kind::kDict || kind == Kind::kNamespace; }
  bool is_iterable() const { return kind == Kind::kList || kind == Kind::kDict || kind == Kind::kString; }
  const std::string& str() const { return *s; }

  bool truthy() const;
  double as_double() const;
  // Python str(): what {{ x }} prints.
  std::string to_str() const;
  // Python repr() (inside containers).
  std::string repr() const;
  const char* type_name() const;  // "dict object", "str", ...
  // Items to iterate (dict: keys; string: characters).
  List iterate() const;
  size_t length() const;
};

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(const std::string& k) const;
  void set(const std::string& k, Value v);
};

struct Callable {
  std::string name;
  std::function<Value(std::vector<Value>& args, std::vector<std::pair<std::string, Value>>& kwargs)> call;
};

bool equals(const Value& a, const Value& b);
// <0, 0, >0; throws for incomparable types.
int compare(const Value& a, const Value& b);

Value from_json(const nlohmann::ordered_json& j);
// Python json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: none).
std::string to_json(const Value& v, int indent = -1);

// HTML escaping as Markup does it (& < > " ').
std::string html_escape(const std::string& s);

// UTF-8 helpers: strings index and slice by codepoint, as in Python.
std::vector<std::string> utf8_chars(const std::string& s);

}  // namespace hearth::chat::jinja
