// Recursive-descent parser for the template language, with Jinja2's operator
// precedence: or < and < not < comparisons/in/is < + - < ~ < * / // % < ** <
// unary minus < postfix (attribute, item, call) and filters.
#include <set>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace hearth::chat::jinja {

namespace {

class Parser {
 public:
  explicit Parser(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}

  Body parse_all() {
    Body body = parse_body({});
    if (pi_ < pieces_.size()) fail_at(pieces_[pi_].line, "unexpected '" + tag_name(pieces_[pi_]) + "'");
    return body;
  }

 private:
  // ---- statements
  static std::string tag_name(const Piece& p) { return p.tokens.empty() ? "" : p.tokens[0].text; }

  [[noreturn]] static void fail_at(int line, const std::string& msg) {
    throw Error("template syntax error at line " + std::to_string(line) + ": " + msg);
  }

  // Parses statements until a tag whose name is in `ends` (left unconsumed).
  Body parse_body(const std::set<std::string>& ends) {
    Body body;
    while (pi_ < pieces_.size()) {
      const Piece& p = pieces_[pi_];
      if (p.type == PieceType::kText) {
        auto s = std::make_unique<Stmt>();
        s->type = StmtType::kText;
        s->text = p.text;
        body.push_back(std::move(s));
        ++pi_;
        continue;
      }
      if (p.type == PieceType::kExpr) {
        begin(p);
        auto s = std::make_unique<Stmt>();
        s->type = StmtType::kOutput;
        s->line = p.line;
        s->expr = parse_expr();
        expect_end();
        body.push_back(std::move(s));
        ++pi_;
        continue;
      }
      std::string name = tag_name(p);
      if (ends.count(name)) return body;
      body.push_back(parse_statement());
    }
    if (!ends.empty()) {
      std::string want;
      for (const auto& e : ends) want += (want.empty() ? "" : " or ") + ("{% " + e + " %}");
      throw Error("template syntax error: unexpected end of template, expected " + want);
    }
    return body;
  }

  // Bounds recursion on hostile input (deeply nested blocks or parentheses).
  struct DepthGuard {
    int& d;
    DepthGuard(int& depth, int line) : d(depth) {
      if (++d > kMaxNesting) fail_at(line, "nesting deeper than " + std::to_string(kMaxNesting));
    }
    ~DepthGuard() { --d; }
  };
  static constexpr int kMaxNesting = 200;

