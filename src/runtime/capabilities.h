// What a model can do, as Ollama derives it for /api/show and `ollama show`:
// "embedding" for encoders; otherwise "completion", and from the template
// in use (a Modelfile TEMPLATE, else the GGUF's chat template) "tools" (it
// renders tools), "insert" (a Go template that uses .Suffix) and "thinking"
// (a pair of thinking tags, chat/thinking.h).
#pragma once

#include <string>
#include <vector>

#include "store/modelfile.h"

namespace hearth::runtime {

std::vector<std::string> model_capabilities(const std::string& architecture, const std::string& gguf_template,
                                            const store::Modelfile* modelfile);

}  // namespace hearth::runtime
