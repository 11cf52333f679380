#include "sampling/json_pattern.h"

#include <algorithm>

namespace hearth::sampling {

namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;
constexpr uint32_t kMaxCp = 0x10FFFF;

// The syntax tree of a pattern.
struct Re {
  enum Kind { kSet, kCat, kAlt, kRepeat } kind = kCat;  // an empty kCat matches the empty string
  Ranges set;
  std::vector<std::unique_ptr<Re>> kids;
  int min = 0, max = -1;  // kRepeat: -1 = unbounded
};

Ranges normalize(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& [a, b] : r) {
    if (!out.empty() && a <= out.back().second + 1) out.back().second = std::max(out.back().second, b);
    else out.emplace_back(a, b);
  }
  return out;
}

Ranges complement(const Ranges& r) {
  Ranges n = normalize(r), out;
  uint32_t next = 0;
  for (const auto& [a, b] : n) {
    if (a > next) out.emplace_back(next, a - 1);
    next = b + 1;
  }
  if (next <= kMaxCp) out.emplace_back(next, kMaxCp);
  return out;
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x2028, 0x2029}, {0xFEFF, 0xFEFF}};

std::vector<uint32_t> code_points(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
    ++i;
    for (; n > 0 && i < s.size(); --n, ++i) cp = cp << 6 | (static_cast<unsigned char>(s[i]) & 0x3F);
    out.push_back(cp);
  }
  return out;
}

}  // namespace

class PatternParser {
 public:
  explicit PatternParser(std::string_view source) : src_(source), p_(code_points(source)) {}

