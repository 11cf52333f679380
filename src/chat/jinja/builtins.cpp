// Filters, tests, methods of str/list/dict and global functions available to
// templates. Registries are tables keyed by name.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "chat/jinja/interpreter.h"

namespace hearth::chat::jinja {

namespace {

using Args = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;

Value arg(const Args& args, const Kwargs& kwargs, size_t pos, const char* name, Value def = Value::undefined("")) {
  for (const auto& [k, v] : kwargs)
    if (k == name) return v;
  return pos < args.size() ? args[pos] : def;
}

// String filters see Undefined as "" (as Jinja's default Undefined does) and
// other values as their str().
std::string need_str(const Value& v, const char*) { return v.to_str(); }

std::string strip(const std::string& s, const std::string& chars, bool left, bool right) {
  size_t b = 0, e = s.size();
  auto in = [&](char c) { return chars.empty() ? std::isspace(static_cast<unsigned char>(c)) != 0 : chars.find(c) != std::string::npos; };
  if (left)
    while (b < e && in(s[b])) ++b;
  if (right)
    while (e > b && in(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to, int64_t count = -1) {
  if (from.empty()) return s;
  size_t pos = 0;
  for (int64_t n = 0; (count < 0 || n < count) && (pos = s.find(from, pos)) != std::string::npos; ++n) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Value list_of(const Value& v) {
  if (v.kind == Kind::kList) return Value::make_list(*v.list);
  return Value::make_list(v.iterate());
}

// Attribute lookup along a dotted path ("a.b"), for selectattr/map/sort.
Value attr_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur.is_mapping()) return Value::undefined("no attribute '" + part + "'");
    const Value* f = cur.dict->find(part);
    if (!f) return Value::undefined("'dict object' has no attribute '" + part + "'");
    cur = *f;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

Value select_impl(Interpreter& in, const Value& seq, Args& args, bool by_attr, bool keep) {
  List out;
  if (!seq.truthy()) return Value::make_list(std::move(out), true);  // None/empty: nothing (as Jinja does)
  size_t first = by_attr ? 1 : 0;
  std::string attr = by_attr ? need_str(args.empty() ? Value() : args[0], "attribute name") : "";
  for (const Value& item : seq.iterate()) {
    Value subject = by_attr ? attr_path(item, attr) : item;
    bool ok;
    if (args.size() > first) {
      std::string test = need_str(args[first], "test name");
      Args targs(args.begin() + static_cast<long>(first) + 1, args.end());
      ok = in.apply_test(test, subject, targs);
    } else {
      ok = subject.truthy();
    }
    if (ok == keep) out.push_back(item);
  }
  return Value::make_list(std::move(out), true);
}

std::string indent_text(const std::string& s, const std::string& pad, bool first, bool blank) {
  std::string out;
  size_t start = 0;
  bool first_line = true;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    bool add = first_line ? first : (blank || !line.empty());
    if (add && !(line.empty() && !blank && !first_line)) out += pad;
    out += line;
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
    first_line = false;
  }
  return out;
}

std::string title_case(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (auto& c : out) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
      start = false;
    } else {
      start = true;
    }
  }
  return out;
}

using FilterFn = Value (*)(Interpreter&, Value&, Args&, Kwargs&);

const std::map<std::string, FilterFn>& filters() {
  static const std::map<std::string, FilterFn> kFilters = {
      {"trim", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         return Value::string(strip(need_str(v, "trim input"), arg(a, k, 0, "chars").is_string() ? arg(a, k, 0, "chars").str() : "", true, true));
       }},
      {"upper", [](Interpreter&, Value& v, Args&, Kwargs&) { return Value::string(upper(need_str(v, "upper input"))); }},
      {"lower", [](Interpreter&, Value& v, Args&, Kwargs&) { return Value::string(lower(need_str(v, "lower input"))); }},
      {"capitalize", [](Interpreter&, Value& v, Args&, Kwargs&) {
         std::string s = lower(need_str(v, "capitalize input"));
         if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
         return Value::string(s);
       }},
      {"title", [](Interpreter&, Value& v, Args&, Kwargs&) { return Value::string(title_case(need_str(v, "title input"))); }},
      {"length", [](Interpreter&, Value& v, Args&, Kwargs&) { return Value::integer(static_cast<int64_t>(v.length())); }},
      {"count", [](Interpreter&, Value& v, Args&, Kwargs&) { return Value::integer(static_cast<int64_t>(v.length())); }},
      {"string", [](Interpreter&, Value& v, Args&, Kwargs&) { return Value::string(v.to_str()); }},
      {"safe", [](Interpreter&, Value& v, Args&, Kwargs&) {
         Value r = Value::string(v.to_str());
         r.safe = true;
         return r;
       }},
      {"e", [](Interpreter&, Value& v, Args&, Kwargs&) {
         if (v.safe) return v;
         Value r = Value::string(html_escape(v.to_str()));
         r.safe = true;
         return r;
       }},
      {"int", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         Value def = arg(a, k, 0, "default", Value::integer(0));
         if (v.kind == Kind::kInt) return v;
         if (v.kind == Kind::kFloat) return Value::integer(static_cast<int64_t>(v.f));
         if (v.kind == Kind::kBool) return Value::integer(v.b);
         if (v.is_string()) {
           try {
             size_t used = 0;
             std::string s = strip(v.str(), "", true, true);
             int64_t r = std::stoll(s, &used);
             if (used == s.size()) return Value::integer(r);
             return Value::integer(static_cast<int64_t>(std::stod(s)));
           } catch (const std::exception&) {
           }
         }
         return def;
       }},
      {"float", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         Value def = arg(a, k, 0, "default", Value::number(0));
         if (v.is_number() || v.kind == Kind::kBool) return Value::number(v.as_double());
         if (v.is_string()) {
           try {
             return Value::number(std::stod(v.str()));
           } catch (const std::exception&) {
           }
         }
         return def;
       }},
      {"abs", [](Interpreter&, Value& v, Args&, Kwargs&) {
         if (v.kind == Kind::kInt) return Value::integer(v.i < 0 ? -v.i : v.i);
         return Value::number(std::fabs(v.as_double()));
       }},
      {"round", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         int64_t prec = arg(a, k, 0, "precision", Value::integer(0)).i;
         std::string method = arg(a, k, 1, "method", Value::string("common")).to_str();
         double m = std::pow(10.0, static_cast<double>(prec)), x = v.as_double() * m;
         x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
         return Value::number(x / m);
       }},
      {"default", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         Value def = arg(a, k, 0, "default_value", Value::string(""));
         bool boolean = arg(a, k, 1, "boolean", Value::boolean(false)).truthy();
         if (v.is_undefined() || (boolean && !v.truthy())) return def;
         return v;
       }},
      {"first", [](Interpreter&, Value& v, Args&, Kwargs&) {
         List l = v.iterate();
         return l.empty() ? Value::undefined("no first item, sequence was empty") : l.front();
       }},
      {"last", [](Interpreter&, Value& v, Args&, Kwargs&) {
         List l = v.iterate();
         return l.empty() ? Value::undefined("no last item, sequence was empty") : l.back();
       }},
      {"list", [](Interpreter&, Value& v, Args&, Kwargs&) { return list_of(v); }},
      {"reverse", [](Interpreter&, Value& v, Args&, Kwargs&) {
         if (v.is_string()) {
           auto c = utf8_chars(v.str());
           std::reverse(c.begin(), c.end());
           std::string s;
           for (auto& x : c) s += x;
           return Value::string(s);
         }
         List l = v.iterate();
         std::reverse(l.begin(), l.end());
         return Value::make_list(std::move(l), true);
       }},
      {"join", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         std::string sep = arg(a, k, 0, "d", Value::string("")).to_str();
         Value attr = arg(a, k, 1, "attribute");
         std::string out;
         bool first = true;
         for (const Value& x : v.iterate()) {
           if (!first) out += sep;
           first = false;
           out += (attr.is_string() ? attr_path(x, attr.str()) : x).to_str();
         }
         return Value::string(out);
       }},
      {"replace", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         return Value::string(replace_all(need_str(v, "replace input"), need_str(arg(a, k, 0, "old"), "old"),
                                          need_str(arg(a, k, 1, "new"), "new"), arg(a, k, 2, "count", Value::integer(-1)).i));
       }},
      {"items", [](Interpreter&, Value& v, Args&, Kwargs&) {
         if (v.is_undefined()) return Value::make_list();
         if (!v.is_mapping()) throw Error(std::string("items filter needs a mapping, got ") + v.type_name());
         List out;
         for (const auto& [key, val] : v.dict->items) out.push_back(Value::make_list({Value::string(key), val}));
         return Value::make_list(std::move(out));
       }},
      {"dictsort", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         if (!v.is_mapping()) throw Error("dictsort needs a mapping");
         bool by_value = arg(a, k, 1, "by", Value::string("key")).to_str() == "value";
         bool reverse = arg(a, k, 2, "reverse", Value::boolean(false)).truthy();
         List out;
         for (const auto& [key, val] : v.dict->items) out.push_back(Value::make_list({Value::string(key), val}));
         std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
           int c = compare((*x.list)[by_value], (*y.list)[by_value]);
           return reverse ? c > 0 : c < 0;
         });
         return Value::make_list(std::move(out));
       }},
      {"sort", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         bool reverse = arg(a, k, 0, "reverse", Value::boolean(false)).truthy();
         Value attr = arg(a, k, 2, "attribute");
         List l = v.iterate();
         std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
           Value xa = attr.is_string() ? attr_path(x, attr.str()) : x, ya = attr.is_string() ? attr_path(y, attr.str()) : y;
           int c = compare(xa, ya);
           return reverse ? c > 0 : c < 0;
         });
         return Value::make_list(std::move(l));
       }},
      {"unique", [](Interpreter&, Value& v, Args&, Kwargs&) {
         List out;
         for (const Value& x : v.iterate()) {
           bool seen = false;
           for (const Value& y : out) seen |= equals(x, y);
           if (!seen) out.push_back(x);
         }
         return Value::make_list(std::move(out), true);
       }},
      {"sum", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         Value attr = arg(a, k, 0, "attribute");
         Value total = arg(a, k, 1, "start", Value::integer(0));
         for (const Value& x : v.iterate()) {
           Value t = attr.is_string() ? attr_path(x, attr.str()) : x;
           if (total.kind == Kind::kInt && t.kind == Kind::kInt) total = Value::integer(total.i + t.i);
           else total = Value::number(total.as_double() + t.as_double());
         }
         return total;
       }},
      {"min", [](Interpreter&, Value& v, Args&, Kwargs&) {
         List l = v.iterate();
         if (l.empty()) return Value::undefined("min of an empty sequence");
         return *std::min_element(l.begin(), l.end(), [](const Value& x, const Value& y) { return compare(x, y) < 0; });
       }},
      {"max", [](Interpreter&, Value& v, Args&, Kwargs&) {
         List l = v.iterate();
         if (l.empty()) return Value::undefined("max of an empty sequence");
         return *std::max_element(l.begin(), l.end(), [](const Value& x, const Value& y) { return compare(x, y) < 0; });
       }},
      {"tojson", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         Value ind = arg(a, k, 0, "indent");
         return Value::string(to_json(v, ind.kind == Kind::kInt ? static_cast<int>(std::clamp<int64_t>(ind.i, 0, 32)) : -1));
       }},
      {"indent", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         Value w = arg(a, k, 0, "width", Value::integer(4));
         std::string pad = w.is_string() ? w.str() : std::string(static_cast<size_t>(std::clamp<int64_t>(w.i, 0, 256)), ' ');
         return Value::string(indent_text(v.to_str(), pad, arg(a, k, 1, "first", Value::boolean(false)).truthy(),
                                          arg(a, k, 2, "blank", Value::boolean(false)).truthy()));
       }},
      {"wordcount", [](Interpreter&, Value& v, Args&, Kwargs&) {
         int64_t n = 0;
         bool in_word = false;
         for (char c : v.to_str()) {
           bool w = !std::isspace(static_cast<unsigned char>(c));
           if (w && !in_word) ++n;
           in_word = w;
         }
         return Value::integer(n);
       }},
      {"select", [](Interpreter& in, Value& v, Args& a, Kwargs&) { return select_impl(in, v, a, false, true); }},
      {"reject", [](Interpreter& in, Value& v, Args& a, Kwargs&) { return select_impl(in, v, a, false, false); }},
      {"selectattr", [](Interpreter& in, Value& v, Args& a, Kwargs&) { return select_impl(in, v, a, true, true); }},
      {"rejectattr", [](Interpreter& in, Value& v, Args& a, Kwargs&) { return select_impl(in, v, a, true, false); }},
      {"map", [](Interpreter& in, Value& v, Args& a, Kwargs& k) {
         Value attr = arg(a, k, 99, "attribute");
         List out;
         if (!v.truthy()) return Value::make_list(std::move(out), true);
         if (attr.is_string()) {
           Value def = arg(a, k, 99, "default");
           for (const Value& x : v.iterate()) {
             Value r = attr_path(x, attr.str());
             out.push_back(r.is_undefined() && !def.is_undefined() ? def : r);
           }
         } else {
           if (a.empty()) throw Error("map needs a filter name or attribute=");
           std::string f = need_str(a[0], "filter name");
           Args rest(a.begin() + 1, a.end());
           Kwargs none;
           for (const Value& x : v.iterate()) {
             Args r = rest;
             out.push_back(in.apply_filter(f, x, r, none));
           }
         }
         return Value::make_list(std::move(out), true);
       }},
      {"batch", [](Interpreter&, Value& v, Args& a, Kwargs& k) {
         int64_t n = arg(a, k, 0, "linecount", Value::integer(1)).i;
         if (n <= 0) throw Error("batch size must be positive");
         List out, cur;
         for (const Value& x : v.iterate()) {
           cur.push_back(x);
           if (static_cast<int64_t>(cur.size()) == n) {
             out.push_back(Value::make_list(std::move(cur)));
             cur.clear();
           }
         }
         if (!cur.empty()) out.push_back(Value::make_list(std::move(cur)));
         return Value::make_list(std::move(out), true);
       }},
  };
  return kFilters;
}

