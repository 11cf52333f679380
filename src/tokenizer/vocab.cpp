#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>

namespace hearth::tokenizer {

namespace {

Status read_id(const gguf::File& f, const std::string& key, const Vocab& v, TokenId* out) {
  const gguf::Value* val = f.find(key);
  if (!val) return Status();
  auto i = val->as_int();
  if (!i) return invalid_argument(f.label() + ": '" + key + "' is not an integer");
  // Out-of-range ids (e.g. 0xFFFFFFFF for "none") leave the family default.
  if (*i >= 0 && *i < v.n_tokens()) *out = static_cast<TokenId>(*i);
  return Status();
}

void read_flag(const gguf::File& f, const std::string& key, bool* out) {
  const gguf::Value* v = f.find(key);
  if (v && v->type == gguf::ValueType::kBool) *out = v->u != 0;
}

}  // namespace

Result<Vocab> Vocab::load(const gguf::File& f) {
  Vocab v;
  HEARTH_ASSIGN_OR_RETURN(v.model, f.get_string("tokenizer.ggml.model"));
  v.pre = f.get_string_or("tokenizer.ggml.pre", "default");
  const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
  if (!toks || toks->type != gguf::ValueType::kArray || toks->arr->elem_type != gguf::ValueType::kString)
    return invalid_argument(f.label() + ": tokenizer.ggml.tokens is missing or not an array of strings");
  const size_t n = toks->arr->count;
  if (n == 0 || n > (1u << 24)) return invalid_argument(f.label() + ": tokenizer.ggml.tokens has " + std::to_string(n) + " entries");
  auto check_array = [&](const char* key, const gguf::Value** out) -> Status {
    const gguf::Value* a = f.find(key);
    *out = nullptr;
    if (!a) return Status();
    if (a->type != gguf::ValueType::kArray || a->arr->count != n ||
        a->arr->elem_type == gguf::ValueType::kString || a->arr->elem_type == gguf::ValueType::kArray)
      return invalid_argument(f.label() + ": " + key + " must be a numeric array of " + std::to_string(n) + " entries");
    *out = a;
    return Status();
  };
  const gguf::Value *scores, *types;
  HEARTH_RETURN_IF_ERROR(check_array("tokenizer.ggml.scores", &scores));
  HEARTH_RETURN_IF_ERROR(check_array("tokenizer.ggml.token_type", &types));
  v.tokens.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = v.tokens[i];
    t.text = toks->arr->strings[i];
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    t.score = scores ? static_cast<float>(scores->arr->get_float(i)) : 0.0f;
    int64_t ty = types ? types->arr->get_int(i) : 1;
    t.type = (ty >= 0 && ty <= 6) ? static_cast<TokenType>(ty) : TokenType::kUndefined;
    v.text_to_id[t.text] = static_cast<TokenId>(i);
    v.max_token_len = std::max(v.max_token_len, t.text.size());
  }

  // Defaults per tokenizer family, then what the file says.
  if (v.model == "llama") {
    v.bos = 1; v.eos = 2; v.unk = 0;
    v.add_bos = true; v.add_space_prefix = true;
  } else if (v.model == "bert") {
    v.bos = 101; v.unk = 100; v.sep = 102; v.pad = 0; v.mask = 103;
    v.add_bos = true; v.add_sep = true;
  } else if (v.model == "gpt2") {
    v.bos = 11; v.eos = 11;
    const gguf::Value* merges = f.find("tokenizer.ggml.merges");
    if (!merges || merges->type != gguf::ValueType::kArray || merges->arr->elem_type != gguf::ValueType::kString)
      return invalid_argument(f.label() + ": a gpt2 tokenizer needs tokenizer.ggml.merges (an array of strings)");
    for (size_t i = 0; i < merges->arr->count; ++i) {
      const std::string& m = merges->arr->strings[i];
      size_t pos = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
      if (pos == std::string::npos) continue;  // malformed merge: ignored, as other engines do
      std::string left = m.substr(0, pos), right = m.substr(pos + 1);
      const TokenId l = v.find(left), r = v.find(right);
      // (emplace: the first of a repeated merge ranks)
      if (l != kNoToken && r != kNoToken)
        v.merge_by_id.emplace(merge_key(l, r), Merge{static_cast<int>(i), v.find(left + right)});
      else
        v.merge_rank.emplace(std::make_pair(std::move(left), std::move(right)), static_cast<int>(i));
    }
  } else {
    return unsupported(f.label() + ": tokenizer model '" + v.model + "' is not supported (llama, gpt2, bert are)");
  }
  for (TokenId* id : {&v.bos, &v.eos, &v.unk, &v.pad, &v.sep, &v.mask})
    if (*id >= v.n_tokens()) *id = kNoToken;
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.bos_token_id", v, &v.bos));
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.eos_token_id", v, &v.eos));
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.eot_token_id", v, &v.eot));
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.unknown_token_id", v, &v.unk));
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.seperator_token_id", v, &v.sep));
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.padding_token_id", v, &v.pad));
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.cls_token_id", v, &v.cls));
  HEARTH_RETURN_IF_ERROR(read_id(f, "tokenizer.ggml.mask_token_id", v, &v.mask));
  read_flag(f, "tokenizer.ggml.add_bos_token", &v.add_bos);
  read_flag(f, "tokenizer.ggml.add_eos_token", &v.add_eos);
  read_flag(f, "tokenizer.ggml.add_sep_token", &v.add_sep);
  read_flag(f, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix);
  if (v.model == "bert" && v.cls == kNoToken) v.cls = v.bos;

  // End-of-generation tokens: EOS/EOT plus the usual end-of-turn texts.
  static const char* kEogTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"};
  for (const char* t : kEogTexts) {
    TokenId id = v.find(t);
    if (id == kNoToken) continue;
    v.eog.insert(id);
    v.tokens[id].type = TokenType::kControl;
    if (v.eot == kNoToken && std::string(t) != "<|eom_id|>") v.eot = id;
  }
  if (v.eos != kNoToken) v.eog.insert(v.eos);
  if (v.eot != kNoToken) v.eog.insert(v.eot);

  // phi-3 files mark their special tokens as swallowing the whitespace after them.
  std::string name = f.get_string_or("general.name", "");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (TokenId id = 0; id < v.n_tokens(); ++id) {
    TokenType t = v.tokens[id].type;
    if (t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown)
      v.special_by_len.push_back(id);
  }
  std::stable_sort(v.special_by_len.begin(), v.special_by_len.end(),
                   [&](TokenId a, TokenId b) { return v.tokens[a].text.size() > v.tokens[b].text.size(); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (TokenId id : v.special_by_len) v.tokens[id].rstrip = true;
    for (const char* t : {"</s>"})
      if (TokenId id = v.find(t); id != kNoToken) v.tokens[id].rstrip = true;
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"})
      if (TokenId id = v.find(t); id != kNoToken) v.tokens[id].rstrip = false;
  }
  return v;
}

}  // namespace hearth::tokenizer
