#include "store/go_template.h"

#include <cctype>
#include <stdexcept>
#include <vector>

namespace hearth::store {

using Json = nlohmann::ordered_json;

namespace {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A command: a field path, a literal, or a function applied to arguments.
struct Term {
  enum Kind { kField, kString, kNumber, kBool, kCall } kind = kField;
  std::vector<std::string> path;  // kField: from "." (root_ when starts with $)
  bool from_root = false;
  std::string text;               // kString literal, kCall function name
  double number = 0;
  bool boolean = false;
  std::vector<Term> args;
};

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size()) break;
    if (s[i] == '"') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
      if (j >= s.size()) throw Error("unterminated string in template action");
      out.push_back(s.substr(i, j - i + 1));
      i = j + 1;
    } else if (s[i] == '(' || s[i] == ')') {
      out.push_back(std::string(1, s[i]));
      ++i;
    } else {
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != '(' && s[j] != ')') ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
  }
  return out;
}

// Terms nest (parentheses, calls as arguments) at most this deep: parsing
// and evaluating them recurse once per level.
constexpr int kMaxTermDepth = 100;

Term parse_term(const std::vector<std::string>& w, size_t& i, int depth = 0);

Term parse_operand(const std::vector<std::string>& w, size_t& i, int depth) {
  if (depth > kMaxTermDepth) throw Error("template action nests deeper than " + std::to_string(kMaxTermDepth));
  if (i >= w.size()) throw Error("missing operand in template action");
  const std::string& t = w[i];
  if (t == "(") {
    ++i;
    Term inner = parse_term(w, i, depth + 1);
    if (i >= w.size() || w[i] != ")") throw Error("missing ')' in template action");
    ++i;
    return inner;
  }
  Term term;
  ++i;
  if (t[0] == '"') {
    term.kind = Term::kString;
    for (size_t k = 1; k + 1 < t.size(); ++k) {
      if (t[k] == '\\' && k + 2 < t.size()) {
        char e = t[++k];
        term.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        term.text += t[k];
      }
    }
  } else if (t[0] == '.' || t[0] == '$') {
    term.kind = Term::kField;
    term.from_root = t[0] == '$';
    size_t start = t[0] == '$' ? 1 : 0;
    std::string p = t.substr(start);
    size_t k = 0;
    while (k < p.size()) {
      if (p[k] != '.') throw Error("bad field reference '" + t + "'");
      size_t e = p.find('.', k + 1);
      std::string part = p.substr(k + 1, e == std::string::npos ? std::string::npos : e - k - 1);
      if (!part.empty()) term.path.push_back(part);
      k = e == std::string::npos ? p.size() : e;
    }
  } else if (t == "true" || t == "false") {
    term.kind = Term::kBool;
    term.boolean = t == "true";
  } else if (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '-') {
    term.kind = Term::kNumber;
    term.number = std::stod(t);
  } else {
    --i;
    return parse_term(w, i, depth + 1);
  }
  return term;
}

Term parse_term(const std::vector<std::string>& w, size_t& i, int depth) {
  if (depth > kMaxTermDepth) throw Error("template action nests deeper than " + std::to_string(kMaxTermDepth));
  if (i >= w.size()) throw Error("empty template action");
  const std::string& t = w[i];
  static const char* kFuncs[] = {"eq", "ne", "and", "or", "not", "len", "json", "lt", "gt", "le", "ge"};
  for (const char* f : kFuncs)
    if (t == f) {
      Term call;
      call.kind = Term::kCall;
      call.text = t;
      ++i;
      while (i < w.size() && w[i] != ")") call.args.push_back(parse_operand(w, i, depth + 1));
      return call;
    }
  if (t[0] == '.' || t[0] == '$' || t[0] == '"' || t == "(" || t == "true" || t == "false" ||
      std::isdigit(static_cast<unsigned char>(t[0])))
    return parse_operand(w, i, depth);
  throw Error("unknown function '" + t + "' in template");
}