using TestFn = bool (*)(const Value&, Args&);

const std::map<std::string, TestFn>& tests() {
  static const std::map<std::string, TestFn> kTests = {
      {"defined", [](const Value& v, Args&) { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, Args&) { return v.is_undefined(); }},
      {"none", [](const Value& v, Args&) { return v.is_none(); }},
      {"boolean", [](const Value& v, Args&) { return v.kind == Kind::kBool; }},
      {"true", [](const Value& v, Args&) { return v.kind == Kind::kBool && v.b; }},
      {"false", [](const Value& v, Args&) { return v.kind == Kind::kBool && !v.b; }},
      {"integer", [](const Value& v, Args&) { return v.kind == Kind::kInt; }},
      {"float", [](const Value& v, Args&) { return v.kind == Kind::kFloat; }},
      {"number", [](const Value& v, Args&) { return v.is_number(); }},
      {"string", [](const Value& v, Args&) { return v.is_string(); }},
      {"mapping", [](const Value& v, Args&) { return v.is_mapping(); }},
      {"iterable", [](const Value& v, Args&) { return v.is_iterable(); }},
      {"sequence", [](const Value& v, Args&) { return v.kind == Kind::kList || v.is_string() || v.kind == Kind::kDict; }},
      {"callable", [](const Value& v, Args&) { return v.kind == Kind::kCallable; }},
      {"sameas", [](const Value& v, Args& a) {
         if (a.empty()) return false;
         if (v.kind != a[0].kind) return false;
         if (v.is_mapping()) return v.dict == a[0].dict;
         if (v.kind == Kind::kList) return v.list == a[0].list;
         return equals(v, a[0]);
       }},
      {"equalto", [](const Value& v, Args& a) { return !a.empty() && equals(v, a[0]); }},
      {"eq", [](const Value& v, Args& a) { return !a.empty() && equals(v, a[0]); }},
      {"==", [](const Value& v, Args& a) { return !a.empty() && equals(v, a[0]); }},
      {"ne", [](const Value& v, Args& a) { return a.empty() || !equals(v, a[0]); }},
      {"!=", [](const Value& v, Args& a) { return a.empty() || !equals(v, a[0]); }},
      {"lt", [](const Value& v, Args& a) { return !a.empty() && compare(v, a[0]) < 0; }},
      {"le", [](const Value& v, Args& a) { return !a.empty() && compare(v, a[0]) <= 0; }},
      {"gt", [](const Value& v, Args& a) { return !a.empty() && compare(v, a[0]) > 0; }},
      {"ge", [](const Value& v, Args& a) { return !a.empty() && compare(v, a[0]) >= 0; }},
      {"in", [](const Value& v, Args& a) {
         if (a.empty()) return false;
         if (a[0].is_string()) return v.is_string() && a[0].str().find(v.str()) != std::string::npos;
         if (a[0].is_mapping()) return v.is_string() && a[0].dict->find(v.str()) != nullptr;
         for (const Value& x : a[0].iterate())
           if (equals(v, x)) return true;
         return false;
       }},
      {"even", [](const Value& v, Args&) { return v.kind == Kind::kInt && v.i % 2 == 0; }},
      {"odd", [](const Value& v, Args&) { return v.kind == Kind::kInt && v.i % 2 != 0; }},
      {"divisibleby", [](const Value& v, Args& a) {
         return !a.empty() && a[0].kind == Kind::kInt && a[0].i != 0 && v.kind == Kind::kInt && v.i % a[0].i == 0;
       }},
      {"lower", [](const Value& v, Args&) { return v.is_string() && lower(v.str()) == v.str(); }},
      {"upper", [](const Value& v, Args&) { return v.is_string() && upper(v.str()) == v.str(); }},
  };
  return kTests;
}

