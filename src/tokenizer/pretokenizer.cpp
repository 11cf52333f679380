#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 32
#include <pcre2.h>

#include <map>

#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

namespace {

// Published split patterns (adapted where a family's original uses (?i:...),
// which the collapsed matching cannot express).
const char* kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kCjk = "[一-龥ࠀ-一가-퟿]+";
const char* kBloom = " ?[^(\\s|.,!?…。，、।۔،)]+";
const char* kTekken =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+("
    "(?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kGpt4o =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL]["
    "lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'["
    "mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kDeepseekLlmLetters =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ"
    "-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}"
    "ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}"
    "-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰"
    "-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

struct Family {
  std::vector<const char*> names;
  PreTokenizerInfo info;
};

const std::vector<Family>& families() {
  static const std::vector<Family> kFamilies = {
      {{"default"},
       {{"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
       {{kLlama3}, true, true}},
      {{"dbrx", "smaug-bpe"}, {{kLlama3}}},
      {{"deepseek-llm"},
       {{"[\r\n]", kDeepseekLlmLetters, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", kCjk, "\\p{N}+"}}},
      {{"deepseek-coder"}, {{"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"}}},
      {{"deepseek-v3", "hunyuan-dense"},
       {{"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
         "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
         "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}}},
      {{"falcon"}, {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"}, {{"\\p{N}", kGpt2}}},
      {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
        "jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4"},
       {{kGpt2}}},
      {{"qwen2", "deepseek-r1-qwen", "kormo", "megrez", "stablelm2", "hunyuan"}, {{kQwen2}}},
      {{"poro-chat", "bloom", "gpt3-finnish"}, {{kBloom}}},
      {{"glm4", "chatglm-bpe"}, {{kLlama3}, false, false, true}},
      {{"viking"}, {{kBloom, "\\p{N}"}}},
      {{"tekken"}, {{kTekken}, true, true}},
      {{"chameleon"},
       {{"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
         "[\\p{P}!-/:-@\\[-`{-~]", kGpt2},
        false, true}},
      {{"gpt-4o", "llama4", "minimax-m2"}, {{kGpt4o}}},
      {{"seed-coder"},
       {{"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| "
         "?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
      {{"grok-2"}, {{kQwen2}}},
  };
  return kFamilies;
}

// Category classes in the collapsed text: one code per category, plus the
// ASCII members spelled out (ASCII is kept as is).
constexpr uint32_t kCodeNumber = 0xD1, kCodeLetter = 0xD2, kCodePunct = 0xD3, kCodeMark = 0xD4,
                   kCodeSymbol = 0xD5, kCodeOther = 0xD0, kCodeSpace = 0x0B;

struct ClassSpec {
  const char* name;
  uint32_t code;
  const char* ascii;
};
const ClassSpec kClasses[] = {
    {"\\p{N}", kCodeNumber, "0-9"},
    {"\\p{L}", kCodeLetter, "A-Za-z"},
    {"\\p{P}", kCodePunct, "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"},
    {"\\p{M}", kCodeMark, ""},
    {"\\p{S}", kCodeSymbol, "\\$\\+<->\\^`\\|~"},
    {"\\p{Lu}", kCodeLetter, "A-Za-z"},
    {"\\p{Ll}", kCodeLetter, "A-Za-z"},
    {"\\p{Lt}", kCodeLetter, "A-Za-z"},
    {"\\p{Lm}", kCodeLetter, "A-Za-z"},
    {"\\p{Lo}", kCodeLetter, "A-Za-z"},
};

bool uses_classes(const std::string& p) {
  for (const auto& c : kClasses)
    if (p.find(c.name) != std::string::npos) return true;
  return false;
}

// UTF-8 pattern -> 32-bit pattern, with \p{..} replaced by collapsed classes.
std::vector<PCRE2_UCHAR32> translate(const std::string& pattern, bool collapse) {
  std::vector<PCRE2_UCHAR32> out;
  std::vector<uint32_t> cps = codepoints(pattern);
  bool inside = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    uint32_t c = cps[i];
    if (collapse) {
      if (c == '[' && (i == 0 || cps[i - 1] != '\\')) inside = true;
      else if (c == ']' && inside && cps[i - 1] != '\\') inside = false;
      if (c == '\\' && i + 3 < cps.size() && cps[i + 1] == 'p' && cps[i + 2] == '{') {
        bool done = false;
        for (const auto& cls : kClasses) {
          std::string name = cls.name;
          if (i + name.size() > cps.size()) continue;
          bool eq = true;
          for (size_t k = 0; k < name.size(); ++k)
            if (cps[i + k] != static_cast<unsigned char>(name[k])) eq = false;
          if (!eq) continue;
          if (!inside) out.push_back('[');
          out.push_back(cls.code);
          for (const char* a = cls.ascii; *a; ++a) out.push_back(static_cast<unsigned char>(*a));
          if (!inside) out.push_back(']');
          i += name.size() - 1;
          done = true;
          break;
        }
        if (done) continue;
      }
    }
    out.push_back(c);
  }
  return out;
}

uint32_t collapse_cpt(uint32_t cp) {
  if (cp < 128) return cp;
  if (cp == kInvalidCpt) return kCodeOther;
  if (is_whitespace(cp)) return kCodeSpace;
  switch (category(cp)) {
    case Category::kNumber: return kCodeNumber;
    case Category::kLetter: return kCodeLetter;
    case Category::kPunctuation: return kCodePunct;
    case Category::kMark: return kCodeMark;
    case Category::kSymbol: return kCodeSymbol;
    default: return kCodeOther;
  }
}

}  // namespace

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  bool collapse = false;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

Result<PreTokenizerInfo> pretokenizer_info(const std::string& pre) {
  for (const auto& f : families())
    for (const char* n : f.names)
      if (pre == n) return f.info;
  return unsupported("pre-tokenizer '" + pre + "' (tokenizer.ggml.pre) is not supported");
}

std::vector<std::string> pretokenizer_names() {
  std::vector<std::string> out;
  for (const auto& f : families())
    for (const char* n : f.names) out.push_back(n);
  return out;
}

Result<std::shared_ptr<const RegexSplitter>> RegexSplitter::compile(const std::vector<std::string>& patterns) {
  auto s = std::make_shared<RegexSplitter>();
  for (const std::string& p : patterns) {
    auto c = new Compiled();
    s->compiled_.push_back(c);
    c->collapse = uses_classes(p);
    std::vector<PCRE2_UCHAR32> pat = translate(p, c->collapse);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    c->code = pcre2_compile(pat.data(), pat.size(), PCRE2_DOLLAR_ENDONLY, &err, &err_off, nullptr);
    if (!c->code) {
      PCRE2_UCHAR32 buf[256];
      pcre2_get_error_message(err, buf, 256);
      std::string msg;
      for (int k = 0; k < 256 && buf[k]; ++k) append_utf8(buf[k], &msg);
      return invalid_argument("pre-tokenizer pattern '" + p + "': " + msg + " at " + std::to_string(err_off));
    }
    c->jit = pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE) == 0;
  }
  return std::shared_ptr<const RegexSplitter>(std::move(s));
}

RegexSplitter::~RegexSplitter() {
  for (Compiled* c : compiled_) delete c;
}

std::vector<std::string> RegexSplitter::split(std::string_view text) const {
  std::vector<Cpt> cpts = decode_utf8(text);
  const size_t n = cpts.size();
  std::vector<PCRE2_UCHAR32> collapsed, wide;
  for (const Compiled* c : compiled_) {
    if (c->collapse && collapsed.empty()) {
      collapsed.resize(n);
      for (size_t i = 0; i < n; ++i) collapsed[i] = collapse_cpt(cpts[i].cp);
    }
    if (!c->collapse && wide.empty()) {
      wide.resize(n);
      for (size_t i = 0; i < n; ++i) {
        uint32_t cp = cpts[i].cp;
        wide[i] = cp == kInvalidCpt ? 0xFFFD : (cp > 0x7F && is_whitespace(cp)) ? kCodeSpace : cp;
      }
    }
  }
  std::vector<size_t> lengths = {n};
  pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
  for (const Compiled* c : compiled_) {
    const PCRE2_UCHAR32* subject = c->collapse ? collapsed.data() : wide.data();
    std::vector<size_t> next;
    size_t start = 0;
    for (size_t len : lengths) {
      size_t pos = 0, last = 0;
      while (pos < len) {
        int rc = c->jit ? pcre2_jit_match(c->code, subject + start, len, pos, 0, md, nullptr)
                        : pcre2_match(c->code, subject + start, len, pos, 0, md, nullptr);
        if (rc < 0) break;  // no more matches (or a resource limit: keep the rest whole)
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {  // empty match: move on one character
          pos = ms + 1;
          continue;
        }
        if (ms > last) next.push_back(ms - last);
        next.push_back(me - ms);
        last = pos = me;
      }
      if (last < len) next.push_back(len - last);
      start += len;
    }
    lengths = std::move(next);
  }
  pcre2_match_data_free(md);
  std::vector<std::string> words;
  words.reserve(lengths.size());
  size_t ci = 0;
  for (size_t len : lengths) {
    if (len == 0) continue;
    size_t b = cpts[ci].offset, e = cpts[ci + len - 1].offset + cpts[ci + len - 1].len;
    words.emplace_back(text.substr(b, e - b));
    ci += len;
  }
  return words;
}

}  // namespace hearth::tokenizer
