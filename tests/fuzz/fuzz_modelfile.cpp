// libFuzzer target: arbitrary bytes as a Modelfile must parse or fail with an
// error; what parses must survive the round trip through to_text() (what
// `hearth show --modelfile` prints) unchanged. The same bytes as a Go
// TEMPLATE must parse or fail, and rendering must end (bounded) without
// crashing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "store/go_template.h"
#include "store/modelfile.h"

namespace {

void check_round_trip(const hearth::store::Modelfile& a) {
  const std::string text = a.to_text();
  auto b = hearth::store::parse_modelfile(text);
  auto fail = [&](const char* what) {
    std::fprintf(stderr, "Modelfile round trip changed %s; to_text():\n%s\n", what, text.c_str());
    std::abort();
  };
  if (!b.ok()) fail(("its validity (" + b.status().to_string() + ")").c_str());
  if (b->from != a.from) fail("FROM");
  if (b->parameters != a.parameters) fail("PARAMETER");
  if (b->has_template != a.has_template || b->template_text != a.template_text) fail("TEMPLATE");
  if (b->has_system != a.has_system || b->system != a.system) fail("SYSTEM");
  if (b->messages != a.messages) fail("MESSAGE");
  if (b->licenses != a.licenses) fail("LICENSE");
  if (b->adapters != a.adapters) fail("ADAPTER");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto mf = hearth::store::parse_modelfile(text);
  if (mf.ok()) check_round_trip(mf.value());
  auto t = hearth::store::GoTemplate::parse(mf.ok() && mf->has_template ? mf->template_text : text);
  if (!t.ok()) return 0;
  static const nlohmann::ordered_json kData = nlohmann::ordered_json::parse(R"({
    "System": "S", "Prompt": "Hi", "Response": "",
    "Messages": [{"Role": "system", "Content": "S"}, {"Role": "user", "Content": "Hi"},
                 {"Role": "assistant", "Content": "Yo"}, {"Role": "user", "Content": "More"}],
    "Tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]})");
  (void)t.value()->render(kData);
  return 0;
}