Value method_fn(std::string name, std::function<Value(Args&, Kwargs&)> f) { return Value::callable(std::move(name), std::move(f)); }

Value string_method(const Value& obj, const std::string& name) {
  const std::string s = obj.str();
  if (name == "strip" || name == "lstrip" || name == "rstrip")
    return method_fn(name, [s, name](Args& a, Kwargs& k) {
      Value c = arg(a, k, 0, "chars");
      return Value::string(strip(s, c.is_string() ? c.str() : "", name != "rstrip", name != "lstrip"));
    });
  if (name == "upper") return method_fn(name, [s](Args&, Kwargs&) { return Value::string(upper(s)); });
  if (name == "lower") return method_fn(name, [s](Args&, Kwargs&) { return Value::string(lower(s)); });
  if (name == "title") return method_fn(name, [s](Args&, Kwargs&) { return Value::string(title_case(s)); });
  if (name == "capitalize")
    return method_fn(name, [s](Args&, Kwargs&) {
      std::string r = lower(s);
      if (!r.empty()) r[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(r[0])));
      return Value::string(r);
    });
  if (name == "startswith" || name == "endswith")
    return method_fn(name, [s, name](Args& a, Kwargs& k) {
      Value p = arg(a, k, 0, "prefix");
      List options = p.kind == Kind::kList ? *p.list : List{p};
      for (const Value& o : options) {
        std::string x = need_str(o, "prefix");
        bool hit = name == "startswith" ? s.compare(0, x.size(), x) == 0
                                        : s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    });
  if (name == "split")
    return method_fn(name, [s](Args& a, Kwargs& k) {
      Value sep = arg(a, k, 0, "sep", Value::none());
      int64_t maxsplit = arg(a, k, 1, "maxsplit", Value::integer(-1)).i;
      List out;
      if (sep.is_none() || sep.is_undefined()) {
        size_t i = 0;
        int64_t n = 0;
        while (i < s.size()) {
          while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
          if (i >= s.size()) break;
          if (maxsplit >= 0 && n == maxsplit) {
            out.push_back(Value::string(strip(s.substr(i), "", false, true)));
            break;
          }
          size_t j = i;
          while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
          out.push_back(Value::string(s.substr(i, j - i)));
          ++n;
          i = j;
        }
        return Value::make_list(std::move(out));
      }
      std::string d = need_str(sep, "separator");
      if (d.empty()) throw Error("empty separator");
      size_t start = 0;
      int64_t n = 0;
      for (;;) {
        size_t p = (maxsplit >= 0 && n >= maxsplit) ? std::string::npos : s.find(d, start);
        if (p == std::string::npos) {
          out.push_back(Value::string(s.substr(start)));
          break;
        }
        out.push_back(Value::string(s.substr(start, p - start)));
        start = p + d.size();
        ++n;
      }
      return Value::make_list(std::move(out));
    });
  if (name == "replace")
    return method_fn(name, [s](Args& a, Kwargs& k) {
      return Value::string(replace_all(s, need_str(arg(a, k, 0, "old"), "old"), need_str(arg(a, k, 1, "new"), "new"),
                                       arg(a, k, 2, "count", Value::integer(-1)).i));
    });
  if (name == "find" || name == "count")
    return method_fn(name, [s, name](Args& a, Kwargs& k) {
      std::string x = need_str(arg(a, k, 0, "sub"), "substring");
      if (name == "find") {
        size_t p = s.find(x);
        return Value::integer(p == std::string::npos ? -1 : static_cast<int64_t>(p));
      }
      int64_t n = 0;
      for (size_t p = s.find(x); !x.empty() && p != std::string::npos; p = s.find(x, p + x.size())) ++n;
      return Value::integer(n);
    });
  if (name == "join")
    return method_fn(name, [s](Args& a, Kwargs& k) {
      std::string out;
      bool first = true;
      for (const Value& x : arg(a, k, 0, "iterable").iterate()) {
        if (!first) out += s;
        first = false;
        out += x.to_str();
      }
      return Value::string(out);
    });
  return Value::undefined("");
}

}  // namespace

