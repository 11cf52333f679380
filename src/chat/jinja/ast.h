// The parsed form of a template: expressions and statements.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace hearth::chat::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprType {
  kLiteral, kName, kList, kDict, kGetAttr, kGetItem, kSlice, kCall, kFilter, kTest,
  kUnary, kBinary, kAnd, kOr, kNot, kTernary,
};

struct Expr {
  ExprType type;
  int line = 0;
  Value literal;               // kLiteral
  std::string name;            // kName, kGetAttr attribute, kFilter/kTest name, kUnary/kBinary operator
  ExprPtr a, b, c;             // operands (object, index, slice parts, condition…)
  std::vector<ExprPtr> args;   // list items, call/filter/test positional args
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // call kwargs; dict literal pairs use `pairs`
  std::vector<std::pair<ExprPtr, ExprPtr>> pairs;       // kDict
  bool negated = false;        // kTest "is not"
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

enum class StmtType { kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kCallBlock, kFilterBlock, kBreak, kContinue };

struct Stmt {
  StmtType type;
  int line = 0;
  std::string text;                              // kText
  ExprPtr expr;                                  // kOutput, kSet value, kFor iterable, kCallBlock call, kFilterBlock filter (applied to a placeholder)
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: (condition, body)
  Body body, else_body;                          // kFor, kSetBlock, kMacro, kCallBlock, kFilterBlock; kIf else
  std::vector<std::string> targets;              // kFor loop variables; kSet names; kSetBlock name
  std::string attr;                              // kSet on a namespace attribute: targets[0].attr
  ExprPtr filter_cond;                           // kFor "if" filter
  std::string name;                              // kMacro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // kMacro / kCallBlock caller parameters
};

// Parses template source (see lexer.h for the whitespace options).
// Throws jinja::Error naming the line on a syntax error.
Body parse(const std::string& src, bool trim_blocks, bool lstrip_blocks);

}  // namespace hearth::chat::jinja