bool truthy(const Json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !v.get<std::string>().empty();
  if (v.is_array() || v.is_object()) return !v.empty();
  return true;
}

std::string to_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

}  // namespace

struct GoTemplate::Node {
  enum Kind { kText, kOutput, kIf, kRange, kList } kind = kList;
  std::string text;
  Term term;
  std::vector<std::pair<Term, std::unique_ptr<Node>>> branches;  // kIf: (cond, body)
  std::unique_ptr<Node> else_body;                               // kIf / kRange
  std::unique_ptr<Node> body;                                    // kRange
  std::vector<std::unique_ptr<Node>> children;                   // kList
};

namespace {

struct Action {
  bool is_text;
  std::string text;  // text or the action's inside
};

std::vector<Action> lex(const std::string& src) {
  std::vector<Action> out;
  size_t pos = 0;
  while (pos < src.size()) {
    size_t open = src.find("{{", pos);
    if (open == std::string::npos) {
      out.push_back({true, src.substr(pos)});
      break;
    }
    std::string text = src.substr(pos, open - pos);
    size_t close = src.find("}}", open + 2);
    if (close == std::string::npos) throw Error("unterminated {{ in template");
    std::string inner = src.substr(open + 2, close - open - 2);
    bool trim_left = inner.size() >= 2 && inner[0] == '-' && std::isspace(static_cast<unsigned char>(inner[1]));
    bool trim_right = inner.size() >= 2 && inner.back() == '-' && std::isspace(static_cast<unsigned char>(inner[inner.size() - 2]));
    if (trim_left) {
      inner = inner.substr(1);
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    }
    if (trim_right) inner.pop_back();
    out.push_back({true, text});
    out.push_back({false, inner});
    pos = close + 2;
    if (trim_right)
      while (pos < src.size() && std::isspace(static_cast<unsigned char>(src[pos]))) ++pos;
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Action> a) : a_(std::move(a)) {}
  std::unique_ptr<GoTemplate::Node> parse_list(std::string* ended_by, int depth) {
    if (depth > 100) throw Error("template nesting too deep");
    auto list = std::make_unique<GoTemplate::Node>();
    list->kind = GoTemplate::Node::kList;
    while (i_ < a_.size()) {
      const Action& act = a_[i_++];
      if (act.is_text) {
        if (act.text.empty()) continue;
        auto n = std::make_unique<GoTemplate::Node>();
        n->kind = GoTemplate::Node::kText;
        n->text = act.text;
        list->children.push_back(std::move(n));
        continue;
      }
      std::string inner = act.text;
      size_t b = 0;  // leading white space as split_words sees it (\v and \f too)
      while (b < inner.size() && std::isspace(static_cast<unsigned char>(inner[b]))) ++b;
      inner = inner.substr(b);
      if (inner.rfind("/*", 0) == 0) continue;  // comment
      std::vector<std::string> w = split_words(inner);
      if (w.empty()) throw Error("empty template action");
      const std::string& kw = w[0];
      if (kw == "end" || kw == "else") {
        *ended_by = inner;
        return list;
      }
      if (kw == "if") {
        auto n = std::make_unique<GoTemplate::Node>();
        n->kind = GoTemplate::Node::kIf;
        size_t k = 1;
        Term cond = parse_term(w, k);
        for (;;) {
          std::string end;
          auto body = parse_list(&end, depth + 1);
          n->branches.emplace_back(cond, std::move(body));
          if (end.rfind("else if", 0) == 0) {
            auto ew = split_words(end);
            size_t k2 = 2;
            cond = parse_term(ew, k2);
            continue;
          }
          if (end.rfind("else", 0) == 0) {
            std::string end2;
            n->else_body = parse_list(&end2, depth + 1);
            if (end2.rfind("end", 0) != 0) throw Error("{{ if }} without {{ end }}");
          } else if (end.rfind("end", 0) != 0) {
            throw Error("{{ if }} without {{ end }}");
          }
          break;
        }
        list->children.push_back(std::move(n));
        continue;
      }
      if (kw == "range") {
        auto n = std::make_unique<GoTemplate::Node>();
        n->kind = GoTemplate::Node::kRange;
        size_t k = 1;
        n->term = parse_term(w, k);
        std::string end;
        n->body = parse_list(&end, depth + 1);
        if (end.rfind("else", 0) == 0) {
          std::string end2;
          n->else_body = parse_list(&end2, depth + 1);
          end = end2;
        }
        if (end.rfind("end", 0) != 0) throw Error("{{ range }} without {{ end }}");
        list->children.push_back(std::move(n));
        continue;
      }
      auto n = std::make_unique<GoTemplate::Node>();
      n->kind = GoTemplate::Node::kOutput;
      size_t k = 0;
      n->term = parse_term(w, k);
      if (k != w.size()) throw Error("unexpected '" + w[k] + "' in template action");
      list->children.push_back(std::move(n));
    }
    return list;
  }

 private:
  std::vector<Action> a_;
  size_t i_ = 0;
};

// A value in rendering: a reference into the data (fields: never copied, so
// a step costs the same whatever the size of the conversation it reads) or
// one computed by the action.
struct Val {
  const Json* ref = nullptr;
  Json own;
  Val() = default;
  Val(const Json* r) : ref(r) {}  // NOLINT(google-explicit-constructor)
  template <class T>
  Val(T&& v) : own(std::forward<T>(v)) {}  // NOLINT(google-explicit-constructor)
  const Json& get() const { return ref ? *ref : own; }
};

struct Renderer {
  const Json& root;
  std::string out;
  size_t steps = 0;
  static inline const Json kNull;

