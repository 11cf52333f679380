// The one internal request type every protocol adapter translates to, and the
// events a request streams back.
#pragma once

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/tool_calls.h"
#include "hearth/status.h"
#include "sampling/params.h"
#include "sampling/stop.h"
#include "store/go_template.h"

namespace hearth::runtime {

// Embedding inputs: one vector per input, pooled from the model's last
// hidden states (BERT: its pooling; decoders: the mean over tokens).
struct EmbedRequest {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> token_inputs;  // alternatively, token ids
  bool normalize = true;   // L2-normalize each vector
  bool truncate = true;    // cut inputs longer than the context (else an error)
  int64_t dimensions = 0;  // keep the first n dimensions (then normalize), 0 = all
  std::optional<double> keep_alive_s;
};

struct GenerateRequest {
  std::string model;
  // Input: `messages` (chat, rendered with the model's template) or `prompt`.
  std::optional<nlohmann::ordered_json> messages;
  std::optional<nlohmann::ordered_json> tools;
  std::string prompt;
  std::string system;   // Ollama generate: system prompt for the template
  bool raw = false;     // prompt used as is (no template)
  // Ollama /api/generate: when the model has its own chat template, the prompt
  // (and system) are rendered as one user turn; otherwise used as is.
  bool template_prompt = false;
  // Ollama /api/generate `template`: used instead of the model's (Go
  // template syntax, as a Modelfile TEMPLATE).
  std::shared_ptr<const store::GoTemplate> go_template;
  // Fill-in-the-middle (Ollama generate / OpenAI completions `suffix`): the
  // text after the insertion point, passed to the template as .Suffix; only
  // templates that use .Suffix support it (as in Ollama).
  std::string suffix;
  sampling::SamplingParams sampling;
  int num_predict = -1;  // -1: until a stop condition or the context is full
  std::vector<std::string> stop;
  int64_t num_ctx = 0;   // 0: the model's default
  int top_logprobs = -1; // -1: no logprobs; >= 0: the chosen token's + this many alternatives
  // JSON mode (Ollama format "json" or a schema, OpenAI response_format
  // json_object / json_schema): the output is constrained to one JSON value
  // matching this schema (sampling/json_grammar.h); null: free text.
  std::shared_ptr<const sampling::JsonSchema> json_schema;
  // Thinking (Ollama `think`, OpenAI `reasoning_effort`; chat/thinking.h):
  // unset = on for a templated prompt when the model's template thinks, as
  // in Ollama; true for a model that does not think is an error. The
  // template sees it (Jinja `enable_thinking`, Go `.Think`), and when on the
  // reply's reasoning comes back apart (Event::thinking). A level ("low",
  // "medium", "high": Jinja `reasoning_effort`, Go `.ThinkLevel`) implies on.
  std::optional<bool> think;
  std::string think_level;
  // OpenAI-compatible `chat_template_kwargs`: more variables for the Jinja
  // template (an object; null: none).
  nlohmann::ordered_json template_kwargs;
  std::optional<double> keep_alive_s;  // seconds; < 0 forever
  std::optional<EmbedRequest> embed;   // set: this is an embedding request
  // Ollama /api/generate `context` (deprecated there, still sent by older
  // clients): the token ids a previous response returned, put before this
  // prompt (which then gets no BOS of its own); `return_context`: the done
  // event carries the prompt's and the reply's tokens to send back.
  std::vector<int32_t> context;
  bool return_context = false;
  // Ollama's empty prompt: load the model (waiting for the load) and set its
  // keep_alive; nothing is generated, the stream ends with a kDone event.
  bool load_only = false;
  // Count the prompt's tokens (rendered as for generation) and end: the done
  // event's usage.prompt_tokens; nothing is evaluated (Anthropic's
  // count_tokens, OpenAI's input_tokens).
  bool count_only = false;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // of prompt_tokens, taken from the prompt cache (not evaluated)
};

struct Timings {  // nanoseconds, as Ollama reports them
  int64_t total = 0, load = 0, prompt_eval = 0, eval = 0, queue = 0;
};

struct TokenLogprob {
  std::string text;
  float logprob;
  std::vector<std::pair<std::string, float>> top;
};

struct Event {
  enum class Kind { kToken, kDone, kError } kind;
  std::string text;                      // kToken: the bytes newly available (the answer, when thinking)
  std::string thinking;                  // kToken: reasoning newly available (GenerateRequest::think)
  std::optional<TokenLogprob> logprob;   // kToken when requested
  sampling::FinishReason finish = sampling::FinishReason::kNone;  // kDone
  Usage usage;                           // kDone
  Timings timings;                       // kDone
  Status error;                          // kError
  std::vector<std::vector<float>> embeddings;  // kDone of an embedding request
  // kDone of a chat that offered tools: the calls the reply made
  // (chat/tool_calls.h); the text events carried the rest of the reply.
  std::vector<chat::ToolCall> tool_calls;
  std::vector<int32_t> context;  // kDone, when GenerateRequest::return_context
  std::string stop_sequence;     // kDone: the stop string that ended it, if one did
};

// The channel between the scheduler and an HTTP thread. Thread-safe.
class RequestStream {
 public:
  void push(Event e);
  // Waits up to `timeout` for the next event; false on timeout.
  bool next(Event* e, std::chrono::milliseconds timeout);
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace hearth::runtime
