#include "chat/jinja/template.h"

#include "chat/jinja/interpreter.h"

namespace hearth::chat::jinja {

Result<std::shared_ptr<const Template>> Template::parse(const std::string& source) {
  if (source.size() > (4u << 20)) return invalid_argument("chat template is larger than 4 MiB");
  auto t = std::shared_ptr<Template>(new Template());
  try {
    t->body_ = jinja::parse(source, true, true);
  } catch (const Error& e) {
    return invalid_argument(e.what());
  } catch (const std::exception& e) {
    return invalid_argument(std::string("template: ") + e.what());
  }
  return std::shared_ptr<const Template>(std::move(t));
}

Result<std::string> Template::render(const std::map<std::string, Value>& globals, const RenderOptions& opts) const {
  try {
    Interpreter in(globals, opts);
    std::string out;
    in.exec(body_, out);
    return out;
  } catch (const Error& e) {
    return invalid_argument(e.what());
  } catch (const std::exception& e) {
    return invalid_argument(std::string("template: ") + e.what());
  }
}

}  // namespace hearth::chat::jinja
