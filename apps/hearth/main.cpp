#include <cstdio>
#include <iostream>

#include "commands.h"
#include "core/cpu_features.h"

namespace hearth::app {

Result<std::vector<int32_t>> parse_token_list(const std::string& s) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ',' || s[i] == ' ' || s[i] == '\n' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] != ',' && s[j] != ' ' && s[j] != '\n' && s[j] != '\t') ++j;
    std::string item = s.substr(i, j - i);
    char* end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0 || v > INT32_MAX)
      return invalid_argument("token list: '" + item + "' is not a token id");
    out.push_back(static_cast<int32_t>(v));
    i = j;
  }
  if (out.empty()) return invalid_argument("token list is empty");
  return out;
}

int fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace hearth::app

int main(int argc, char** argv) {
  CLI::App app{"hearth: a private LLM stack (GGUF inference engine)"};
  app.set_version_flag("--version", std::string("hearth 0.1.0 (") + hearth::core::isa_name(hearth::core::best_isa()) + ")");
  app.require_subcommand(1);
  hearth::app::add_inspect(app);
  hearth::app::add_logits(app);
  hearth::app::add_run(app);
  hearth::app::add_quantize(app);
  hearth::app::add_synth(app);
  hearth::app::add_tokenize(app);
  hearth::app::add_detokenize(app);
  hearth::app::add_bench(app);
  hearth::app::add_template(app);
  hearth::app::add_serve(app);
  hearth::app::add_store_verbs(app);
  hearth::app::add_remote_verbs(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
