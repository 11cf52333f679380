// LoRA adapters: low-rank updates applied at load time as an extra path in
// each adapted matrix product (y = W x + (alpha / r) · B (A x)).
#include <map>

#include "model/model.h"

namespace hearth::model {

Status Model::apply_lora(std::shared_ptr<gguf::File> adapter) {
  const gguf::File& f = *adapter;
  if (f.find("adapter.type") && f.get_string_or("adapter.type", "") != "lora")
    return unsupported(f.label() + ": adapter.type is not 'lora'");
  HEARTH_ASSIGN_OR_RETURN(double alpha, f.get_float("adapter.lora.alpha"));
  std::map<std::string, Weight*> by_name;
  for (Weight* w : {&tok_embd, &output}) by_name[w->name] = w;
  for (auto& L : layers)
    for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) by_name[w->name] = w;
  int applied = 0;
  for (const auto& t : f.tensors()) {
    const std::string suffix = ".lora_a";
    if (t.name.size() <= suffix.size() || t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    std::string base = t.name.substr(0, t.name.size() - suffix.size());
    const gguf::TensorInfo* b = f.tensor(base + ".lora_b");
    if (!b) return corrupt(f.label() + ": '" + t.name + "' has no matching .lora_b");
    auto it = by_name.find(base);
    if (it == by_name.end()) return invalid_argument(f.label() + ": the model has no weight '" + base + "' to adapt");
    Weight& w = *it->second;
    const int64_t r = t.ne[1];
    if (t.n_dims != 2 || b->n_dims != 2 || t.ne[0] != w.n_in || b->ne[0] != r || b->ne[1] != w.n_out || r <= 0)
      return corrupt(f.label() + ": LoRA shapes for '" + base + "' (" + t.shape_string() + ", " + b->shape_string() +
                     ") do not fit the weight [" + std::to_string(w.n_in) + ", " + std::to_string(w.n_out) + "]");
    auto pair = std::make_shared<LoraPair>();
    pair->a = {.name = t.name, .type = t.type, .n_in = t.ne[0], .n_out = r, .data = t.data, .row_bytes = row_bytes(t.type, t.ne[0])};
    pair->b = {.name = b->name, .type = b->type, .n_in = r, .n_out = b->ne[1], .data = b->data, .row_bytes = row_bytes(b->type, r)};
    pair->scale = static_cast<float>(alpha / static_cast<double>(r));
    w.lora = pair;
    ++applied;
  }
  if (applied == 0) return invalid_argument(f.label() + ": no LoRA tensors (*.lora_a / *.lora_b) found");
  if (output.name == tok_embd.name && tok_embd.lora) output.lora = tok_embd.lora;
  adapters_.push_back(std::move(adapter));
  return Status();
}

}  // namespace hearth::model
