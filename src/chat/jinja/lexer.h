// Splits a template into text and tags, applying whitespace control
// ({%- -%}, {{- -}}, {#- -#}, {%+) and the trim_blocks / lstrip_blocks
// options model runtimes set, and tokenizes the inside of each tag.
#pragma once

#include <string>
#include <vector>

namespace hearth::chat::jinja {

enum class TokType { kName, kString, kInt, kFloat, kOp, kEnd };

struct Token {
  TokType type;
  std::string text;  // name, operator, or the unescaped string literal
  int line;
};

enum class PieceType { kText, kExpr, kStmt };

struct Piece {
  PieceType type;
  std::string text;           // kText
  std::vector<Token> tokens;  // kExpr / kStmt (ending with a kEnd token)
  int line;
};

// Throws jinja::Error with the line on a malformed tag (unterminated tag or
// string, unknown character).
std::vector<Piece> lex(const std::string& src, bool trim_blocks, bool lstrip_blocks);

}  // namespace hearth::chat::jinja
