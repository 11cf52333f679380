// A compiled Jinja template and its sandboxed renderer.
//
// Templates come from model files, so they are untrusted code: rendering has
// no access to files, the environment or host objects, and runs under a
// budget (evaluation steps, output bytes, call depth, wall time) so a hostile
// template ends with an error instead of hanging or exhausting memory.
// A Template is immutable after parsing and may be rendered concurrently.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <string>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"
#include "hearth/status.h"

namespace hearth::chat::jinja {

struct Budget {
  uint64_t max_steps = 5'000'000;
  size_t max_output_bytes = 8u << 20;
  int max_depth = 64;
  std::chrono::milliseconds max_time{2000};
};

struct RenderOptions {
  Budget budget;
  std::time_t now = 0;  // what strftime_now() formats (UTC); 0 = the real clock
};

class Template {
 public:
  // trim_blocks and lstrip_blocks on, as model runtimes set them.
  static Result<std::shared_ptr<const Template>> parse(const std::string& source);

  // Renders with the given global variables; a template error (including
  // raise_exception) becomes a kInvalidArgument Status carrying its message.
  Result<std::string> render(const std::map<std::string, Value>& globals, const RenderOptions& opts = {}) const;

 private:
  Body body_;
};

}  // namespace hearth::chat::jinja
