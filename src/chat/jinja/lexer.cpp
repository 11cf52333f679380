#include "chat/jinja/lexer.h"

#include <cctype>
#include <cstring>

#include "chat/jinja/value.h"

namespace hearth::chat::jinja {

namespace {

struct RawTag {
  PieceType type;
  bool comment = false;
  bool strip_before = false, strip_after = false, keep_lstrip = false;
  std::vector<Token> tokens;
  int line;
};

[[noreturn]] void fail(int line, const std::string& msg) {
  throw Error("template syntax error at line " + std::to_string(line) + ": " + msg);
}

// Tokenizes tag content from `pos` until the closing delimiter; leaves pos
// after it and reports whether it was preceded by '-'.
std::vector<Token> tokenize(const std::string& s, size_t& pos, const char* close, int& line, bool* strip_after) {
  std::vector<Token> out;
  const size_t close_len = std::strlen(close);
  for (;;) {
    while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) {
      if (s[pos] == '\n') ++line;
      ++pos;
    }
    if (pos >= s.size()) fail(line, std::string("unterminated tag (missing '") + close + "')");
    if (s[pos] == '-' && s.compare(pos + 1, close_len, close) == 0) {
      *strip_after = true;
      pos += 1 + close_len;
      break;
    }
    if (s.compare(pos, close_len, close) == 0) {
      pos += close_len;
      break;
    }
    char c = s[pos];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = pos;
      while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_')) ++pos;
      out.push_back({TokType::kName, s.substr(b, pos - b), line});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t b = pos;
      bool is_float = false;
      while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '_')) ++pos;
      if (pos + 1 < s.size() && s[pos] == '.' && std::isdigit(static_cast<unsigned char>(s[pos + 1]))) {
        is_float = true;
        ++pos;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
      }
      if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
        size_t e = pos + 1;
        if (e < s.size() && (s[e] == '+' || s[e] == '-')) ++e;
        if (e < s.size() && std::isdigit(static_cast<unsigned char>(s[e]))) {
          is_float = true;
          pos = e;
          while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
        }
      }
      std::string num;
      for (size_t k = b; k < pos; ++k)
        if (s[k] != '_') num += s[k];
      out.push_back({is_float ? TokType::kFloat : TokType::kInt, num, line});
    } else if (c == '\'' || c == '"') {
      const char q = c;
      std::string v;
      ++pos;
      for (;;) {
        if (pos >= s.size()) fail(line, "unterminated string literal");
        char d = s[pos++];
        if (d == q) break;
        if (d == '\n') ++line;
        if (d != '\\') {
          v += d;
          continue;
        }
        if (pos >= s.size()) fail(line, "unterminated string literal");
        char e = s[pos++];
        switch (e) {
          case 'n': v += '\n'; break;
          case 't': v += '\t'; break;
          case 'r': v += '\r'; break;
          case '0': v += '\0'; break;
          case '\\': v += '\\'; break;
          case '\'': v += '\''; break;
          case '"': v += '"'; break;
          case '\n': ++line; break;
          case 'u': case 'x': case 'U': {
            size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            if (pos + n > s.size()) fail(line, "bad escape in string literal");
            uint32_t cp = static_cast<uint32_t>(std::strtoul(s.substr(pos, n).c_str(), nullptr, 16));
            pos += n;
            if (cp < 0x80) v += static_cast<char>(cp);
            else if (cp < 0x800) { v += static_cast<char>(0xC0 | (cp >> 6)); v += static_cast<char>(0x80 | (cp & 0x3F)); }
            else if (cp < 0x10000) { v += static_cast<char>(0xE0 | (cp >> 12)); v += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); v += static_cast<char>(0x80 | (cp & 0x3F)); }
            else { v += static_cast<char>(0xF0 | (cp >> 18)); v += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)); v += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); v += static_cast<char>(0x80 | (cp & 0x3F)); }
            break;
          }
          default: v += '\\'; v += e;
        }
      }
      out.push_back({TokType::kString, v, line});
    } else {
      static const char* kOps[] = {"**", "//", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ".", ",", ":",
                                   "|", "~", "+", "-", "*", "/", "%", "<", ">", "=", "!"};
      bool found = false;
      for (const char* op : kOps) {
        size_t n = std::strlen(op);
        if (s.compare(pos, n, op) == 0) {
          out.push_back({TokType::kOp, op, line});
          pos += n;
          found = true;
          break;
        }
      }
      if (!found) fail(line, std::string("unexpected character '") + c + "'");
    }
  }
  out.push_back({TokType::kEnd, "", line});
  return out;
}

}  // namespace

