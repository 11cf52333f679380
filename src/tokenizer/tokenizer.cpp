#include "tokenizer/tokenizer.h"

#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

const std::vector<EncoderEntry>& encoders() {
  static const std::vector<EncoderEntry> kEncoders = {
      {"llama", make_spm},
      {"gpt2", make_bpe},
      {"bert", make_wordpiece},
  };
  return kEncoders;
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::load(const gguf::File& f) {
  auto t = std::shared_ptr<Tokenizer>(new Tokenizer());
  HEARTH_ASSIGN_OR_RETURN(t->vocab_, Vocab::load(f));
  t->specials_ = SpecialIndex(t->vocab_);
  for (const auto& e : encoders())
    if (t->vocab_.model == e.model) {
      auto enc = e.make(t->vocab_);
      if (!enc.ok()) return Status(enc.status().code(), f.label() + ": " + enc.status().message());
      t->encoder_ = std::move(enc).value();
      return std::shared_ptr<const Tokenizer>(std::move(t));
    }
  return unsupported(f.label() + ": tokenizer model '" + t->vocab_.model + "' is not supported");
}

void Tokenizer::partition(std::string_view text, bool parse_special,
                          std::vector<std::pair<std::string_view, TokenId>>* out) const {
  out->assign(1, {text, kNoToken});
  std::vector<char> present;
  if (!specials_.occurring(text, &present)) return;
  for (size_t k = 0; k < vocab_.special_by_len.size(); ++k) {
    if (!present[k]) continue;  // (not in the text, so in no run of it)
    const TokenId id = vocab_.special_by_len[k];
    const TokenData& td = vocab_.tokens[id];
    if (!parse_special && vocab_.is_control_or_unknown(id)) continue;
    const std::string& st = td.text;
    std::vector<std::pair<std::string_view, TokenId>> next;
    for (const auto& frag : *out) {
      if (frag.second != kNoToken) {
        next.push_back(frag);
        continue;
      }
      std::string_view rest = frag.first;
      for (;;) {
        size_t pos = rest.find(st);
        if (pos == std::string_view::npos) {
          if (!rest.empty()) next.push_back({rest, kNoToken});
          break;
        }
        if (pos > 0) next.push_back({rest.substr(0, pos), kNoToken});
        next.push_back({std::string_view(), id});
        rest = rest.substr(pos + st.size());
        if (td.rstrip)
          while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
      }
    }
    *out = std::move(next);
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  const bool bert = vocab_.model == "bert";
  TokenId first = bert ? (vocab_.cls != kNoToken ? vocab_.cls : vocab_.bos) : vocab_.bos;
  if (add_special && (vocab_.add_bos || bert) && first != kNoToken) out.push_back(first);
  std::vector<std::pair<std::string_view, TokenId>> frags;
  if (!text.empty()) partition(text, parse_special, &frags);
  bool at_start = true;
  for (const auto& [t, id] : frags) {
    if (id != kNoToken) {
      out.push_back(id);
      at_start = true;
    } else {
      encoder_->encode(t, at_start, &out);
      at_start = false;
    }
  }
  if (add_special) {
    if (bert && vocab_.add_sep && vocab_.sep != kNoToken) out.push_back(vocab_.sep);
    else if (!bert && vocab_.add_eos && vocab_.eos != kNoToken) out.push_back(vocab_.eos);
  }
  return out;
}

std::string Tokenizer::piece(TokenId id, bool special) const {
  if (!vocab_.valid(id)) return std::string();
  const TokenData& td = vocab_.tokens[id];
  switch (td.type) {
    case TokenType::kControl: case TokenType::kUnknown:
      return special ? td.text : std::string();
    case TokenType::kUserDefined:
      return td.text;
    default:
      return encoder_->piece(id);
  }
}

std::shared_ptr<const std::vector<std::string>> Tokenizer::pieces() const {
  std::call_once(*pieces_once_, [this] {
    auto all = std::make_shared<std::vector<std::string>>(vocab_.tokens.size());
    for (size_t i = 0; i < all->size(); ++i) (*all)[i] = piece(static_cast<TokenId>(i));
    pieces_ = std::move(all);
  });
  return pieces_;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool special) const {
  IncrementalDetokenizer d(*this, true, special);
  std::string out;
  for (TokenId id : ids) out += d.push(id);
  return out + d.flush();
}

std::string IncrementalDetokenizer::push(TokenId id) {
  std::string p = tok_.piece(id, special_);
  const Vocab& v = tok_.vocab();
  // Control tokens (BOS) do not end the start of the text.
  if (strip_space_ && !(v.valid(id) && v.is_control_or_unknown(id))) {
    if (!p.empty() && p[0] == ' ') p.erase(0, 1);
    strip_space_ = false;
  }
  pending_ += p;
  size_t keep = incomplete_utf8_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return ready;
}

std::string IncrementalDetokenizer::flush() {
  std::string s;
  s.swap(pending_);
  return s;
}

}  // namespace hearth::tokenizer
