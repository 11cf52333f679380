#include "runtime/capabilities.h"

#include <memory>

#include "chat/thinking.h"
#include "store/go_template.h"

namespace hearth::runtime {

std::vector<std::string> model_capabilities(const std::string& architecture, const std::string& gguf_template,
                                            const store::Modelfile* modelfile) {
  if (architecture == "bert") return {"embedding"};
  std::vector<std::string> caps = {"completion"};
  const bool go_text = modelfile && modelfile->has_template;
  const std::string& tmpl = go_text ? modelfile->template_text : gguf_template;
  std::shared_ptr<const store::GoTemplate> go;
  if (go_text)
    if (auto g = store::GoTemplate::parse(tmpl); g.ok()) go = g.value();
  if (go ? go->uses_field("Tools") : !go_text && tmpl.find("tools") != std::string::npos) caps.push_back("tools");
  if (go && go->uses_field("Suffix")) caps.push_back("insert");
  if (chat::infer_thinking_tags(tmpl)) caps.push_back("thinking");
  return caps;
}

}  // namespace hearth::runtime
