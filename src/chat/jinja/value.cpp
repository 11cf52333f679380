#include "chat/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace hearth::chat::jinja {

Value Value::make_list(List items, bool generator) {
  Value v;
  v.kind = Kind::kList;
  v.list = std::make_shared<List>(std::move(items));
  v.generator = generator;
  return v;
}

Value Value::make_dict() {
  Value v;
  v.kind = Kind::kDict;
  v.dict = std::make_shared<Dict>();
  return v;
}

Value Value::make_namespace() {
  Value v = make_dict();
  v.kind = Kind::kNamespace;
  return v;
}

Value Value::callable(std::string name,
                      std::function<Value(std::vector<Value>&, std::vector<std::pair<std::string, Value>>&)> f) {
  Value v;
  v.kind = Kind::kCallable;
  v.fn = std::make_shared<Callable>(Callable{std::move(name), std::move(f)});
  return v;
}

const Value* Dict::find(const std::string& k) const {
  for (const auto& kv : items)
    if (kv.first == k) return &kv.second;
  return nullptr;
}

void Dict::set(const std::string& k, Value v) {
  for (auto& kv : items)
    if (kv.first == k) {
      kv.second = std::move(v);
      return;
    }
  items.emplace_back(k, std::move(v));
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::kUndefined: case Kind::kNone: return false;
    case Kind::kBool: return b;
    case Kind::kInt: return i != 0;
    case Kind::kFloat: return f != 0;
    case Kind::kString: return !s->empty();
    case Kind::kList: return generator || !list->empty();
    case Kind::kDict: return !dict->items.empty();
    default: return true;
  }
}

double Value::as_double() const {
  if (kind == Kind::kInt) return static_cast<double>(i);
  if (kind == Kind::kFloat) return f;
  if (kind == Kind::kBool) return b ? 1 : 0;
  throw Error(std::string("expected a number, got ") + type_name());
}

namespace {

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, r.ptr);
  // Python writes exponents as e+16 / e-05 and keeps a ".0" on integral values.
  size_t e = s.find('e');
  if (e != std::string::npos) {
    std::string mant = s.substr(0, e), ex = s.substr(e + 1);
    char sign = '+';
    if (ex[0] == '-' || ex[0] == '+') {
      sign = ex[0] == '-' ? '-' : '+';
      ex = ex.substr(1);
    }
    while (ex.size() > 1 && ex[0] == '0') ex.erase(0, 1);
    if (ex.size() < 2) ex = "0" + ex;
    return mant + "e" + sign + ex;
  }
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

void json_string(const std::string& s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          *out += b;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void dump(const Value& v, int indent, int depth, std::string* out) {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out->push_back('\n');
    out->append(static_cast<size_t>(indent * d), ' ');
  };
  const char* item_sep = indent < 0 ? ", " : ",";
  switch (v.kind) {
    case Kind::kNone: *out += "null"; return;
    case Kind::kBool: *out += v.b ? "true" : "false"; return;
    case Kind::kInt: *out += std::to_string(v.i); return;
    case Kind::kFloat:
      if (std::isnan(v.f)) *out += "NaN";
      else if (std::isinf(v.f)) *out += v.f > 0 ? "Infinity" : "-Infinity";
      else *out += float_repr(v.f);
      return;
    case Kind::kString: json_string(v.str(), out); return;
    case Kind::kList: {
      if (v.generator) throw Error("Object of type generator is not JSON serializable");
      if (v.list->empty()) {
        *out += "[]";
        return;
      }
      out->push_back('[');
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) *out += item_sep;
        newline(depth + 1);
        dump((*v.list)[k], indent, depth + 1, out);
      }
      newline(depth);
      out->push_back(']');
      return;
    }
    case Kind::kDict: case Kind::kNamespace: {
      if (v.kind == Kind::kNamespace) throw Error("Object of type Namespace is not JSON serializable");
      if (v.dict->items.empty()) {
        *out += "{}";
        return;
      }
      out->push_back('{');
      for (size_t k = 0; k < v.dict->items.size(); ++k) {
        if (k) *out += item_sep;
        newline(depth + 1);
        json_string(v.dict->items[k].first, out);
        *out += ": ";
        dump(v.dict->items[k].second, indent, depth + 1, out);
      }
      newline(depth);
      out->push_back('}');
      return;
    }
    case Kind::kUndefined: throw Error("Object of type Undefined is not JSON serializable");
    case Kind::kCallable: throw Error("Object of type function is not JSON serializable");
  }
}

