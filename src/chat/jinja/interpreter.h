// Internal: the tree-walking evaluator behind Template::render.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/template.h"

namespace hearth::chat::jinja {

class Interpreter {
 public:
  Interpreter(const std::map<std::string, Value>& globals, const RenderOptions& opts);

  void exec(const Body& body, std::string& out);
  Value eval(const Expr& e);

  // Called by builtins.
  Value call(const Value& fn, std::vector<Value>& args, std::vector<std::pair<std::string, Value>>& kwargs);
  Value apply_filter(const std::string& name, Value target, std::vector<Value>& args,
                     std::vector<std::pair<std::string, Value>>& kwargs);
  bool apply_test(const std::string& name, const Value& target, std::vector<Value>& args);
  void step();
  std::time_t now() const { return now_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  Flow exec_stmts(const Body& body, std::string& out);
  Flow exec_stmt(const Stmt& s, std::string& out);
  void exec_for(const Stmt& s, std::string& out);
  Value make_macro(const Stmt& s);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  Value binary(const std::string& op, const Value& a, const Value& b);
  Value binary_unchecked(const std::string& op, const Value& a, const Value& b);
  void check_size(const Value& v) const;
  void append(std::string& out, const std::string& s);

  std::vector<std::map<std::string, Value>> scopes_;  // [0] = globals
  RenderOptions opts_;
  std::time_t now_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  std::chrono::steady_clock::time_point deadline_;
};

// Builtins (builtins.cpp): filters, tests, methods of str/list/dict, globals.
Value builtin_filter(Interpreter& in, const std::string& name, Value target, std::vector<Value>& args,
                     std::vector<std::pair<std::string, Value>>& kwargs);
bool builtin_test(Interpreter& in, const std::string& name, const Value& target, std::vector<Value>& args);
// A bound method like "a b".split, or Undefined when `obj` has no such method.
Value builtin_method(Interpreter& in, const Value& obj, const std::string& name);
std::map<std::string, Value> builtin_globals(Interpreter& in);

}  // namespace hearth::chat::jinja