  std::unique_ptr<Stmt> parse_statement() {
    const Piece& p = pieces_[pi_];
    DepthGuard guard(depth_, p.line);
    begin(p);
    std::string kw = take_name();
    auto s = std::make_unique<Stmt>();
    s->line = p.line;
    if (kw == "if") {
      s->type = StmtType::kIf;
      ExprPtr cond = parse_expr();
      expect_end();
      ++pi_;
      for (;;) {
        Body b = parse_body({"elif", "else", "endif"});
        s->branches.emplace_back(std::move(cond), std::move(b));
        begin(pieces_[pi_]);
        std::string t = take_name();
        if (t == "elif") {
          cond = parse_expr();
          expect_end();
          ++pi_;
          continue;
        }
        if (t == "else") {
          expect_end();
          ++pi_;
          s->else_body = parse_body({"endif"});
          begin(pieces_[pi_]);
          take_name();
        }
        expect_end();
        ++pi_;
        return s;
      }
    }
    if (kw == "for") {
      s->type = StmtType::kFor;
      s->targets.push_back(take_name());
      while (peek_op(",")) {
        ++ti_;
        s->targets.push_back(take_name());
      }
      if (take_name() != "in") fail("expected 'in' in for loop");
      s->expr = parse_ternary_free();
      if (peek_name("if")) {
        ++ti_;
        s->filter_cond = parse_ternary_free();
      }
      if (peek_name("recursive")) fail("recursive loops are not supported");
      expect_end();
      ++pi_;
      s->body = parse_body({"else", "endfor"});
      begin(pieces_[pi_]);
      if (take_name() == "else") {
        expect_end();
        ++pi_;
        s->else_body = parse_body({"endfor"});
        begin(pieces_[pi_]);
        take_name();
      }
      expect_end();
      ++pi_;
      return s;
    }
    if (kw == "set") {
      std::string target = take_name();
      if (peek_op(".")) {
        ++ti_;
        s->attr = take_name();
      }
      s->targets.push_back(target);
      while (peek_op(",")) {
        ++ti_;
        s->targets.push_back(take_name());
      }
      if (peek_op("=")) {
        ++ti_;
        s->type = StmtType::kSet;
        s->expr = parse_expr();
        if (peek_op(",")) {  // set a, b = 1, 2
          auto list = std::make_unique<Expr>();
          list->type = ExprType::kList;
          list->args.push_back(std::move(s->expr));
          while (peek_op(",")) {
            ++ti_;
            list->args.push_back(parse_expr());
          }
          s->expr = std::move(list);
        }
        expect_end();
        ++pi_;
        return s;
      }
      s->type = StmtType::kSetBlock;
      if (s->targets.size() != 1 || !s->attr.empty()) fail("block set takes one name");
      if (peek_op("|")) s->expr = parse_filter_chain_on_placeholder();
      expect_end();
      ++pi_;
      s->body = parse_body({"endset"});
      ++pi_;
      return s;
    }
    if (kw == "macro") {
      s->type = StmtType::kMacro;
      s->name = take_name();
      parse_params(s.get());
      expect_end();
      ++pi_;
      s->body = parse_body({"endmacro"});
      ++pi_;
      return s;
    }
    if (kw == "call") {
      s->type = StmtType::kCallBlock;
      if (peek_op("(")) parse_params(s.get());
      s->expr = parse_expr();
      if (s->expr->type != ExprType::kCall) fail("{% call %} needs a macro call");
      expect_end();
      ++pi_;
      s->body = parse_body({"endcall"});
      ++pi_;
      return s;
    }
    if (kw == "filter") {
      s->type = StmtType::kFilterBlock;
      --ti_;  // re-read as "filter <name>": parse the chain on a placeholder
      s->expr = parse_filter_chain_on_placeholder(true);
      expect_end();
      ++pi_;
      s->body = parse_body({"endfilter"});
      ++pi_;
      return s;
    }
    if (kw == "break" || kw == "continue") {
      s->type = kw == "break" ? StmtType::kBreak : StmtType::kContinue;
      expect_end();
      ++pi_;
      return s;
    }
    fail("unknown tag '" + kw + "'");
  }

  void parse_params(Stmt* s) {
    expect_op("(");
    while (!peek_op(")")) {
      std::string n = take_name();
      ExprPtr def;
      if (peek_op("=")) {
        ++ti_;
        def = parse_expr();
      }
      s->params.emplace_back(n, std::move(def));
      if (!peek_op(",")) break;
      ++ti_;
    }
    expect_op(")");
  }

  // "| f(args) | g" (or "filter f | g" for filter blocks) applied to a
  // placeholder name "__body__" that the interpreter binds to the body text.
  ExprPtr parse_filter_chain_on_placeholder(bool leading_keyword = false) {
    auto node = std::make_unique<Expr>();
    node->type = ExprType::kName;
    node->name = "__body__";
    bool first = true;
    while (peek_op("|") || (leading_keyword && first)) {
      ++ti_;  // '|' or the 'filter' keyword
      first = false;
      node = parse_filter(std::move(node));
    }
    return node;
  }

  // ---- token helpers
  void begin(const Piece& p) {
    toks_ = &p.tokens;
    ti_ = 0;
    line_ = p.line;
  }
  const Token& cur() const { return (*toks_)[ti_]; }
  [[noreturn]] void fail(const std::string& msg) const { fail_at(cur().line, msg); }
  bool peek_op(const char* op) const { return cur().type == TokType::kOp && cur().text == op; }
  bool peek_name(const char* n) const { return cur().type == TokType::kName && cur().text == n; }
  void expect_op(const char* op) {
    if (!peek_op(op)) fail(std::string("expected '") + op + "'" + got());
    ++ti_;
  }
  std::string got() const {
    return cur().type == TokType::kEnd ? ", got end of tag" : ", got '" + cur().text + "'";
  }
  std::string take_name() {
    if (cur().type != TokType::kName) fail("expected a name" + got());
    return (*toks_)[ti_++].text;
  }
  void expect_end() {
    if (cur().type != TokType::kEnd) fail("unexpected '" + cur().text + "'");
  }
  ExprPtr node(ExprType t) {
    auto e = std::make_unique<Expr>();
    e->type = t;
    e->line = cur().line;
    return e;
  }

