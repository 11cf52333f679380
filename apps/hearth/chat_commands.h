// An interactive `hearth run` session's input, as `ollama run` reads it:
// messages (several lines between """), and the slash commands /set, /show,
// /save, /load, /clear, /bye and /? (help); anything else starting with / is
// an unknown command, not a message. One handler serves the local session
// and the one through a server.
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
  std::string arg;              // /save's and /load's model name
};

enum class ChatCommand {
  kMessage,  // not a command: send it
  kHandled,  // done (a setting changed, or something was shown)
  kSystem,   // /set system: the system message changed (add it to the conversation)
  kClear,    // /clear: forget the conversation
  kSave,     // /save NAME (s.arg): save_session
  kLoad,     // /load NAME (s.arg): chat with another model from now on (a new conversation)
  kBye,      // /bye: end the session
};
ChatCommand chat_command(const std::string& input, ChatSession& s);

// /save NAME: a new model of the store (through the server when `server`,
// else the local store) made from the session's model with its system
// message, the parameters set and the conversation as MESSAGEs, as `ollama
// run`'s /save does. `messages`: the whole conversation, the model's own
// opening MESSAGEs first (a server's session gets them from s.show).
Status save_session(const ChatSession& s, const nlohmann::ordered_json& messages, const std::string& name, bool server);

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