Value builtin_filter(Interpreter& in, const std::string& name, Value target, std::vector<Value>& args,
                     std::vector<std::pair<std::string, Value>>& kwargs) {
  in.step();
  std::string n = name == "d" ? "default" : name == "escape" ? "e" : name;
  auto it = filters().find(n);
  if (it == filters().end()) throw Error("no filter named '" + name + "'");
  return it->second(in, target, args, kwargs);
}

bool builtin_test(Interpreter& in, const std::string& name, const Value& target, std::vector<Value>& args) {
  in.step();
  auto it = tests().find(name);
  if (it == tests().end()) throw Error("no test named '" + name + "'");
  return it->second(target, args);
}

Value builtin_method(Interpreter&, const Value& obj, const std::string& name) {
  if (obj.is_string()) return string_method(obj, name);
  if (obj.kind == Kind::kDict) {
    Value o = obj;
    if (name == "items")
      return method_fn(name, [o](Args&, Kwargs&) {
        List out;
        for (const auto& [k, v] : o.dict->items) out.push_back(Value::make_list({Value::string(k), v}));
        return Value::make_list(std::move(out));
      });
    if (name == "keys")
      return method_fn(name, [o](Args&, Kwargs&) { return Value::make_list(o.iterate()); });
    if (name == "values")
      return method_fn(name, [o](Args&, Kwargs&) {
        List out;
        for (const auto& kv : o.dict->items) out.push_back(kv.second);
        return Value::make_list(std::move(out));
      });
    if (name == "get")
      return method_fn(name, [o](Args& a, Kwargs& k) {
        Value key = arg(a, k, 0, "key");
        const Value* v = key.is_string() ? o.dict->find(key.str()) : nullptr;
        return v ? *v : arg(a, k, 1, "default", Value::none());
      });
  }
  if (obj.kind == Kind::kList) {
    Value o = obj;
    if (name == "append")
      return method_fn(name, [o](Args& a, Kwargs&) {
        if (a.size() != 1) throw Error("append takes one argument");
        if (o.list->size() >= 1000000) throw Error("list too long");
        o.list->push_back(a[0]);
        return Value::none();
      });
    if (name == "pop")
      return method_fn(name, [o](Args& a, Kwargs&) {
        if (o.list->empty()) throw Error("pop from empty list");
        int64_t i = a.empty() ? -1 : a[0].i;
        int64_t n = static_cast<int64_t>(o.list->size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) throw Error("pop index out of range");
        Value v = (*o.list)[static_cast<size_t>(i)];
        o.list->erase(o.list->begin() + i);
        return v;
      });
    if (name == "index")
      return method_fn(name, [o](Args& a, Kwargs&) {
        for (size_t i = 0; i < o.list->size(); ++i)
          if (!a.empty() && equals((*o.list)[i], a[0])) return Value::integer(static_cast<int64_t>(i));
        throw Error("value is not in list");
      });
  }
  return Value::undefined("");
}