  Result<std::shared_ptr<const JsonPattern>> run() {
    bool anchored_start = false, anchored_end = false;
    size_t end = p_.size();
    if (!p_.empty() && p_[0] == '^') {
      anchored_start = true;
      i_ = 1;
    }
    if (end > i_ && p_[end - 1] == '$' && (end < 2 || p_[end - 2] != '\\')) {
      anchored_end = true;
      --end;
    }
    end_ = end;
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<Re> re, alternation());
    if (i_ != end_) return bad("unbalanced ')'");
    auto pat = std::make_shared<JsonPattern>();
    pat_ = pat.get();
    const int match = add({JsonPattern::State::kMatch, {}, -1, -1});
    int next = match;
    if (!anchored_end) next = any_loop(next);
    HEARTH_ASSIGN_OR_RETURN(int entry, compile(*re, next));
    if (!anchored_start) entry = any_loop(entry);
    pat->start_ = entry;
    return std::shared_ptr<const JsonPattern>(std::move(pat));
  }

 private:
  Status bad(const std::string& why) const {
    return invalid_argument("pattern '" + std::string(src_.substr(0, 80)) + "': " + why);
  }
  bool more() const { return i_ < end_; }
  uint32_t peek() const { return p_[i_]; }

  Result<std::unique_ptr<Re>> alternation() {
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<Re> first, sequence());
    if (!more() || peek() != '|') return first;
    auto alt = std::make_unique<Re>();
    alt->kind = Re::kAlt;
    alt->kids.push_back(std::move(first));
    while (more() && peek() == '|') {
      ++i_;
      HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<Re> next, sequence());
      alt->kids.push_back(std::move(next));
    }
    return alt;
  }

  Result<std::unique_ptr<Re>> sequence() {
    auto cat = std::make_unique<Re>();
    while (more() && peek() != '|' && peek() != ')') {
      HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<Re> atom, this->atom());
      HEARTH_ASSIGN_OR_RETURN(atom, quantified(std::move(atom)));
      cat->kids.push_back(std::move(atom));
    }
    return cat;
  }

  Result<std::unique_ptr<Re>> quantified(std::unique_ptr<Re> atom) {
    while (more()) {
      int min = 0, max = -1;
      const size_t at = i_;
      const uint32_t c = peek();
      if (c == '*') {
        ++i_;
      } else if (c == '+') {
        min = 1;
        ++i_;
      } else if (c == '?') {
        max = 1;
        ++i_;
      } else if (c == '{') {
        ++i_;
        auto number = [&](int* out) {
          const size_t from = i_;
          long v = 0;
          while (more() && peek() >= '0' && peek() <= '9' && v < 100000) v = v * 10 + (peek() - '0'), ++i_;
          *out = static_cast<int>(v);
          return i_ > from;
        };
        if (!number(&min)) {
          i_ = at;  // not a quantifier: a literal '{'
          return atom;
        }
        max = min;
        if (more() && peek() == ',') {
          ++i_;
          if (!number(&max)) max = -1;
        }
        if (!more() || peek() != '}') {
          i_ = at;
          return atom;
        }
        ++i_;
        if (max >= 0 && max < min) return bad("a quantifier's maximum is below its minimum");
        if (min > 1000 || max > 1000) return bad("counts above 1000 are not supported");
      } else {
        return atom;
      }
      if (more() && peek() == '?') ++i_;  // lazy: the same strings
      auto rep = std::make_unique<Re>();
      rep->kind = Re::kRepeat;
      rep->min = min;
      rep->max = max;
      rep->kids.push_back(std::move(atom));
      atom = std::move(rep);
    }
    return atom;
  }

  static std::unique_ptr<Re> set(Ranges r) {
    auto re = std::make_unique<Re>();
    re->kind = Re::kSet;
    re->set = normalize(std::move(r));
    return re;
  }

  // An escape after '\\' (i_ at the letter): its ranges.
  Result<Ranges> escape() {
    if (!more()) return bad("a pattern cannot end with '\\'");
    const uint32_t c = p_[i_++];
    switch (c) {
      case 'd': return kDigit;
      case 'D': return complement(kDigit);
      case 'w': return kWord;
      case 'W': return complement(kWord);
      case 's': return kSpace;
      case 'S': return complement(kSpace);
      case 'n': return Ranges{{'\n', '\n'}};
      case 't': return Ranges{{'\t', '\t'}};
      case 'r': return Ranges{{'\r', '\r'}};
      case 'f': return Ranges{{'\f', '\f'}};
      case 'v': return Ranges{{'\v', '\v'}};
      case '0': return Ranges{{0, 0}};
      case 'x': case 'u': {
        const int digits = c == 'x' ? 2 : 4;
        uint32_t v = 0;
        for (int k = 0; k < digits; ++k) {
          if (!more()) return bad("a short \\x or \\u escape");
          const uint32_t h = p_[i_++];
          const int d = h >= '0' && h <= '9' ? static_cast<int>(h - '0') : h >= 'a' && h <= 'f' ? static_cast<int>(h - 'a' + 10)
                      : h >= 'A' && h <= 'F' ? static_cast<int>(h - 'A' + 10) : -1;
          if (d < 0) return bad("a \\x or \\u escape needs hex digits");
          v = v * 16 + static_cast<uint32_t>(d);
        }
        return Ranges{{v, v}};
      }
      case 'b': case 'B': return bad("word boundaries (\\b) are not supported");
      default:
        if (c >= '1' && c <= '9') return bad("backreferences are not supported");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return bad(std::string("the escape \\") + char(c) + " is not supported");
        return Ranges{{c, c}};  // an escaped punctuation character stands for itself
    }
  }

  Result<std::unique_ptr<Re>> atom() {
    const uint32_t c = p_[i_++];
    switch (c) {
      case '(': {
        if (++depth_ > kMaxDepth) return bad("groups nest too deep");
        if (more() && peek() == '?') {
          if (i_ + 1 < end_ && p_[i_ + 1] == ':') i_ += 2;
          else return bad("lookarounds and named groups are not supported");
        }
        HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<Re> inner, alternation());
        if (!more() || peek() != ')') return bad("a '(' is not closed");
        ++i_;
        --depth_;
        return inner;
      }
      case '[': return char_class();
      case '.': return set(complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}));
      case '\\': {
        HEARTH_ASSIGN_OR_RETURN(Ranges r, escape());
        return set(std::move(r));
      }
      case '^': case '$': return bad("anchors are supported only at the start (^) and the end ($)");
      case '*': case '+': case '?': return bad("a quantifier follows nothing");
      default: return set({{c, c}});
    }
  }

  Result<std::unique_ptr<Re>> char_class() {
    bool negate = false;
    if (more() && peek() == '^') {
      negate = true;
      ++i_;
    }
    Ranges r;
    bool first = true;
    for (;;) {
      if (!more()) return bad("a '[' is not closed");
      uint32_t c = p_[i_++];
      if (c == ']' && !first) break;
      first = false;
      Ranges item;
      if (c == '\\') {
        HEARTH_ASSIGN_OR_RETURN(item, escape());
      } else {
        item = {{c, c}};
      }
      // A range a-b between two single characters.
      if (item.size() == 1 && item[0].first == item[0].second && i_ + 1 < end_ && peek() == '-' && p_[i_ + 1] != ']') {
        ++i_;
        uint32_t hi = p_[i_++];
        if (hi == '\\') {
          HEARTH_ASSIGN_OR_RETURN(Ranges e, escape());
          if (e.size() != 1 || e[0].first != e[0].second) return bad("a class range must end with one character");
          hi = e[0].first;
        }
        if (hi < item[0].first) return bad("a class range runs backwards");
        item = {{item[0].first, hi}};
      }
      r.insert(r.end(), item.begin(), item.end());
    }
    return set(negate ? complement(r) : r);
  }

  int add(JsonPattern::State s) {
    pat_->states_.push_back(std::move(s));
    return static_cast<int>(pat_->states_.size()) - 1;
  }

  // A loop over any code point before `next` (an unanchored end or start).
  int any_loop(int next) {
    const int split = add({JsonPattern::State::kSplit, {}, -1, next});
    const int any = add({JsonPattern::State::kRanges, {{0, kMaxCp}}, split, -1});
    pat_->states_[static_cast<size_t>(split)].out = any;
    return split;
  }

  // The NFA for re, continuing into `next`; its entry state.
  Result<int> compile(const Re& re, int next) {
    if (pat_->states_.size() > JsonPattern::kMaxStates) return bad("the pattern is too large");
    switch (re.kind) {
      case Re::kSet: return add({JsonPattern::State::kRanges, re.set, next, -1});
      case Re::kCat:
        for (size_t k = re.kids.size(); k-- > 0;) {
          HEARTH_ASSIGN_OR_RETURN(next, compile(*re.kids[k], next));
        }
        return next;
      case Re::kAlt: {
        std::vector<int> entries;
        for (const auto& kid : re.kids) {
          HEARTH_ASSIGN_OR_RETURN(int e, compile(*kid, next));
          entries.push_back(e);
        }
        int entry = entries.back();
        for (size_t k = entries.size() - 1; k-- > 0;) entry = add({JsonPattern::State::kSplit, {}, entries[k], entry});
        return entry;
      }
      case Re::kRepeat: {
        const Re& kid = *re.kids[0];
        int tail = next;
        if (re.max < 0) {  // the unbounded part: a loop
          const int split = add({JsonPattern::State::kSplit, {}, -1, next});
          HEARTH_ASSIGN_OR_RETURN(int body, compile(kid, split));
          pat_->states_[static_cast<size_t>(split)].out = body;
          tail = split;
        } else {
          for (int k = re.min; k < re.max; ++k) {  // optional copies
            HEARTH_ASSIGN_OR_RETURN(int body, compile(kid, tail));
            tail = add({JsonPattern::State::kSplit, {}, body, next});
            if (pat_->states_.size() > JsonPattern::kMaxStates) return bad("the pattern is too large");
          }
        }
        for (int k = 0; k < re.min; ++k) {
          HEARTH_ASSIGN_OR_RETURN(tail, compile(kid, tail));
          if (pat_->states_.size() > JsonPattern::kMaxStates) return bad("the pattern is too large");
        }
        return tail;
      }
    }
    return next;
  }

  static constexpr int kMaxDepth = 64;
  std::string_view src_;
  std::vector<uint32_t> p_;
  size_t i_ = 0, end_ = 0;
  int depth_ = 0;
  JsonPattern* pat_ = nullptr;
};

