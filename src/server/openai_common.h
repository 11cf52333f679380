// Internal to the OpenAI adapters (openai.cpp: chat and text completions;
// openai_responses.cpp: the Responses API): what they share.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "runtime/request.h"
#include "server/api.h"

namespace hearth::server {

// An id such as "chatcmpl-…" (or "resp_…" with sep '_'), unique within the process.
std::string make_id(const char* prefix, char sep = '-');
int64_t unix_now();
// JSON text; invalid UTF-8 from a model becomes U+FFFD rather than an exception.
std::string dump(const Json& j);

// A message content's text: a string, null (""), or an array of text parts
// whose `type` is one of `types`, joined by `sep`; any other part answers 400
// naming its place and type. (Chat completions' parts, Responses' input and
// output parts, Anthropic's text blocks.)
std::string content_text(const Json& content, const std::string& path, std::initializer_list<const char*> types,
                         const char* sep = "");

struct ParsedChat {
  runtime::GenerateRequest req;
  std::vector<runtime::GenerateRequest> batch;  // completions: one request per prompt (empty: req alone)
  int n = 1;
  bool stream = false, include_usage = false, logprobs = false, echo = false;
};

// A /v1/chat/completions body, checked (HttpError naming the field) and
// translated: sampling fields, messages, tools, tool_choice, response_format,
// reasoning_effort, chat_template_kwargs.
ParsedChat parse_chat_request(Api& api, const Json& body);

// The prompt's tokens as the request would render them (loading the model
// if need be); nothing is generated.
Result<int64_t> count_prompt_tokens(Api& api, runtime::GenerateRequest r);

// POST /v1/responses (openai_responses.cpp).
void responses(Api& api, const HttpRequest& req, Responder& res);
// POST /v1/responses/input_tokens: {"object": "response.input_tokens", "input_tokens"}.
void responses_input_tokens(Api& api, const HttpRequest& req, Responder& res);

}  // namespace hearth::server