std::string py_quote(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == static_cast<unsigned char>(q)) { out += '\\'; out += q; }
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else out.push_back(static_cast<char>(c));
  }
  return out + q;
}

}  // namespace

std::string Value::to_str() const {
  switch (kind) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return b ? "True" : "False";
    case Kind::kInt: return std::to_string(i);
    case Kind::kFloat: return float_repr(f);
    case Kind::kString: return *s;
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind) {
    case Kind::kString: return py_quote(*s);
    case Kind::kList: {
      if (generator) return "<generator object>";
      std::string out = "[";
      for (size_t k = 0; k < list->size(); ++k) out += (k ? ", " : "") + (*list)[k].repr();
      return out + "]";
    }
    case Kind::kDict: {
      std::string out = "{";
      for (size_t k = 0; k < dict->items.size(); ++k)
        out += (k ? ", " : "") + py_quote(dict->items[k].first) + ": " + dict->items[k].second.repr();
      return out + "}";
    }
    case Kind::kNamespace: return "<Namespace>";
    case Kind::kCallable: return "<function " + fn->name + ">";
    default: return to_str();
  }
}

const char* Value::type_name() const {
  switch (kind) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return generator ? "generator" : "list";
    case Kind::kDict: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kCallable: return "function";
  }
  return "?";
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (c >= 0x80 && c < 0xC0) n = 1;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

List Value::iterate() const {
  switch (kind) {
    case Kind::kList: return *list;
    case Kind::kDict: {
      List keys;
      for (const auto& kv : dict->items) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Kind::kString: {
      List chars;
      for (auto& c : utf8_chars(*s)) chars.push_back(Value::string(c));
      return chars;
    }
    case Kind::kUndefined: return {};
    default: throw Error(std::string("'") + type_name() + "' object is not iterable");
  }
}

size_t Value::length() const {
  switch (kind) {
    case Kind::kList: return list->size();
    case Kind::kDict: return dict->items.size();
    case Kind::kString: return utf8_chars(*s).size();
    case Kind::kUndefined: return 0;
    default: throw Error(std::string("object of type '") + type_name() + "' has no len()");
  }
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.kind == Kind::kBool && b.is_number()) return (a.b ? 1.0 : 0.0) == b.as_double();
  if (b.kind == Kind::kBool && a.is_number()) return (b.b ? 1.0 : 0.0) == a.as_double();
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kUndefined: case Kind::kNone: return true;
    case Kind::kBool: return a.b == b.b;
    case Kind::kString: return a.str() == b.str();
    case Kind::kList:
      if (a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!equals((*a.list)[k], (*b.list)[k])) return false;
      return true;
    case Kind::kDict:
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& kv : a.dict->items) {
        const Value* o = b.dict->find(kv.first);
        if (!o || !equals(kv.second, *o)) return false;
      }
      return true;
    default: return a.dict == b.dict && a.fn == b.fn;
  }
}

int compare(const Value& a, const Value& b) {
  if ((a.is_number() || a.kind == Kind::kBool) && (b.is_number() || b.kind == Kind::kBool)) {
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.str().compare(b.str()) < 0 ? -1 : a.str() == b.str() ? 0 : 1;
  if (a.kind == Kind::kList && b.kind == Kind::kList) {
    for (size_t k = 0; k < std::min(a.list->size(), b.list->size()); ++k)
      if (int c = compare((*a.list)[k], (*b.list)[k])) return c;
    return a.list->size() < b.list->size() ? -1 : a.list->size() > b.list->size() ? 1 : 0;
  }
  throw Error(std::string("'<' not supported between instances of '") + a.type_name() + "' and '" + b.type_name() + "'");
}

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: return Value::integer(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List l;
      for (const auto& e : j) l.push_back(from_json(e));
      return Value::make_list(std::move(l));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = Value::make_dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict->set(it.key(), from_json(it.value()));
      return d;
    }
    default: return Value::none();
  }
}

std::string to_json(const Value& v, int indent) {
  std::string out;
  dump(v, indent, 0, &out);
  return out;
}

}  // namespace hearth::chat::jinja