std::vector<Piece> lex(const std::string& src, bool trim_blocks, bool lstrip_blocks) {
  // First pass: raw text and tags with their whitespace-control flags.
  struct Item {
    bool is_tag;
    std::string text;
    RawTag tag;
  };
  std::vector<Item> items;
  size_t pos = 0;
  int line = 1;
  std::string text;
  while (pos < src.size()) {
    size_t open = src.find('{', pos);
    while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' && src[open + 1] != '%' &&
           src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open == std::string::npos || open + 1 >= src.size()) {
      text += src.substr(pos);
      break;
    }
    for (size_t k = pos; k < open; ++k)
      if (src[k] == '\n') ++line;
    text += src.substr(pos, open - pos);
    items.push_back({false, std::move(text), {}});
    text.clear();
    RawTag tag;
    tag.line = line;
    char kind = src[open + 1];
    pos = open + 2;
    if (pos < src.size() && src[pos] == '-') { tag.strip_before = true; ++pos; }
    else if (pos < src.size() && src[pos] == '+') { tag.keep_lstrip = true; ++pos; }
    if (kind == '#') {
      size_t end = src.find("#}", pos);
      if (end == std::string::npos) fail(line, "unterminated comment");
      for (size_t k = pos; k < end; ++k)
        if (src[k] == '\n') ++line;
      tag.strip_after = end > pos && src[end - 1] == '-';
      tag.comment = true;
      tag.type = PieceType::kStmt;
      pos = end + 2;
    } else {
      tag.type = kind == '{' ? PieceType::kExpr : PieceType::kStmt;
      tag.tokens = tokenize(src, pos, kind == '{' ? "}}" : "%}", line, &tag.strip_after);
      // {% raw %}: everything up to {% endraw %} is text.
      if (tag.type == PieceType::kStmt && tag.tokens.size() == 2 && tag.tokens[0].text == "raw") {
        size_t search = pos;
        for (;;) {
          size_t e = src.find("{%", search);
          if (e == std::string::npos) fail(line, "missing {% endraw %}");
          size_t p = e + 2;
          if (p < src.size() && (src[p] == '-' || src[p] == '+')) ++p;
          while (p < src.size() && std::isspace(static_cast<unsigned char>(src[p]))) ++p;
          if (src.compare(p, 6, "endraw") == 0) {
            items.push_back({true, "", tag});
            std::string raw = src.substr(pos, e - pos);
            bool strip = e + 2 < src.size() && src[e + 2] == '-';
            RawTag end_tag;
            end_tag.type = PieceType::kStmt;
            end_tag.comment = true;
            end_tag.strip_before = strip;
            end_tag.line = line;
            size_t close = src.find("%}", p);
            if (close == std::string::npos) fail(line, "unterminated endraw");
            end_tag.strip_after = src[close - 1] == '-';
            items.back().tag.comment = true;  // the raw tag itself renders nothing
            items.push_back({false, raw, {}});
            items.push_back({true, "", end_tag});
            pos = close + 2;
            break;
          }
          search = e + 2;
        }
        continue;
      }
    }
    items.push_back({true, "", std::move(tag)});
  }
  items.push_back({false, std::move(text), {}});

  // Second pass: whitespace control on the text around each tag.
  for (size_t k = 0; k < items.size(); ++k) {
    if (!items[k].is_tag) continue;
    const RawTag& t = items[k].tag;
    bool block = t.type == PieceType::kStmt;  // statements and comments
    if (k > 0 && !items[k - 1].is_tag) {
      std::string& before = items[k - 1].text;
      if (t.strip_before) {
        while (!before.empty() && std::isspace(static_cast<unsigned char>(before.back()))) before.pop_back();
      } else if (block && lstrip_blocks && !t.keep_lstrip) {
        size_t nl = before.find_last_of('\n');
        size_t start = nl == std::string::npos ? 0 : nl + 1;
        bool only_ws = true;
        for (size_t c = start; c < before.size(); ++c)
          if (before[c] != ' ' && before[c] != '\t') only_ws = false;
        // At the very start of the template the line begins at offset 0.
        if (only_ws && (nl != std::string::npos || k == 1)) before.erase(start);
      }
    }
    if (k + 1 < items.size() && !items[k + 1].is_tag) {
      std::string& after = items[k + 1].text;
      if (t.strip_after) {
        size_t c = 0;
        while (c < after.size() && std::isspace(static_cast<unsigned char>(after[c]))) ++c;
        after.erase(0, c);
      } else if (block && trim_blocks) {
        if (after.compare(0, 1, "\n") == 0) after.erase(0, 1);
        else if (after.compare(0, 2, "\r\n") == 0) after.erase(0, 2);
      }
    }
  }
  std::vector<Piece> out;
  for (auto& it : items) {
    if (!it.is_tag) {
      if (!it.text.empty()) out.push_back({PieceType::kText, std::move(it.text), {}, 0});
    } else if (!it.tag.comment) {
      out.push_back({it.tag.type, "", std::move(it.tag.tokens), it.tag.line});
    }
  }
  return out;
}

}  // namespace hearth::chat::jinja
