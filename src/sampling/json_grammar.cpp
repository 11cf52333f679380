#include "sampling/json_grammar.h"

#include <utility>

namespace hearth::sampling {

namespace {
bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

bool JsonGrammar::accept(std::string_view bytes) {
  JsonGrammar next = *this;
  for (char c : bytes)
    if (!next.step(static_cast<unsigned char>(c))) return false;
  *this = std::move(next);
  return true;
}

bool JsonGrammar::can_accept(std::string_view bytes) const {
  JsonGrammar next = *this;
  for (char c : bytes)
    if (!next.step(static_cast<unsigned char>(c))) return false;
  return true;
}

// Whitespace where the grammar allows it between tokens, up to the cap.
bool JsonGrammar::whitespace(unsigned char c) {
  if (!is_ws(c) || ws_run_ >= (mode_ == Mode::kStart ? kMaxLeadingWhitespace : kMaxWhitespace)) return false;
  ++ws_run_;
  return true;
}

// A value has ended: the containing container continues, or the root is done.
bool JsonGrammar::close_value() {
  mode_ = stack_.empty() ? Mode::kDone : Mode::kAfterValue;
  return true;
}

bool JsonGrammar::open_value(unsigned char c) {
  switch (c) {
    case '{': stack_.push_back('{'); mode_ = Mode::kKeyOrClose; return true;
    case '[': stack_.push_back('['); mode_ = Mode::kValueOrClose; return true;
    case '"': key_ = false; mode_ = Mode::kString; return true;
    case '-': mode_ = Mode::kNumMinus; return true;
    case '0': mode_ = Mode::kNumZero; return true;
    case 't': literal_ = "rue"; mode_ = Mode::kLiteral; return true;
    case 'f': literal_ = "alse"; mode_ = Mode::kLiteral; return true;
    case 'n': literal_ = "ull"; mode_ = Mode::kLiteral; return true;
    default:
      if (c >= '1' && c <= '9') {
        mode_ = Mode::kNumInt;
        return true;
      }
      return false;
  }
}

bool JsonGrammar::step(unsigned char c) {
  const bool between_tokens = mode_ == Mode::kStart || mode_ == Mode::kValue || mode_ == Mode::kValueOrClose ||
                              mode_ == Mode::kKeyOrClose || mode_ == Mode::kKey || mode_ == Mode::kColon ||
                              mode_ == Mode::kAfterValue || mode_ == Mode::kDone;
  if (between_tokens && is_ws(c)) return whitespace(c);
  ws_run_ = 0;
  // A number ends at the first byte that cannot continue it; that byte then
  // follows the value (numbers are never the root: a container is open).
  auto end_number = [&] {
    close_value();
    return step(c);
  };
  switch (mode_) {
    case Mode::kStart:
      if (c != '{') return false;
      stack_.push_back('{');
      mode_ = Mode::kKeyOrClose;
      return true;
    case Mode::kValue: return open_value(c);
    case Mode::kValueOrClose:
      if (c == ']') {
        stack_.pop_back();
        return close_value();
      }
      return open_value(c);
    case Mode::kKeyOrClose:
      if (c == '}') {
        stack_.pop_back();
        return close_value();
      }
      [[fallthrough]];
    case Mode::kKey:
      if (c != '"') return false;
      key_ = true;
      mode_ = Mode::kString;
      return true;
    case Mode::kString:
      if (c == '"') {
        if (key_) {
          mode_ = Mode::kColon;
          return true;
        }
        return close_value();
      }
      if (c == '\\') {
        mode_ = Mode::kEscape;
        return true;
      }
      return c >= 0x20;  // control characters must be escaped
    case Mode::kEscape:
      if (c == 'u') {
        hex_left_ = 4;
        mode_ = Mode::kUnicode;
        return true;
      }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
        mode_ = Mode::kString;
        return true;
      }
      return false;
    case Mode::kUnicode:
      if (!is_hex(c)) return false;
      if (--hex_left_ == 0) mode_ = Mode::kString;
      return true;
    case Mode::kColon:
      if (c != ':') return false;
      mode_ = Mode::kValue;
      return true;
    case Mode::kAfterValue:
      if (c == ',') {
        mode_ = stack_.back() == '{' ? Mode::kKey : Mode::kValue;
        return true;
      }
      if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
        stack_.pop_back();
        return close_value();
      }
      return false;
    case Mode::kNumMinus:
      if (c == '0') mode_ = Mode::kNumZero;
      else if (is_digit(c)) mode_ = Mode::kNumInt;
      else return false;
      return true;
    case Mode::kNumZero:
    case Mode::kNumInt:
      if (is_digit(c) && mode_ == Mode::kNumInt) return true;
      if (c == '.') {
        mode_ = Mode::kNumDot;
        return true;
      }
      if (c == 'e' || c == 'E') {
        mode_ = Mode::kNumExp;
        return true;
      }
      return end_number();
    case Mode::kNumDot:
      if (!is_digit(c)) return false;
      mode_ = Mode::kNumFrac;
      return true;
    case Mode::kNumFrac:
      if (is_digit(c)) return true;
      if (c == 'e' || c == 'E') {
        mode_ = Mode::kNumExp;
        return true;
      }
      return end_number();
    case Mode::kNumExp:
      if (c == '+' || c == '-') mode_ = Mode::kNumExpSign;
      else if (is_digit(c)) mode_ = Mode::kNumExpDigits;
      else return false;
      return true;
    case Mode::kNumExpSign:
      if (!is_digit(c)) return false;
      mode_ = Mode::kNumExpDigits;
      return true;
    case Mode::kNumExpDigits:
      if (is_digit(c)) return true;
      return end_number();
    case Mode::kLiteral:
      if (c != static_cast<unsigned char>(*literal_)) return false;
      if (*++literal_ == '\0') return close_value();
      return true;
    case Mode::kDone: return false;  // only whitespace (above) after the object
  }
  return false;
}

JsonConstraint::JsonConstraint(std::shared_ptr<const std::vector<std::string>> pieces,
                               std::function<bool(int32_t)> is_end)
    : pieces_(std::move(pieces)), is_end_(std::move(is_end)) {}

bool JsonConstraint::allowed(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_->size()) return false;
  if (is_end_(id)) return grammar_.complete();
  const std::string& piece = (*pieces_)[static_cast<size_t>(id)];
  return !piece.empty() && grammar_.can_accept(piece);
}

void JsonConstraint::commit(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= pieces_->size() || is_end_(id)) return;
  grammar_.accept((*pieces_)[static_cast<size_t>(id)]);
}

}  // namespace hearth::sampling
