#include "runtime/model_show.h"

#include <cstdio>
#include <map>

#include "runtime/capabilities.h"
#include "core/dtype.h"

namespace hearth::runtime {

ModelFacts model_facts(const gguf::File& f) {
  ModelFacts out;
  out.architecture = f.get_string_or("general.architecture", "");
  int64_t params = 0;
  std::map<std::string, size_t> bytes;
  for (const auto& t : f.tensors()) {
    params += t.n_elements();
    if (t.n_dims >= 2) bytes[dtype_name(t.type)] += t.n_bytes;
  }
  size_t best = 0;
  for (const auto& [n, b] : bytes)
    if (b > best) {
      best = b;
      out.quantization = n;
    }
  char p[32];
  if (params >= 1000000000) std::snprintf(p, sizeof p, "%.1fB", static_cast<double>(params) / 1e9);
  else if (params >= 1000000) std::snprintf(p, sizeof p, "%.1fM", static_cast<double>(params) / 1e6);
  else std::snprintf(p, sizeof p, "%.0fK", static_cast<double>(params) / 1e3);
  out.parameter_size = p;
  return out;
}

nlohmann::ordered_json show_model(const gguf::File& f, const std::string& path, const store::Manifest* manifest,
                                  const std::string& modified_at) {
  nlohmann::ordered_json mi = nlohmann::ordered_json::object();
  for (const auto& [k, v] : f.metadata()) {
    if (k.rfind("tokenizer.ggml.", 0) == 0 && v.type == gguf::ValueType::kArray) continue;  // huge arrays
    switch (v.type) {
      case gguf::ValueType::kString: mi[k] = v.s; break;
      case gguf::ValueType::kBool: mi[k] = v.u != 0; break;
      case gguf::ValueType::kFloat32: case gguf::ValueType::kFloat64: mi[k] = v.f; break;
      case gguf::ValueType::kArray: break;
      default:
        if (auto i = v.as_int()) mi[k] = *i;
    }
  }
  nlohmann::ordered_json out;
  if (manifest) {
    const store::Modelfile& mf = manifest->modelfile;
    out["modelfile"] = mf.to_text();
    std::string params;
    for (const auto& [k, v] : mf.parameters.items()) {
      if (v.is_array())
        for (const auto& x : v) params += k + " " + x.dump() + "\n";
      else
        params += k + " " + v.dump() + "\n";
    }
    out["parameters"] = params;
    out["template"] = mf.has_template ? mf.template_text : f.get_string_or("tokenizer.chat_template", "");
    out["system"] = mf.system;
    out["license"] = mf.licenses.empty() ? "" : mf.licenses[0];
    nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
    for (const auto& [r, c] : mf.messages) msgs.push_back({{"role", r}, {"content", c}});
    out["messages"] = msgs;
  } else {
    out["modelfile"] = "FROM " + path + "\n";
    out["parameters"] = "";
    out["template"] = f.get_string_or("tokenizer.chat_template", "");
  }
  const ModelFacts facts = model_facts(f);
  out["details"] = {{"parent_model", ""}, {"format", "gguf"}, {"family", facts.architecture},
                    {"families", {facts.architecture}}, {"parameter_size", facts.parameter_size},
                    {"quantization_level", facts.quantization}};
  out["model_info"] = mi;
  out["capabilities"] = model_capabilities(facts.architecture, f.get_string_or("tokenizer.chat_template", ""),
                                           manifest ? &manifest->modelfile : nullptr);
  out["modified_at"] = modified_at;
  return out;
}

}  // namespace hearth::runtime
