// Internal: a request being served by the scheduler, and a loaded model.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "chat/jinja/template.h"
#include "chat/thinking.h"
#include "chat/tool_calls.h"
#include <optional>

#include "model/bert.h"
#include "store/go_template.h"
#include "store/store.h"
#include "model/model.h"
#include "runtime/request.h"
#include "sampling/params.h"
#include "sampling/stop.h"
#include "tokenizer/tokenizer.h"

namespace hearth::runtime {

using Clock = std::chrono::steady_clock;

// Which file a model was loaded from, as it was then: a file changed since
// (rewritten, replaced, touched) is loaded again for the next request.
struct FileStamp {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

struct LoadedModel {
  std::string name, path;
  FileStamp stamp;
  std::shared_ptr<model::Model> model;        // decoders
  std::shared_ptr<model::BertModel> bert;     // encoders (embeddings only)
  std::shared_ptr<const tokenizer::Tokenizer> tok;
  std::shared_ptr<const chat::jinja::Template> tmpl;  // the file's, or chatml when it has none
  bool has_own_template = false;
  std::optional<chat::ThinkingTags> thinking_tags;      // of its own template (chat/thinking.h)
  std::optional<store::Manifest> manifest;              // models from the store
  std::shared_ptr<const store::GoTemplate> go_template; // its TEMPLATE, if any
  size_t bytes = 0;
  int active = 0;
  bool forever = false;
  Clock::time_point expires;
  Clock::time_point last_used;
  std::chrono::system_clock::time_point expires_wall;
  int64_t load_ns = 0;
  // Guarded by Engine::Impl::mu. Its file changed on disk: no new request
  // uses it; unloaded once idle.
  bool stale = false;
  // Its GGUF shrank under the mapping: weights read since are zeros.
  bool file_lost() const {
    return (model && model->file().contents_lost()) || (bert && bert->file().contents_lost());
  }
};

struct Sequence {
  GenerateRequest req;
  std::shared_ptr<RequestStream> stream;
  std::shared_ptr<LoadedModel> lm;
  std::string load_key;           // the model it waits for, while parked
  std::unique_ptr<model::KvCache> kv;
  std::vector<int32_t> prompt;
  // Rendered and tokenized off the scheduler thread (Engine::Impl::
  // prepare_loop): until then `prepared` is false; then `prompt_status` is
  // why the prompt could not be made, or `prompt` (embeddings:
  // `embed_inputs`) holds it.
  bool prepared = false;
  Status prompt_status;
  size_t n_prefilled = 0;
  size_t n_cached = 0;            // prompt tokens whose KV came from the prompt cache
  bool kv_valid = true;           // false after a failed forward pass: not for the prompt cache
  // Embedding requests: the inputs' tokens (checked at admission), the next
  // to embed (one per scheduler step, so that decoding goes on beside a long
  // batch), and the result so far.
  std::vector<std::vector<int32_t>> embed_inputs;
  size_t embed_next = 0;
  Event embed_done;
  std::vector<int32_t> history;  // prompt + generated: the penalty window
  int32_t pending = -1;          // sampled token still to be fed
  int n_generated = 0;
  std::unique_ptr<sampling::SamplerChain> chain;
  std::unique_ptr<tokenizer::IncrementalDetokenizer> detok;
  std::unique_ptr<sampling::StopMatcher> stop;
  // Set when the request offers tools: holds back text that may be a call.
  std::unique_ptr<chat::ToolCallFilter> tool_calls;
  // Set when thinking is on: splits the reasoning from the answer.
  std::unique_ptr<chat::ThinkingParser> thinking;
  Clock::time_point t_submit, t_admit, t_first, t_last;
  int64_t load_ns = 0;  // the load of its model it waited for (0: it was loaded already)
  bool done = false;
  bool counted = false;  // holds one of lm->active
};

}  // namespace hearth::runtime
