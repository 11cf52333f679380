// Subcommands of the `hearth` binary; each file registers one verb.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "hearth/status.h"

namespace hearth::app {

void add_inspect(CLI::App& app);
void add_logits(CLI::App& app);
void add_run(CLI::App& app);
void add_quantize(CLI::App& app);
void add_synth(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_detokenize(CLI::App& app);
void add_bench(CLI::App& app);
void add_template(CLI::App& app);
void add_serve(CLI::App& app);
void add_store_verbs(CLI::App& app);
void add_remote_verbs(CLI::App& app);

// "1,2,3" or "1 2 3" -> ids; error names the bad item.
Result<std::vector<int32_t>> parse_token_list(const std::string& s);
// Prints "error: ..." to stderr and returns the process exit code 1.
int fail(const Status& s);

}  // namespace hearth::app
