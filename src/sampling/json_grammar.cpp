#include "sampling/json_grammar.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <utility>

namespace hearth::sampling {

namespace {
bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

bool JsonGrammar::run(std::string_view bytes, std::vector<Thread>& threads) {
  thread_local std::vector<Thread> next, forks;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (threads.size() == 1) {  // the common case: no alternatives open
      forks.clear();
      if (!threads[0].step(c, &forks)) {
        if (forks.empty()) return false;
        threads.clear();
      }
      for (Thread& f : forks) threads.push_back(std::move(f));
    } else {
      next.clear();
      for (Thread& t : threads) {
        forks.clear();
        if (t.step(c, &forks)) next.push_back(std::move(t));
        for (Thread& f : forks) next.push_back(std::move(f));
      }
      if (next.empty()) return false;
      // Alternatives that have come to the same state go on as one.
      threads.clear();
      for (Thread& t : next)
        if (std::find(threads.begin(), threads.end(), t) == threads.end()) threads.push_back(std::move(t));
    }
    if (threads.size() > kMaxThreads) threads.resize(kMaxThreads, Thread(nullptr));
  }
  return true;
}

bool JsonGrammar::accept(std::string_view bytes) {
  std::vector<Thread> next = threads_;
  if (!run(bytes, next)) return false;
  threads_ = std::move(next);
  return true;
}

bool JsonGrammar::can_accept(std::string_view bytes) const {
  // Per-thread scratch copies: assigning reuses their buffers (the mask over
  // a vocabulary checks tens of thousands of pieces per step).
  thread_local std::vector<Thread> next;
  if (threads_.size() == 1) {  // one way so far: step a copy of it until it forks
    thread_local Thread one(nullptr);
    thread_local std::vector<Thread> forks;
    one = threads_[0];
    forks.clear();
    for (size_t i = 0; i < bytes.size(); ++i) {
      const bool ok = one.step(static_cast<unsigned char>(bytes[i]), &forks);
      if (!forks.empty()) {  // as run() goes on from here
        next.clear();
        if (ok) next.push_back(one);
        for (Thread& f : forks) next.push_back(std::move(f));
        return run(bytes.substr(i + 1), next);
      }
      if (!ok) return false;
    }
    return true;
  }
  next = threads_;
  return run(bytes, next);
}

bool JsonGrammar::complete() const {
  for (const Thread& t : threads_)
    if (t.complete()) return true;
  return false;
}

// Whitespace between tokens, as llama.cpp's JSON grammars allow it: one
// space, or a newline and up to kMaxIndent spaces or tabs.
bool JsonGrammar::Thread::whitespace(unsigned char c) {
  if (ws_run_ == 0) {  // a run starts with one space or a newline
    if (c != ' ' && c != '\n') return false;
    ws_newline_ = c == '\n';
    ws_run_ = 1;
    return true;
  }
  // After a newline, indentation; after a space, nothing more.
  if (!ws_newline_ || (c != ' ' && c != '\t') || ws_run_ > kMaxIndent) return false;
  ++ws_run_;
  return true;
}

JsonGrammar::JsonGrammar(std::shared_ptr<const JsonSchema> schema)
    : schema_(std::move(schema)), threads_{Thread(schema_.get())} {}

// A value has ended: the containing container continues, or the root is done.
bool JsonGrammar::Thread::close_value() {
  mode_ = stack_.empty() ? Mode::kDone : Mode::kAfterValue;
  return true;
}

// Whether the enumeration of node n has a value starting with `prefix`, and
// whether `prefix` is one of them.
namespace {
struct EnumMatch {
  bool prefix = false, whole = false, longer = false;
};
EnumMatch match_enum(const std::vector<std::string>& values, const std::string& prefix) {
  EnumMatch m;
  for (const std::string& v : values)
    if (v.compare(0, prefix.size(), prefix) == 0) {
      m.prefix = true;
      if (v.size() == prefix.size()) m.whole = true;
      else m.longer = true;
    }
  return m;
}
}  // namespace

bool JsonGrammar::Thread::open_value(unsigned char c, int n, std::vector<Thread>* forks) {
  // Alternatives ($ref, anyOf, oneOf): each that this first byte can begin
  // (their `first`) is tried from the state before it; this thread goes on
  // as the first that takes the byte, forks as the others.
  if (!node(n).alternatives.empty()) {
    const uint8_t kind = JsonSchema::first_kind(c);
    const Thread before = *this;
    bool taken = false;
    for (int a : node(n).alternatives) {
      if (!(node(a).first & kind)) continue;
      Thread t = before;
      if (!t.open_value(c, a, forks)) continue;
      if (!taken) *this = std::move(t);
      else forks->push_back(std::move(t));
      taken = true;
    }
    return taken;
  }
  const JsonSchema::Node& nd = node(n);
  if (!nd.enum_values.empty()) {
    const EnumMatch m = match_enum(nd.enum_values, std::string(1, static_cast<char>(c)));
    if (!m.prefix) return false;
    raw_.assign(1, static_cast<char>(c));
    enum_node_ = n;
    mode_ = Mode::kEnum;
    if (m.whole && !m.longer) return close_value();
    return true;
  }
  auto allows = [&](uint8_t bits) { return (nd.types & bits) != 0; };
  switch (c) {
    case '{':
      if (!allows(JsonSchema::kObject)) return false;
      stack_.push_back(Frame{n, true, 0, 0, {}, JsonSchema::kAny});
      mode_ = Mode::kKeyOrClose;
      return true;
    case '[':
      if (!allows(JsonSchema::kArray)) return false;
      stack_.push_back(Frame{n, false, 0, 0, {}, JsonSchema::kAny});
      mode_ = Mode::kValueOrClose;
      return true;
    case '"':
      if (!allows(JsonSchema::kString)) return false;
      key_ = false;
      str_len_ = 0;
      str_min_ = nd.min_length;
      str_max_ = nd.max_length;
      pat_ = nd.pattern.get();
      if (pat_) {
        pat_states_ = pat_->start();
        pat_need_ = 0;
      }
      mode_ = Mode::kString;
      return true;
    case 't': case 'f':
      if (!allows(JsonSchema::kBoolean)) return false;
      literal_ = c == 't' ? "rue" : "alse";
      mode_ = Mode::kLiteral;
      return true;
    case 'n':
      if (!allows(JsonSchema::kNull)) return false;
      literal_ = "ull";
      mode_ = Mode::kLiteral;
      return true;
    default:
      if (c != '-' && !is_digit(c)) return false;
      if (!allows(JsonSchema::kNumber | JsonSchema::kInteger)) return false;
      int_only_ = !allows(JsonSchema::kNumber);
      mode_ = c == '-' ? Mode::kNumMinus : c == '0' ? Mode::kNumZero : Mode::kNumInt;
      num_bounded_ = int_only_ && (nd.minimum != INT64_MIN || nd.maximum != INT64_MAX);
      if (!num_bounded_) return true;
      num_lo_ = nd.minimum;
      num_hi_ = nd.maximum;
      num_neg_ = c == '-';
      num_digits_ = c == '-' ? 0 : 1;
      num_abs_ = c == '-' ? 0 : c - '0';
      return int_feasible();
  }
}

bool JsonGrammar::Thread::int_feasible() const {
  using I = __int128;
  if (num_digits_ == 0) return num_lo_ <= 0;  // "-": a negative integer, or -0
  if (mode_ == Mode::kNumZero) return num_lo_ <= 0 && 0 <= num_hi_;
  // The integers whose digits begin so: p · 10^k ... (p + 1) · 10^k - 1 for
  // each count k of digits still to come.
  I scale = 1;
  for (int k = 0; k <= 19; ++k, scale *= 10) {
    const I a = num_abs_ * scale, b = (num_abs_ + 1) * scale - 1;
    const I lo = num_neg_ ? -b : a, hi = num_neg_ ? -a : b;
    if (lo <= num_hi_ && hi >= num_lo_) return true;
    if (a > I(INT64_MAX)) break;
  }
  return false;
}

bool JsonGrammar::Thread::pat_feed(uint32_t cp) {
  pat_need_ = 0;
  return pat_->step(pat_states_, cp);
}

bool JsonGrammar::Thread::int_in_range() const {
  const __int128 v = num_neg_ ? -num_abs_ : num_abs_;
  return num_lo_ <= v && v <= num_hi_;
}

bool JsonGrammar::Thread::complete() const {
  if (mode_ == Mode::kDone) return true;
  if (!stack_.empty()) return false;
  switch (mode_) {
    case Mode::kNumZero: case Mode::kNumInt: return !num_bounded_ || int_in_range();
    case Mode::kNumFrac: case Mode::kNumExpDigits: return true;
    case Mode::kEnum: return match_enum(node(enum_node_).enum_values, raw_).whole;
    default: return false;
  }
}

// Objects: a key byte keeps the key a prefix of a property not seen yet,
// unless other properties are allowed too.
bool JsonGrammar::Thread::key_byte(unsigned char c) {
  Frame& f = stack_.back();
  f.key.push_back(static_cast<char>(c));
  const JsonSchema::Node& nd = node(f.node);
  if (nd.additional != JsonSchema::kNotAllowed) return true;
  for (size_t i = 0; i < nd.names.size(); ++i)
    if (!(f.seen >> i & 1) && nd.names[i].compare(0, f.key.size(), f.key) == 0) return true;
  return false;
}

bool JsonGrammar::Thread::key_done() {
  Frame& f = stack_.back();
  const JsonSchema::Node& nd = node(f.node);
  for (size_t i = 0; i < nd.names.size(); ++i)
    if (nd.names[i] == f.key) {
      if (f.seen >> i & 1) return false;  // each property once
      f.seen |= uint64_t{1} << i;
      f.value = nd.values[i];
      f.key.clear();
      return true;
    }
  if (nd.additional == JsonSchema::kNotAllowed) return false;
  f.value = nd.additional;
  f.key.clear();
  return true;
}

bool JsonGrammar::Thread::can_close_object() const {
  const Frame& f = stack_.back();
  const uint64_t required = node(f.node).required;
  return (f.seen & required) == required;
}

bool JsonGrammar::Thread::can_add_key() const {
  const Frame& f = stack_.back();
  const JsonSchema::Node& nd = node(f.node);
  if (nd.additional != JsonSchema::kNotAllowed) return true;
  const uint64_t all = nd.names.size() >= 64 ? ~uint64_t{0} : (uint64_t{1} << nd.names.size()) - 1;
  return (f.seen & all) != all;
}

bool JsonGrammar::Thread::step(unsigned char c, std::vector<Thread>* forks) {
  const bool between_tokens = mode_ == Mode::kStart || mode_ == Mode::kValue || mode_ == Mode::kValueOrClose ||
                              mode_ == Mode::kKeyOrClose || mode_ == Mode::kKey || mode_ == Mode::kColon ||
                              mode_ == Mode::kAfterValue || mode_ == Mode::kDone;
  if (between_tokens && is_ws(c)) return whitespace(c);
  ws_run_ = 0;
  // A number (or an enumerated value) ends at the first byte that cannot
  // continue it; that byte then follows the value.
  auto end_value = [&] {
    close_value();
    return step(c, forks);
  };
  // The schema of the next value in the innermost container.
  auto next_value = [&]() -> int {
    Frame& f = stack_.back();
    if (f.object) return f.value;
    const JsonSchema::Node& nd = node(f.node);
    const auto i = static_cast<size_t>(f.count++);
    return i < nd.prefix_items.size() ? nd.prefix_items[i] : nd.items;
  };
  auto array_may_grow = [&] {
    const Frame& f = stack_.back();
    const int64_t max = node(f.node).max_items;
    return max < 0 || f.count < max;
  };
  switch (mode_) {
    case Mode::kStart: return open_value(c, schema_->root, forks);
    case Mode::kValue:
      if (!stack_.back().object && !array_may_grow()) return false;
      return open_value(c, next_value(), forks);
    case Mode::kValueOrClose:
      if (c == ']') {
        if (stack_.back().count < node(stack_.back().node).min_items) return false;
        stack_.pop_back();
        return close_value();
      }
      if (!array_may_grow()) return false;
      return open_value(c, next_value(), forks);
    case Mode::kKeyOrClose:
      if (c == '}') {
        if (!can_close_object()) return false;
        stack_.pop_back();
        return close_value();
      }
      [[fallthrough]];
    case Mode::kKey:
      if (c != '"' || !can_add_key()) return false;
      key_ = true;
      mode_ = Mode::kString;
      return true;
    case Mode::kString:
      if (c == '"') {
        if (key_) {
          if (!key_done()) return false;
          mode_ = Mode::kColon;
          return true;
        }
        if (str_len_ < str_min_) return false;
        if (pat_ && (pat_need_ > 0 || !pat_->accepts(pat_states_))) return false;
        pat_ = nullptr;
        return close_value();
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (key_ && !key_byte(c)) return false;
      if (!key_ && (c & 0xC0) != 0x80) {  // a character begins: a UTF-8 lead byte, ASCII or an escape
        if (str_max_ >= 0 && str_len_ >= str_max_) return false;
        ++str_len_;
      }
      if (c == '\\') {
        mode_ = Mode::kEscape;
        return true;
      }
      if (!key_ && pat_) {  // the character, decoded from UTF-8, to the pattern
        if (c < 0x80) return pat_feed(c);
        if (c >= 0xC0) {
          pat_need_ = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
          pat_cp_ = c >= 0xF0 ? c & 0x07 : c >= 0xE0 ? c & 0x0F : c & 0x1F;
          return true;
        }
        pat_cp_ = pat_cp_ << 6 | (c & 0x3F);
        if (pat_need_ > 0 && --pat_need_ == 0) return pat_feed(pat_cp_);
      }
      return true;
    case Mode::kEscape:
      if (c == 'u') {
        hex_left_ = 4;
        pat_cp_ = 0;
        mode_ = Mode::kUnicode;
      } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
        mode_ = Mode::kString;
        if (!key_ && pat_) {
          const uint32_t cp = c == 'b' ? 8 : c == 'f' ? 12 : c == 'n' ? 10 : c == 'r' ? 13 : c == 't' ? 9 : c;
          if (!pat_feed(cp)) return false;
        }
      } else {
        return false;
      }
      return !key_ || key_byte(c);
    case Mode::kUnicode:
      if (!is_hex(c)) return false;
      pat_cp_ = pat_cp_ << 4 | static_cast<uint32_t>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
      if (--hex_left_ == 0) {
        mode_ = Mode::kString;
        if (!key_ && pat_ && !pat_feed(pat_cp_)) return false;
      }
      return !key_ || key_byte(c);
    case Mode::kColon:
      if (c != ':') return false;
      mode_ = Mode::kValue;
      return true;
    case Mode::kAfterValue: {
      const Frame& f = stack_.back();
      if (c == ',') {
        if (f.object ? !can_add_key() : !array_may_grow()) return false;
        mode_ = f.object ? Mode::kKey : Mode::kValue;
        return true;
      }
      if (c == '}' && f.object) {
        if (!can_close_object()) return false;
        stack_.pop_back();
        return close_value();
      }
      if (c == ']' && !f.object) {
        if (f.count < node(f.node).min_items) return false;
        stack_.pop_back();
        return close_value();
      }
      return false;
    }
    case Mode::kNumMinus:
      if (c == '0') mode_ = Mode::kNumZero;
      else if (is_digit(c)) mode_ = Mode::kNumInt;
      else return false;
      if (!num_bounded_) return true;
      num_digits_ = 1;
      num_abs_ = c - '0';
      return int_feasible();
    case Mode::kNumZero:
    case Mode::kNumInt:
      if (is_digit(c) && mode_ == Mode::kNumInt) {
        if (!num_bounded_) return true;
        ++num_digits_;
        num_abs_ = std::min<__int128>(num_abs_ * 10 + (c - '0'), __int128(1) << 100);
        return int_feasible();
      }
      if (num_bounded_ && !int_in_range()) return false;
      if (!int_only_ && c == '.') {
        mode_ = Mode::kNumDot;
        return true;
      }
      if (!int_only_ && (c == 'e' || c == 'E')) {
        mode_ = Mode::kNumExp;
        return true;
      }
      return end_value();
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
      return end_value();
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
      return end_value();
    case Mode::kLiteral:
      if (c != static_cast<unsigned char>(*literal_)) return false;
      if (*++literal_ == '\0') return close_value();
      return true;
    case Mode::kEnum: {
      raw_.push_back(static_cast<char>(c));
      const EnumMatch m = match_enum(node(enum_node_).enum_values, raw_);
      if (m.prefix) {
        if (m.whole && !m.longer) return close_value();
        return true;
      }
      raw_.pop_back();
      // raw_ may be a whole value that a longer one extends (1 and 10): then
      // this byte follows it.
      if (!match_enum(node(enum_node_).enum_values, raw_).whole) return false;
      return end_value();
    }
    case Mode::kDone: return false;  // only whitespace (above) after the value
  }
  return false;
}

JsonConstraint::JsonConstraint(std::shared_ptr<const std::vector<std::string>> pieces,
                               std::function<bool(int32_t)> is_end, std::shared_ptr<const JsonSchema> schema)
    : pieces_(std::move(pieces)), is_end_(std::move(is_end)), grammar_(std::move(schema)) {}

// Whether token id may come next; `first` (may be null): which bytes may
// come next, and which may follow a space (`after_space`), shortcuts past
// pieces that fail on their first byte or on the byte after a leading space
// (most SentencePiece pieces begin with one).
bool JsonConstraint::allowed(int32_t id, const bool* first, const bool* after_space) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_->size()) return false;
  if (is_end_(id)) return grammar_.complete();
  const std::string& piece = (*pieces_)[static_cast<size_t>(id)];
  if (piece.empty()) return false;
  if (first) {
    if (!first[static_cast<unsigned char>(piece[0])]) return false;
    if (piece.size() == 1) return true;
    if (after_space && piece[0] == ' ' && !after_space[static_cast<unsigned char>(piece[1])]) return false;
  }
  return grammar_.can_accept(piece);
}