  const Json* field(const Term& t, const Json& dot) const {
    const Json* cur = t.from_root ? &root : &dot;
    for (const auto& p : t.path) {
      if (!cur->is_object()) return &kNull;
      if (cur->contains(p)) {
        cur = &(*cur)[p];
        continue;
      }
      // Ollama's data are Go structs whose fields print as lower-case JSON
      // keys (.Function.Name of a tool is {"function": {"name"}}): a field
      // not found as written is looked up with its first letter lowered.
      std::string lower = p;
      if (!lower.empty() && lower[0] >= 'A' && lower[0] <= 'Z') lower[0] = static_cast<char>(lower[0] - 'A' + 'a');
      if (lower == p || !cur->contains(lower)) return &kNull;
      cur = &(*cur)[lower];
    }
    return cur;
  }

  Val eval(const Term& t, const Json& dot) {
    if (++steps > 1000000) throw Error("template step budget exceeded");
    switch (t.kind) {
      case Term::kField: return Val(field(t, dot));
      case Term::kString: return Val(Json(t.text));
      case Term::kNumber: return Val(Json(t.number));
      case Term::kBool: return Val(Json(t.boolean));
      case Term::kCall: break;
    }
    const std::string& f = t.text;
    auto arg = [&](size_t k) {
      if (k >= t.args.size()) throw Error("function " + f + " needs more arguments");
      return eval(t.args[k], dot);
    };
    if (f == "not") return Val(Json(!truthy(arg(0).get())));
    if (f == "and") {
      Val v;
      for (size_t k = 0; k < t.args.size(); ++k)
        if (!truthy((v = arg(k)).get())) return v;
      return v;
    }
    if (f == "or") {
      Val v;
      for (size_t k = 0; k < t.args.size(); ++k)
        if (truthy((v = arg(k)).get())) return v;
      return v;
    }
    if (f == "len") {
      const Val a = arg(0);
      const Json& v = a.get();
      if (v.is_string()) return Val(Json(v.get_ref<const std::string&>().size()));
      return Val(Json(v.is_null() ? 0 : v.size()));
    }
    if (f == "json") return Val(Json(arg(0).get().dump()));
    const Val va = arg(0), vb = arg(1);
    const Json &a = va.get(), &b = vb.get();
    if (f == "eq") {
      if (a == b) return Val(Json(true));
      for (size_t k = 2; k < t.args.size(); ++k)
        if (a == arg(k).get()) return Val(Json(true));
      return Val(Json(false));
    }
    if (f == "ne") return Val(Json(a != b));
    if (!a.is_number() || !b.is_number()) throw Error("function " + f + " compares numbers");
    double x = a.get<double>(), y = b.get<double>();
    if (f == "lt") return Val(Json(x < y));
    if (f == "gt") return Val(Json(x > y));
    if (f == "le") return Val(Json(x <= y));
    return Val(Json(x >= y));
  }

