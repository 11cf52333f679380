#include "chat/jinja/interpreter.h"

#include <cmath>

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void raise_undefined(const Value& v) {
  throw Error(v.undefined_hint.empty() ? "undefined value" : v.undefined_hint);
}

std::string owner_name(const Value& v) {
  if (v.kind == Kind::kDict) return "'dict object'";
  if (v.kind == Kind::kList) return "'list object'";
  if (v.kind == Kind::kString) return "'str object'";
  if (v.kind == Kind::kNone) return "'None'";
  return std::string("'") + v.type_name() + " object'";
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Interpreter::Interpreter(const std::map<std::string, Value>& globals, const RenderOptions& opts) : opts_(opts) {
  now_ = opts.now ? opts.now : std::time(nullptr);
  deadline_ = std::chrono::steady_clock::now() + opts.budget.max_time;
  scopes_.emplace_back(builtin_globals(*this));
  for (const auto& [k, v] : globals) scopes_[0][k] = v;
}

void Interpreter::step() {
  if (++steps_ > opts_.budget.max_steps) throw Error("template exceeded its step budget (runaway loop?)");
  if ((steps_ & 4095) == 0 && std::chrono::steady_clock::now() > deadline_)
    throw Error("template exceeded its time budget");
}

void Interpreter::append(std::string& out, const std::string& s) {
  if (out.size() + s.size() > opts_.budget.max_output_bytes) throw Error("template output exceeds the size limit");
  out += s;
}

Value Interpreter::lookup(const std::string& name) const {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto f = it->find(name);
    if (f != it->end()) return f->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

void Interpreter::assign(const std::string& name, Value v) { scopes_.back()[name] = std::move(v); }

void Interpreter::exec(const Body& body, std::string& out) { exec_stmts(body, out); }

Interpreter::Flow Interpreter::exec_stmts(const Body& body, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, std::string& out) {
  step();
  switch (s.type) {
    case StmtType::kText: append(out, s.text); break;
    case StmtType::kOutput: append(out, eval(*s.expr).to_str()); break;
    case StmtType::kIf:
      for (const auto& [cond, body] : s.branches)
        if (eval(*cond).truthy()) return exec_stmts(body, out);
      return exec_stmts(s.else_body, out);
    case StmtType::kFor: exec_for(s, out); break;
    case StmtType::kSet: {
      Value v = eval(*s.expr);
      if (!s.attr.empty()) {
        Value ns = lookup(s.targets[0]);
        if (ns.kind != Kind::kNamespace)
          throw Error("cannot assign attribute '" + s.attr + "' on '" + s.targets[0] + "' (not a namespace)");
        ns.dict->set(s.attr, v);
      } else if (s.targets.size() == 1) {
        assign(s.targets[0], v);
      } else {
        List items = v.iterate();
        if (items.size() != s.targets.size())
          throw Error("cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(s.targets.size()));
        for (size_t k = 0; k < items.size(); ++k) assign(s.targets[k], items[k]);
      }
      break;
    }
    case StmtType::kSetBlock: {
      std::string body;
      exec_stmts(s.body, body);
      Value v = Value::string(body);
      if (s.expr) {
        scopes_.emplace_back();
        assign("__body__", v);
        v = eval(*s.expr);
        scopes_.pop_back();
      }
      assign(s.targets[0], v);
      break;
    }
    case StmtType::kMacro: assign(s.name, make_macro(s)); break;
    case StmtType::kCallBlock: {
      Value caller = Value::callable("caller", [this, &s](std::vector<Value>& args, std::vector<std::pair<std::string, Value>>&) {
        scopes_.emplace_back();
        for (size_t k = 0; k < s.params.size(); ++k)
          assign(s.params[k].first, k < args.size() ? args[k] : s.params[k].second ? eval(*s.params[k].second) : Value::none());
        std::string body;
        exec_stmts(s.body, body);
        scopes_.pop_back();
        return Value::string(body);
      });
      const Expr& call = *s.expr;
      Value fn = eval(*call.a);
      std::vector<Value> args;
      for (const auto& a : call.args) args.push_back(eval(*a));
      std::vector<std::pair<std::string, Value>> kwargs;
      for (const auto& [k, v] : call.kwargs) kwargs.emplace_back(k, eval(*v));
      kwargs.emplace_back("caller", caller);
      append(out, this->call(fn, args, kwargs).to_str());
      break;
    }
    case StmtType::kFilterBlock: {
      std::string body;
      exec_stmts(s.body, body);
      scopes_.emplace_back();
      assign("__body__", Value::string(body));
      Value v = eval(*s.expr);
      scopes_.pop_back();
      append(out, v.to_str());
      break;
    }
    case StmtType::kBreak: return Flow::kBreak;
    case StmtType::kContinue: return Flow::kContinue;
  }
  return Flow::kNormal;
}

void Interpreter::exec_for(const Stmt& s, std::string& out) {
  Value iterable = eval(*s.expr);
  List items = iterable.iterate();
  scopes_.emplace_back();
  if (s.filter_cond) {
    List kept;
    for (const Value& it : items) {
      if (s.targets.size() == 1) assign(s.targets[0], it);
      else {
        List parts = it.iterate();
        for (size_t k = 0; k < s.targets.size() && k < parts.size(); ++k) assign(s.targets[k], parts[k]);
      }
      if (eval(*s.filter_cond).truthy()) kept.push_back(it);
    }
    items = std::move(kept);
  }
  const size_t n = items.size();
  Value loop = Value::make_dict();
  for (size_t idx = 0; idx < n; ++idx) {
    step();
    const Value& it = items[idx];
    if (s.targets.size() == 1) {
      assign(s.targets[0], it);
    } else {
      List parts = it.iterate();
      if (parts.size() != s.targets.size())
        throw Error("cannot unpack " + std::to_string(parts.size()) + " values into " + std::to_string(s.targets.size()) + " loop variables");
      for (size_t k = 0; k < parts.size(); ++k) assign(s.targets[k], parts[k]);
    }
    loop = Value::make_dict();
    Dict& d = *loop.dict;
    d.set("index", Value::integer(static_cast<int64_t>(idx + 1)));
    d.set("index0", Value::integer(static_cast<int64_t>(idx)));
    d.set("revindex", Value::integer(static_cast<int64_t>(n - idx)));
    d.set("revindex0", Value::integer(static_cast<int64_t>(n - idx - 1)));
    d.set("first", Value::boolean(idx == 0));
    d.set("last", Value::boolean(idx + 1 == n));
    d.set("length", Value::integer(static_cast<int64_t>(n)));
    d.set("depth", Value::integer(1));
    d.set("depth0", Value::integer(0));
    d.set("previtem", idx > 0 ? items[idx - 1] : Value::undefined("there is no previous item"));
    d.set("nextitem", idx + 1 < n ? items[idx + 1] : Value::undefined("there is no next item"));
    d.set("cycle", Value::callable("cycle", [idx](std::vector<Value>& args, std::vector<std::pair<std::string, Value>>&) {
      if (args.empty()) throw Error("loop.cycle needs at least one argument");
      return args[idx % args.size()];
    }));
    assign("loop", loop);
    Flow f = exec_stmts(s.body, out);
    if (f == Flow::kBreak) break;
  }
  if (n == 0) exec_stmts(s.else_body, out);
  scopes_.pop_back();
}

Value Interpreter::make_macro(const Stmt& s) {
  const Stmt* m = &s;
  return Value::callable(s.name, [this, m](std::vector<Value>& args, std::vector<std::pair<std::string, Value>>& kwargs) {
    if (++depth_ > opts_.budget.max_depth) throw Error("template recursion is too deep (macro '" + m->name + "')");
    std::map<std::string, Value> frame;
    List varargs;
    for (size_t k = 0; k < args.size(); ++k) {
      if (k < m->params.size()) frame[m->params[k].first] = args[k];
      else varargs.push_back(args[k]);
    }
    Value extra = Value::make_dict();
    for (auto& [k, v] : kwargs) {
      bool is_param = false;
      for (const auto& p : m->params) is_param |= p.first == k;
      if (is_param) frame[k] = v;
      else if (k == "caller") frame["caller"] = v;
      else extra.dict->set(k, v);
    }
    // Defaults are evaluated in the macro's own frame (they may use earlier params).
    std::vector<std::map<std::string, Value>> saved;
    saved.swap(scopes_);
    scopes_.push_back(saved[0]);
    scopes_.push_back(frame);
    struct Restore {
      Interpreter* in;
      std::vector<std::map<std::string, Value>>* saved;
      ~Restore() {
        // Top-level assignments made inside the macro do not leak; only
        // namespaces (shared objects) carry state out.
        in->scopes_.swap(*saved);
        --in->depth_;
      }
    } restore{this, &saved};
    for (const auto& p : m->params)
      if (!scopes_.back().count(p.first))
        assign(p.first, p.second ? eval(*p.second) : Value::undefined("parameter '" + p.first + "' was not provided"));
    assign("varargs", Value::make_list(varargs));
    assign("kwargs", extra);
    std::string out;
    exec_stmts(m->body, out);
    return Value::string(out);
  });
}

Value Interpreter::call(const Value& fn, std::vector<Value>& args, std::vector<std::pair<std::string, Value>>& kwargs) {
  step();
  if (fn.is_undefined()) raise_undefined(fn);
  if (fn.kind != Kind::kCallable) throw Error(std::string("'") + fn.type_name() + "' object is not callable");
  return fn.fn->call(args, kwargs);
}

Value Interpreter::apply_filter(const std::string& name, Value target, std::vector<Value>& args,
                                std::vector<std::pair<std::string, Value>>& kwargs) {
  Value r = builtin_filter(*this, name, std::move(target), args, kwargs);
  check_size(r);
  return r;
}

bool Interpreter::apply_test(const std::string& name, const Value& target, std::vector<Value>& args) {
  return builtin_test(*this, name, target, args);
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (obj.is_mapping()) {
    if (const Value* v = obj.dict->find(name)) return *v;
  }
  Value m = builtin_method(*this, obj, name);
  if (!m.is_undefined()) return m;
  return Value::undefined(owner_name(obj) + " has no attribute '" + name + "'");
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (obj.is_mapping()) {
    if (key.is_string()) {
      if (const Value* v = obj.dict->find(key.str())) return *v;
      return Value::undefined(owner_name(obj) + " has no attribute '" + key.str() + "'");
    }
    return Value::undefined(owner_name(obj) + " has no attribute " + key.repr());
  }
  if ((obj.kind == Kind::kList || obj.kind == Kind::kString) && (key.kind == Kind::kInt || key.kind == Kind::kBool)) {
    List items = obj.kind == Kind::kList ? *obj.list : obj.iterate();
    int64_t i = key.kind == Kind::kBool ? key.b : key.i;
    int64_t n = static_cast<int64_t>(items.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined(owner_name(obj) + " has no element " + key.repr());
    return items[static_cast<size_t>(i)];
  }
  if (key.is_string()) return get_attr(obj, key.str());
  return Value::undefined(owner_name(obj) + " has no element " + key.repr());
}

Value Interpreter::binary(const std::string& op, const Value& a, const Value& b) {
  Value r = binary_unchecked(op, a, b);
  check_size(r);
  return r;
}

void Interpreter::check_size(const Value& v) const {
  if (v.is_string() && v.str().size() > opts_.budget.max_output_bytes)
    throw Error("template built a string larger than the output limit");
  if (v.kind == Kind::kList && v.list->size() > 1000000) throw Error("template built a list with more than a million items");
}

Value Interpreter::binary_unchecked(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    if (a.to_str().size() + b.to_str().size() > opts_.budget.max_output_bytes)
      throw Error("template built a string larger than the output limit");
    return Value::string(a.to_str() + b.to_str());
  }
  if (op == "==") return Value::boolean(equals(a, b));
  if (op == "!=") return Value::boolean(!equals(a, b));
  if (op == "in" || op == "not in") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string()) throw Error(std::string("'in <string>' requires string as left operand, not ") + a.type_name());
      found = b.str().find(a.str()) != std::string::npos;
    } else if (b.kind == Kind::kList) {
      for (const Value& x : *b.list) found |= equals(a, x);
    } else if (b.is_mapping()) {
      found = a.is_string() && b.dict->find(a.str()) != nullptr;
    } else if (!b.is_undefined()) {
      throw Error(std::string("argument of type '") + b.type_name() + "' is not iterable");
    }
    return Value::boolean(op == "in" ? found : !found);
  }
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  if (op == "<") return Value::boolean(compare(a, b) < 0);
  if (op == ">") return Value::boolean(compare(a, b) > 0);
  if (op == "<=") return Value::boolean(compare(a, b) <= 0);
  if (op == ">=") return Value::boolean(compare(a, b) >= 0);
  const bool nums = (a.is_number() || a.kind == Kind::kBool) && (b.is_number() || b.kind == Kind::kBool);
  const bool ints = nums && a.kind != Kind::kFloat && b.kind != Kind::kFloat;
  auto ival = [](const Value& v) { return v.kind == Kind::kBool ? static_cast<int64_t>(v.b) : v.i; };
  if (op == "+") {
    if (ints) return Value::integer(ival(a) + ival(b));
    if (nums) return Value::number(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      if (a.str().size() + b.str().size() > opts_.budget.max_output_bytes)
        throw Error("template built a string larger than the output limit");
      if (!a.safe && !b.safe) return Value::string(a.str() + b.str());
      // Markup + str escapes the plain side, and the result stays Markup.
      Value r = Value::string((a.safe ? a.str() : html_escape(a.str())) + (b.safe ? b.str() : html_escape(b.str())));
      r.safe = true;
      return r;
    }
    if (a.kind == Kind::kList && b.kind == Kind::kList) {
      if (a.list->size() + b.list->size() > 1000000) throw Error("template built a list with more than a million items");
      List l = *a.list;
      l.insert(l.end(), b.list->begin(), b.list->end());
      return Value::make_list(std::move(l));
    }
    if (a.is_string()) throw Error(std::string("can only concatenate str (not \"") + b.type_name() + "\") to str");
    if (a.kind == Kind::kList) throw Error(std::string("can only concatenate list (not \"") + b.type_name() + "\") to list");
    throw Error(std::string("unsupported operand type(s) for +: '") + a.type_name() + "' and '" + b.type_name() + "'");
  }
  if (op == "*") {
    if (ints) return Value::integer(ival(a) * ival(b));
    if (nums) return Value::number(a.as_double() * b.as_double());
    const Value* seq = a.is_string() || a.kind == Kind::kList ? &a : &b;
    const Value* cnt = seq == &a ? &b : &a;
    if ((seq->is_string() || seq->kind == Kind::kList) && cnt->kind == Kind::kInt) {
      int64_t times = std::max<int64_t>(0, cnt->i);
      if (seq->is_string()) {
        if (seq->str().size() * static_cast<size_t>(times) > opts_.budget.max_output_bytes)
          throw Error("string repetition exceeds the size limit");
        std::string r;
        for (int64_t k = 0; k < times; ++k) r += seq->str();
        return Value::string(r);
      }
      if (seq->list->size() * static_cast<size_t>(times) > 1000000) throw Error("list repetition exceeds the size limit");
      List r;
      for (int64_t k = 0; k < times; ++k) r.insert(r.end(), seq->list->begin(), seq->list->end());
      return Value::make_list(std::move(r));
    }
    throw Error(std::string("unsupported operand type(s) for *: '") + a.type_name() + "' and '" + b.type_name() + "'");
  }
  if (!nums) throw Error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
  if (op == "-") return ints ? Value::integer(ival(a) - ival(b)) : Value::number(a.as_double() - b.as_double());
  if (op == "/") {
    if (b.as_double() == 0) throw Error("division by zero");
    return Value::number(a.as_double() / b.as_double());
  }
  if (op == "//") {
    if (b.as_double() == 0) throw Error("integer division or modulo by zero");
    return ints ? Value::integer(floor_div(ival(a), ival(b))) : Value::number(std::floor(a.as_double() / b.as_double()));
  }
  if (op == "%") {
    if (b.as_double() == 0) throw Error("integer division or modulo by zero");
    if (ints) return Value::integer(ival(a) - floor_div(ival(a), ival(b)) * ival(b));
    double r = std::fmod(a.as_double(), b.as_double());
    if (r != 0 && ((r < 0) != (b.as_double() < 0))) r += b.as_double();
    return Value::number(r);
  }
  if (op == "**") {
    if (ints && ival(b) >= 0 && ival(b) < 64) {
      int64_t r = 1;
      for (int64_t k = 0; k < ival(b); ++k) r *= ival(a);
      return Value::integer(r);
    }
    return Value::number(std::pow(a.as_double(), b.as_double()));
  }
  throw Error("unknown operator " + op);
}