Result<std::shared_ptr<const JsonPattern>> JsonPattern::compile(std::string_view source) {
  PatternParser p(source);
  auto r = p.run();
  if (r.ok() && r.value()->states_.size() > kMaxStates)
    return invalid_argument("pattern '" + std::string(source.substr(0, 80)) + "': the pattern is too large");
  return r;
}

void JsonPattern::closure(int s, States& into, std::vector<uint8_t>& seen) const {
  if (s < 0 || seen[static_cast<size_t>(s)]) return;
  seen[static_cast<size_t>(s)] = 1;
  const State& st = states_[static_cast<size_t>(s)];
  if (st.kind == State::kSplit) {
    closure(st.out, into, seen);
    closure(st.out2, into, seen);
    return;
  }
  into.push_back(static_cast<uint16_t>(s));
}

JsonPattern::States JsonPattern::start() const {
  States s;
  std::vector<uint8_t> seen(states_.size(), 0);
  closure(start_, s, seen);
  std::sort(s.begin(), s.end());
  return s;
}

bool JsonPattern::step(States& s, uint32_t cp) const {
  thread_local States next;
  thread_local std::vector<uint8_t> seen;
  next.clear();
  seen.assign(states_.size(), 0);
  for (uint16_t id : s) {
    const State& st = states_[id];
    if (st.kind != State::kRanges) continue;
    for (const auto& [a, b] : st.ranges)
      if (cp >= a && cp <= b) {
        closure(st.out, next, seen);
        break;
      }
  }
  if (next.empty()) return false;
  std::sort(next.begin(), next.end());
  s.swap(next);
  return true;
}

bool JsonPattern::accepts(const States& s) const {
  for (uint16_t id : s)
    if (states_[id].kind == State::kMatch) return true;
  return false;
}

}  // namespace hearth::sampling
