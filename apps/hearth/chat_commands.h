// An interactive `hearth run` session's input, as `ollama run` reads it:
// messages (several lines between """), and the slash commands /set, /show,
// /clear, /bye and /? (help); anything else starting with / is an unknown
// command, not a message. One handler serves the local session and the one
// through a server.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "run_options.h"

namespace hearth::app {

// One message (a line, or the lines between """ and """); *eof at the end of input.
std::string read_chat_input(bool* eof);

struct ChatSession {
  RunOpts& o;
  nlohmann::ordered_json show;  // the model's /api/show object (/show answers from it)
  bool can_think = true;        // false: /set think is refused (the template has no thinking tags)
  int32_t n_vocab = 0;          // > 0 (a local model): /set parameter checks values against it
  bool local = false;           // the model runs in this process (num_ctx is fixed for the session)
};

enum class ChatCommand {
  kMessage,  // not a command: send it
  kHandled,  // done (a setting changed, or something was shown)
  kSystem,   // /set system: the system message changed (add it to the conversation)
  kClear,    // /clear: forget the conversation
  kBye,      // /bye: end the session
};
ChatCommand chat_command(const std::string& input, ChatSession& s);

// What --verbose / /set verbose prints after each reply, as `ollama run
// --verbose` does (durations in seconds).
struct ReplyStats {
  double total_s = 0, load_s = 0, prompt_eval_s = 0, eval_s = 0;
  int64_t prompt_eval_count = 0, eval_count = 0;
};
void print_stats(const ReplyStats& st);
// From an Ollama final response (nanosecond durations).
ReplyStats stats_from_response(const nlohmann::json& done);

}  // namespace hearth::app