bool JsonConstraint::allowed(int32_t id) const { return allowed(id, nullptr, nullptr); }

bool JsonConstraint::mask(std::span<float> logits) const {
  bool first[256], after_space[256];
  int n_first = 0;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    first[b] = grammar_.can_accept(std::string_view(&c, 1));
    n_first += first[b];
  }
  // Between tokens (few bytes fit, a space among them) the bytes that may
  // follow a space rule out most pieces that begin with one; inside a
  // string (nearly every byte fits) the table is not worth making.
  const bool* space_table = nullptr;
  if (n_first < 128 && first[static_cast<unsigned char>(' ')]) {
    for (int b = 0; b < 256; ++b) {
      const char two[2] = {' ', static_cast<char>(b)};
      after_space[b] = grammar_.can_accept(std::string_view(two, 2));
    }
    space_table = after_space;
  }
  bool any = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (allowed(static_cast<int32_t>(i), first, space_table)) any = true;
    else logits[i] = -INFINITY;
  }
  return any;
}

int32_t JsonConstraint::an_end_token() const {
  for (size_t i = 0; i < pieces_->size(); ++i)
    if (is_end_(static_cast<int32_t>(i))) return static_cast<int32_t>(i);
  return -1;
}

void JsonConstraint::commit(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= pieces_->size() || is_end_(id)) return;
  grammar_.accept((*pieces_)[static_cast<size_t>(id)]);
}

void JsonConstraint::accept_text(std::string_view text) {
  if (!text.empty() && grammar_.can_accept(text)) grammar_.accept(text);
}

}  // namespace hearth::sampling
