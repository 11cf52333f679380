// What /api/show and `hearth show` tell of a model without loading it: the
// GGUF's architecture, size in parameters and main weight type, its metadata,
// and for a store model its Modelfile (parameters, template, system, license,
// messages). Engine::show answers the server's route with it; `hearth run`
// answers /show in an interactive session from it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "gguf/file.h"
#include "hearth/status.h"
#include "store/store.h"

namespace hearth::runtime {

// A model file's architecture, its weight type by bytes ("Q4_0") and its
// parameter count as Ollama writes it ("1.1B", "260.0K").
struct ModelFacts {
  std::string architecture, quantization, parameter_size;
};
ModelFacts model_facts(const gguf::File& f);

// The /api/show object for the GGUF `f` (modified_at as given), with the
// store's manifest when the model is one of the store's.
nlohmann::ordered_json show_model(const gguf::File& f, const std::string& path, const store::Manifest* manifest,
                                  const std::string& modified_at);

}  // namespace hearth::runtime