  void run(const GoTemplate::Node& n, const Json& dot) {
    if (++steps > 1000000) throw Error("template step budget exceeded");
    switch (n.kind) {
      case GoTemplate::Node::kText: out += n.text; break;
      case GoTemplate::Node::kOutput: out += to_text(eval(n.term, dot).get()); break;
      case GoTemplate::Node::kList:
        for (const auto& c : n.children) run(*c, dot);
        break;
      case GoTemplate::Node::kIf:
        for (const auto& [cond, body] : n.branches)
          if (truthy(eval(cond, dot).get())) {
            run(*body, dot);
            return;
          }
        if (n.else_body) run(*n.else_body, dot);
        break;
      case GoTemplate::Node::kRange: {
        const Val held = eval(n.term, dot);
        const Json& list = held.get();
        if (!truthy(list)) {
          if (n.else_body) run(*n.else_body, dot);
          break;
        }
        if (list.is_array())
          for (const auto& item : list) run(*n.body, item);
        else if (list.is_object())
          for (const auto& [k, v] : list.items()) run(*n.body, v);
        else
          throw Error("range over a value that is not a list");
        break;
      }
    }
    if (out.size() > (8u << 20)) throw Error("template output exceeds the size limit");
  }
};

}  // namespace

GoTemplate::~GoTemplate() = default;

Result<std::shared_ptr<const GoTemplate>> GoTemplate::parse(const std::string& text) {
  try {
    std::vector<Action> actions = lex(text);
    std::string inside;
    for (const Action& a : actions)
      if (!a.is_text) inside += a.text + "\n";
    Parser p(std::move(actions));
    std::string end;
    auto root = p.parse_list(&end, 0);
    if (!end.empty()) return invalid_argument("TEMPLATE: unexpected {{ " + end + " }}");
    auto t = std::shared_ptr<GoTemplate>(new GoTemplate());
    t->root_ = std::move(root);
    t->actions_ = std::move(inside);
    t->source_ = text;
    return std::shared_ptr<const GoTemplate>(std::move(t));
  } catch (const std::exception& e) {
    return invalid_argument(std::string("TEMPLATE: ") + e.what());
  }
}

bool GoTemplate::uses_field(std::string_view name) const {
  const std::string needle = "." + std::string(name);
  for (size_t at = actions_.find(needle); at != std::string::npos; at = actions_.find(needle, at + 1)) {
    const size_t after = at + needle.size();
    const bool word_end = after == actions_.size() ||
                          !(std::isalnum(static_cast<unsigned char>(actions_[after])) || actions_[after] == '_');
    const bool word_start = at == 0 || !(std::isalnum(static_cast<unsigned char>(actions_[at - 1])) ||
                                         actions_[at - 1] == '_');
    if (word_end && word_start) return true;
  }
  return false;
}

Result<std::string> GoTemplate::render(const Json& data) const {
  try {
    Renderer r{data, {}, 0};
    r.run(*root_, data);
    return r.out;
  } catch (const std::exception& e) {
    return invalid_argument(std::string("TEMPLATE: ") + e.what());
  }
}

}  // namespace hearth::store