Value Interpreter::eval(const Expr& e) {
  step();
  switch (e.type) {
    case ExprType::kLiteral: return e.literal;
    case ExprType::kName: return lookup(e.name);
    case ExprType::kList: {
      List l;
      for (const auto& a : e.args) l.push_back(eval(*a));
      return Value::make_list(std::move(l));
    }
    case ExprType::kDict: {
      Value d = Value::make_dict();
      for (const auto& [k, v] : e.pairs) {
        Value key = eval(*k);
        d.dict->set(key.is_string() ? key.str() : key.to_str(), eval(*v));
      }
      return d;
    }
    case ExprType::kGetAttr: return get_attr(eval(*e.a), e.name);
    case ExprType::kGetItem: return get_item(eval(*e.a), eval(*e.b));
    case ExprType::kSlice: {
      Value obj = eval(*e.a);
      if (obj.is_undefined()) raise_undefined(obj);
      if (obj.kind != Kind::kList && !obj.is_string()) throw Error(std::string("'") + obj.type_name() + "' object is not subscriptable");
      List items = obj.iterate();
      const int64_t n = static_cast<int64_t>(items.size());
      int64_t step_v = e.args.empty() ? 1 : eval(*e.args[0]).i;
      if (step_v == 0) throw Error("slice step cannot be zero");
      auto bound = [&](const ExprPtr& x, int64_t def) {
        if (!x) return def;
        Value v = eval(*x);
        if (v.is_none()) return def;
        int64_t i = v.i;
        if (i < 0) i += n;
        return step_v > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
      };
      int64_t lo = bound(e.b, step_v > 0 ? 0 : n - 1), hi = bound(e.c, step_v > 0 ? n : -1);
      List out;
      for (int64_t i = lo; step_v > 0 ? i < hi : i > hi; i += step_v) out.push_back(items[static_cast<size_t>(i)]);
      if (obj.is_string()) {
        std::string s;
        for (const auto& c : out) s += c.str();
        return Value::string(s);
      }
      return Value::make_list(std::move(out));
    }
    case ExprType::kCall: {
      Value fn = eval(*e.a);
      std::vector<Value> args;
      for (const auto& a : e.args) args.push_back(eval(*a));
      std::vector<std::pair<std::string, Value>> kwargs;
      for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v));
      return call(fn, args, kwargs);
    }
    case ExprType::kFilter: {
      Value target = eval(*e.a);
      std::vector<Value> args;
      for (const auto& a : e.args) args.push_back(eval(*a));
      std::vector<std::pair<std::string, Value>> kwargs;
      for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v));
      return apply_filter(e.name, std::move(target), args, kwargs);
    }
    case ExprType::kTest: {
      Value target = eval(*e.a);
      std::vector<Value> args;
      for (const auto& a : e.args) args.push_back(eval(*a));
      bool r = apply_test(e.name, target, args);
      return Value::boolean(e.negated ? !r : r);
    }
    case ExprType::kUnary: {
      Value v = eval(*e.a);
      if (v.is_undefined()) raise_undefined(v);
      if (v.kind == Kind::kInt) return Value::integer(e.name == "-" ? -v.i : v.i);
      if (v.kind == Kind::kFloat) return Value::number(e.name == "-" ? -v.f : v.f);
      throw Error(std::string("bad operand type for unary ") + e.name + ": '" + v.type_name() + "'");
    }
    case ExprType::kBinary: return binary(e.name, eval(*e.a), eval(*e.b));
    case ExprType::kAnd: {
      Value a = eval(*e.a);
      return a.truthy() ? eval(*e.b) : a;
    }
    case ExprType::kOr: {
      Value a = eval(*e.a);
      return a.truthy() ? a : eval(*e.b);
    }
    case ExprType::kNot: return Value::boolean(!eval(*e.a).truthy());
    case ExprType::kTernary:
      if (eval(*e.c).truthy()) return eval(*e.a);
      return e.b ? eval(*e.b) : Value::undefined("the ternary's condition was false and it has no else");
  }
  return Value::undefined("");
}

}  // namespace hearth::chat::jinja