  // ---- expressions
  ExprPtr parse_expr() {
    ExprPtr e = parse_or();
    if (peek_name("if")) {
      ++ti_;
      auto t = node(ExprType::kTernary);
      t->a = std::move(e);
      t->c = parse_or();
      if (peek_name("else")) {
        ++ti_;
        t->b = parse_expr();
      }
      return t;
    }
    return e;
  }
  // For-loop iterables and filters stop before a trailing "if".
  ExprPtr parse_ternary_free() { return parse_or(); }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (peek_name("or")) {
      ++ti_;
      auto n = node(ExprType::kOr);
      n->a = std::move(e);
      n->b = parse_and();
      e = std::move(n);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (peek_name("and")) {
      ++ti_;
      auto n = node(ExprType::kAnd);
      n->a = std::move(e);
      n->b = parse_not();
      e = std::move(n);
    }
    return e;
  }
  ExprPtr parse_not() {
    DepthGuard guard(depth_, cur().line);
    if (peek_name("not")) {
      ++ti_;
      auto n = node(ExprType::kNot);
      n->a = parse_not();
      return n;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    for (;;) {
      std::string op;
      if (cur().type == TokType::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" || cur().text == "<=" ||
           cur().text == ">=")) {
        op = cur().text;
        ++ti_;
      } else if (peek_name("in")) {
        op = "in";
        ++ti_;
      } else if (peek_name("not") && ti_ + 1 < toks_->size() && (*toks_)[ti_ + 1].type == TokType::kName &&
                 (*toks_)[ti_ + 1].text == "in") {
        op = "not in";
        ti_ += 2;
      } else {
        return e;
      }
      auto n = node(ExprType::kBinary);
      n->name = op;
      n->a = std::move(e);
      n->b = parse_math1();
      e = std::move(n);
    }
  }
  ExprPtr binary(ExprPtr a, const std::string& op, ExprPtr b) {
    auto n = node(ExprType::kBinary);
    n->name = op;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (peek_op("+") || peek_op("-")) {
      std::string op = (*toks_)[ti_++].text;
      e = binary(std::move(e), op, parse_concat());
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (peek_op("~")) {
      ++ti_;
      e = binary(std::move(e), "~", parse_math2());
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (peek_op("*") || peek_op("/") || peek_op("//") || peek_op("%")) {
      std::string op = (*toks_)[ti_++].text;
      e = binary(std::move(e), op, parse_pow());
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (peek_op("**")) {
      ++ti_;
      e = binary(std::move(e), "**", parse_unary());
    }
    return e;
  }
  ExprPtr parse_unary() {
    DepthGuard guard(depth_, cur().line);
    if (peek_op("-") || peek_op("+")) {
      auto n = node(ExprType::kUnary);
      n->name = (*toks_)[ti_++].text;
      n->a = parse_unary();
      return parse_filters(std::move(n));
    }
    return parse_filters(parse_postfix(parse_primary()));
  }

  ExprPtr parse_filters(ExprPtr e) {
    for (;;) {
      if (peek_op("|")) {
        ++ti_;
        e = parse_postfix(parse_filter(std::move(e)));
      } else if (peek_name("is")) {
        ++ti_;
        auto t = node(ExprType::kTest);
        if (peek_name("not")) {
          ++ti_;
          t->negated = true;
        }
        t->name = take_name();
        t->a = std::move(e);
        if (peek_op("(")) {
          parse_args(t.get());
        } else if (cur().type == TokType::kString || cur().type == TokType::kInt || cur().type == TokType::kFloat ||
                   (cur().type == TokType::kName && cur().text != "and" && cur().text != "or" && cur().text != "else" &&
                    cur().text != "if" && cur().text != "in" && cur().text != "is" && cur().text != "not")) {
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filter(ExprPtr target) {
    auto f = node(ExprType::kFilter);
    f->name = take_name();
    while (peek_op(".")) {  // dotted filter names are not used by templates; keep the first part
      ++ti_;
      f->name += "." + take_name();
    }
    f->a = std::move(target);
    if (peek_op("(")) parse_args(f.get());
    return f;
  }

  void parse_args(Expr* call) {
    expect_op("(");
    while (!peek_op(")")) {
      if (cur().type == TokType::kName && ti_ + 1 < toks_->size() && (*toks_)[ti_ + 1].type == TokType::kOp &&
          (*toks_)[ti_ + 1].text == "=") {
        std::string k = take_name();
        ++ti_;
        call->kwargs.emplace_back(k, parse_expr());
      } else {
        if (!call->kwargs.empty()) fail("positional argument after keyword argument");
        call->args.push_back(parse_expr());
      }
      if (!peek_op(",")) break;
      ++ti_;
    }
    expect_op(")");
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (peek_op(".")) {
        ++ti_;
        auto n = node(ExprType::kGetAttr);
        if (cur().type == TokType::kInt) n->name = (*toks_)[ti_++].text;  // x.0
        else n->name = take_name();
        n->a = std::move(e);
        e = std::move(n);
      } else if (peek_op("[")) {
        ++ti_;
        ExprPtr lo, hi, step;
        bool slice = false;
        if (!peek_op(":")) lo = parse_expr();
        if (peek_op(":")) {
          slice = true;
          ++ti_;
          if (!peek_op("]") && !peek_op(":")) hi = parse_expr();
          if (peek_op(":")) {
            ++ti_;
            if (!peek_op("]")) step = parse_expr();
          }
        }
        expect_op("]");
        auto n = node(slice ? ExprType::kSlice : ExprType::kGetItem);
        n->a = std::move(e);
        if (slice) {
          n->b = std::move(lo);
          n->c = std::move(hi);
          if (step) n->args.push_back(std::move(step));
        } else {
          if (!lo) fail("empty subscript");
          n->b = std::move(lo);
        }
        e = std::move(n);
      } else if (peek_op("(")) {
        auto n = node(ExprType::kCall);
        n->a = std::move(e);
        parse_args(n.get());
        e = std::move(n);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    if (t.type == TokType::kString) {
      auto n = node(ExprType::kLiteral);
      std::string s = t.text;
      ++ti_;
      while (cur().type == TokType::kString) s += (*toks_)[ti_++].text;  // "a" "b" concatenation
      n->literal = Value::string(s);
      return n;
    }
    if (t.type == TokType::kInt || t.type == TokType::kFloat) {
      auto n = node(ExprType::kLiteral);
      try {
        n->literal = t.type == TokType::kInt ? Value::integer(std::stoll(t.text)) : Value::number(std::stod(t.text));
      } catch (const std::exception&) {
        fail("number out of range: " + t.text);
      }
      ++ti_;
      return n;
    }
    if (t.type == TokType::kName) {
      std::string n = t.text;
      ++ti_;
      auto lit = node(ExprType::kLiteral);
      if (n == "true" || n == "True") { lit->literal = Value::boolean(true); return lit; }
      if (n == "false" || n == "False") { lit->literal = Value::boolean(false); return lit; }
      if (n == "none" || n == "None") { lit->literal = Value::none(); return lit; }
      auto e = node(ExprType::kName);
      e->name = n;
      return e;
    }
    if (peek_op("(")) {
      ++ti_;
      if (peek_op(")")) {
        ++ti_;
        return node(ExprType::kList);
      }
      ExprPtr e = parse_expr();
      if (peek_op(",")) {  // tuple
        auto l = node(ExprType::kList);
        l->args.push_back(std::move(e));
        while (peek_op(",")) {
          ++ti_;
          if (peek_op(")")) break;
          l->args.push_back(parse_expr());
        }
        e = std::move(l);
      }
      expect_op(")");
      return e;
    }
    if (peek_op("[")) {
      ++ti_;
      auto l = node(ExprType::kList);
      while (!peek_op("]")) {
        l->args.push_back(parse_expr());
        if (!peek_op(",")) break;
        ++ti_;
      }
      expect_op("]");
      return l;
    }
    if (peek_op("{")) {
      ++ti_;
      auto d = node(ExprType::kDict);
      while (!peek_op("}")) {
        ExprPtr k = parse_expr();
        expect_op(":");
        d->pairs.emplace_back(std::move(k), parse_expr());
        if (!peek_op(",")) break;
        ++ti_;
      }
      expect_op("}");
      return d;
    }
    fail(cur().type == TokType::kEnd ? "expected an expression, got end of tag" : "unexpected '" + cur().text + "'");
  }

  std::vector<Piece> pieces_;
  size_t pi_ = 0;
  const std::vector<Token>* toks_ = nullptr;
  size_t ti_ = 0;
  int line_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::string& src, bool trim_blocks, bool lstrip_blocks) {
  Parser p(lex(src, trim_blocks, lstrip_blocks));
  return p.parse_all();
}

}  // namespace hearth::chat::jinja