std::map<std::string, Value> builtin_globals(Interpreter& in) {
  std::map<std::string, Value> g;
  Interpreter* ip = &in;
  g["range"] = method_fn("range", [](Args& a, Kwargs&) {
    int64_t start = 0, stop = 0, step = 1;
    if (a.size() == 1) stop = a[0].i;
    else if (a.size() >= 2) {
      start = a[0].i;
      stop = a[1].i;
      if (a.size() >= 3) step = a[2].i;
    }
    if (step == 0) throw Error("range() step must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= 1000000) throw Error("range() too large");
      out.push_back(Value::integer(i));
    }
    return Value::make_list(std::move(out));
  });
  g["namespace"] = method_fn("namespace", [](Args& a, Kwargs& k) {
    Value ns = Value::make_namespace();
    if (!a.empty() && a[0].is_mapping())
      for (const auto& [key, v] : a[0].dict->items) ns.dict->set(key, v);
    for (const auto& [key, v] : k) ns.dict->set(key, v);
    return ns;
  });
  g["dict"] = method_fn("dict", [](Args& a, Kwargs& k) {
    Value d = Value::make_dict();
    if (!a.empty() && a[0].is_mapping())
      for (const auto& [key, v] : a[0].dict->items) d.dict->set(key, v);
    for (const auto& [key, v] : k) d.dict->set(key, v);
    return d;
  });
  g["raise_exception"] = method_fn("raise_exception", [](Args& a, Kwargs&) -> Value {
    throw Error(a.empty() ? "raise_exception called" : a[0].to_str());
  });
  g["strftime_now"] = method_fn("strftime_now", [ip](Args& a, Kwargs&) {
    std::string fmt = a.empty() ? "%Y-%m-%d" : a[0].to_str();
    if (fmt.size() > 256) throw Error("strftime format too long");
    std::time_t t = ip->now();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[512];
    size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    return Value::string(std::string(buf, n));
  });
  return g;
}

}  // namespace hearth::chat::jinja
