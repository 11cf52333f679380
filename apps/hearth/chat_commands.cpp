#include "chat_commands.h"

#include <climits>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

#include "sampling/params.h"
#include "server/http_client.h"
#include "store/modelfile.h"
#include "store/store.h"

namespace hearth::app {

std::string read_chat_input(bool* eof) {
  std::string line;
  if (!std::getline(std::cin, line)) {
    *eof = true;
    return {};
  }
  if (line.rfind("\"\"\"", 0) != 0) return line;
  std::string text = line.substr(3), more;
  while (std::getline(std::cin, more)) {
    size_t end = more.find("\"\"\"");
    if (end != std::string::npos) {
      text += "\n" + more.substr(0, end);
      return text;
    }
    text += "\n" + more;
  }
  *eof = true;
  return text;
}

namespace {

const char kHelp[] =
    "Available Commands:\n"
    "  /set            Set session variables\n"
    "  /show           Show model information\n"
    "  /load <model>   Load a session or model\n"
    "  /save <model>   Save your current session\n"
    "  /clear          Clear session context\n"
    "  /bye            Exit\n"
    "  /?, /help       Help for a command\n"
    "\n"
    "Use \"\"\" to begin a multi-line message.\n\n";

const char kSetHelp[] =
    "Available Commands:\n"
    "  /set parameter ...     Set a parameter\n"
    "  /set system <string>   Set system message\n"
    "  /set format json       Enable JSON mode\n"
    "  /set noformat          Disable formatting\n"
    "  /set verbose           Show LLM stats\n"
    "  /set quiet             Disable LLM stats\n"
    "  /set think [level]     Enable thinking (level: low, medium, high)\n"
    "  /set nothink           Disable thinking\n\n";

const char kShowHelp[] =
    "Available Commands:\n"
    "  /show info         Show details for this model\n"
    "  /show license      Show model license\n"
    "  /show modelfile    Show Modelfile for this model\n"
    "  /show parameters   Show parameters for this model\n"
    "  /show system       Show system message\n"
    "  /show template     Show prompt template\n\n";

const char kParameterHelp[] =
    "Available Parameters:\n"
    "  /set parameter seed <int>             Random number seed\n"
    "  /set parameter num_predict <int>      Max number of tokens to predict\n"
    "  /set parameter top_k <int>            Pick from top k num of tokens\n"
    "  /set parameter top_p <float>          Pick token based on sum of probabilities\n"
    "  /set parameter min_p <float>          Pick token based on top token probability * min_p\n"
    "  /set parameter num_ctx <int>          Set the context size\n"
    "  /set parameter temperature <float>    Set creativity level\n"
    "  /set parameter repeat_penalty <float> How strongly to penalize repetitions\n"
    "  /set parameter repeat_last_n <int>    Set how far back to look for repetitions\n"
    "  /set parameter stop <string> <string> ...   Set the stop parameters\n\n";

void out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}
void note(const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); }

std::vector<std::string> words_of(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

std::string str_or_empty(const nlohmann::ordered_json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// /set parameter NAME VALUE...: checked as a request would check it.
void set_parameter(ChatSession& s, const std::string& name, const std::vector<std::string>& values) {
  RunOpts& o = s.o;
  const std::string value = values.empty() ? "" : values[0];
  Status st;
  if (name == "stop") {
    o.stops = values;
  } else if (name == "num_predict") {
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end || n < -2 || n > INT_MAX) st = invalid_argument("parameter num_predict: '" + value + "' is not an integer");
    else o.n_predict = static_cast<int>(n), o.n_predict_set = true;
  } else if (name == "num_ctx") {
    char* end = nullptr;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    if (s.local) st = invalid_argument("num_ctx is fixed once a local session has started; run it again with --ctx " + value);
    else if (value.empty() || *end || n <= 0) st = invalid_argument("parameter num_ctx: '" + value + "' is not a positive integer");
    else o.ctx = n;
  } else {
    sampling::SamplingParams p = o.sp;
    st = sampling::set_option(p, name, value);
    if (st.ok()) st = p.validate(s.n_vocab > 0 ? s.n_vocab : INT32_MAX);
    if (st.ok()) {
      o.sp = p;
      o.cli_set.insert(name);
    }
  }
  if (!st.ok()) return note("Couldn't set parameter: " + st.message());
  std::string shown;
  for (const auto& v : values) shown += (shown.empty() ? "" : ", ") + v;
  note("Set parameter '" + name + "' to '" + shown + "'");
}

void show(const ChatSession& s, const std::string& what) {
  const auto& j = s.show;
  if (what == "license") {
    const std::string l = str_or_empty(j, "license");
    return out(l.empty() ? "No license was specified for this model.\n" : l + "\n");
  }
  if (what == "modelfile") return out(str_or_empty(j, "modelfile") + "\n");
  if (what == "system") {
    const std::string sys = !s.o.system.empty() ? s.o.system : str_or_empty(j, "system");
    return out(sys.empty() ? "No system message was specified for this model.\n" : sys + "\n");
  }
  if (what == "template") {
    const std::string t = str_or_empty(j, "template");
    return out(t.empty() ? "No prompt template was specified for this model.\n" : t + "\n");
  }
  if (what == "parameters") {
    const std::string model_params = str_or_empty(j, "parameters");
    const nlohmann::json user = user_options(s.o);
    if (model_params.empty() && user.empty()) return out("No parameters were specified for this model.\n");
    std::string text;
    if (!model_params.empty()) text += "Model defined parameters:\n" + model_params;
    if (!user.empty()) {
      text += "User defined parameters:\n";
      for (const auto& [k, v] : user.items()) text += k + " " + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
    }
    return out(text);
  }
  if (what == "info") {
    const auto details = j.value("details", nlohmann::ordered_json::object());
    const auto mi = j.value("model_info", nlohmann::ordered_json::object());
    const std::string arch = str_or_empty(details, "family");
    char line[256];
    std::string text = "  Model\n";
    auto row = [&](const char* name, const std::string& value) {
      if (value.empty()) return;
      std::snprintf(line, sizeof line, "    %-20s%s\n", name, value.c_str());
      text += line;
    };
    auto meta = [&](const std::string& key) {
      return mi.contains(key) && mi[key].is_number() ? std::to_string(mi[key].get<int64_t>()) : std::string();
    };
    row("architecture", arch);
    row("parameters", str_or_empty(details, "parameter_size"));
    row("context length", meta(arch + ".context_length"));
    row("embedding length", meta(arch + ".embedding_length"));
    row("quantization", str_or_empty(details, "quantization_level"));
    if (j.contains("capabilities") && j["capabilities"].is_array() && !j["capabilities"].empty()) {
      text += "\n  Capabilities\n";
      for (const auto& c : j["capabilities"]) text += "    " + c.get<std::string>() + "\n";
    }
    const std::string params = str_or_empty(j, "parameters");
    if (!params.empty()) {
      text += "\n  Parameters\n";
      std::istringstream in(params);
      for (std::string l; std::getline(in, l);) text += "    " + l + "\n";
    }
    const std::string sys = str_or_empty(j, "system");
    if (!sys.empty()) text += "\n  System\n    " + sys + "\n";
    return out(text + "\n");
  }
  out(kShowHelp);
}

}  // namespace

ChatCommand chat_command(const std::string& input, ChatSession& s) {
  if (input.empty() || input[0] != '/') return ChatCommand::kMessage;
  RunOpts& o = s.o;
  const std::vector<std::string> w = words_of(input);
  const std::string cmd = w.empty() ? "/" : w[0];
  if (cmd == "/bye" || cmd == "/exit") return ChatCommand::kBye;
  if (cmd == "/clear") {
    note("Cleared session context");
    return ChatCommand::kClear;
  }
  if (cmd == "/?" || cmd == "/help") {
    if (w.size() > 1 && w[1] == "set") out(kSetHelp);
    else if (w.size() > 1 && w[1] == "show") out(kShowHelp);
    else out(kHelp);
    return ChatCommand::kHandled;
  }
  if (cmd == "/save" || cmd == "/load") {
    if (w.size() != 2) {
      note("Usage:\n  " + cmd + " <modelname>");
      return ChatCommand::kHandled;
    }
    s.arg = w[1];
    return cmd == "/save" ? ChatCommand::kSave : ChatCommand::kLoad;
  }
  if (cmd == "/show") {
    show(s, w.size() > 1 ? w[1] : "");
    return ChatCommand::kHandled;
  }
  if (cmd == "/set") {
    const std::string what = w.size() > 1 ? w[1] : "";
    if (what == "parameter") {
      if (w.size() < 4) {
        out(kParameterHelp);
      } else {
        set_parameter(s, w[2], std::vector<std::string>(w.begin() + 3, w.end()));
      }
    } else if (what == "system") {
      // The rest of the line as typed (or the lines between """).
      const size_t at = input.find("system") + 6;
      std::string text = input.substr(at);
      text.erase(0, text.find_first_not_of(" \t"));
      if (text.size() >= 6 && text.rfind("\"\"\"", 0) == 0 && text.compare(text.size() - 3, 3, "\"\"\"") == 0)
        text = text.substr(3, text.size() - 6);
      o.system = text;
      note("Set system message.");
      return ChatCommand::kSystem;
    } else if (what == "format" && w.size() > 2) {
      if (w[2] != "json") {
        note("Invalid or missing format. For 'json' mode use '/set format json'");
      } else {
        o.format = "json";
        (void)parse_format(o);  // ("json" always parses)
        note("Set format to 'json' mode.");
      }
    } else if (what == "noformat") {
      o.format.clear();
      (void)parse_format(o);
      note("Disabled format.");
    } else if (what == "verbose" || what == "quiet") {
      o.verbose = what == "verbose";
      note("Set '" + what + "' mode.");
    } else if (what == "think" || what == "nothink") {
      std::string value = what == "nothink" ? "false" : w.size() > 2 ? w[2] : "true";
      if (value != "true" && value != "false" && value != "low" && value != "medium" && value != "high") {
        note("Invalid think level '" + value + "' (low, medium or high)");
      } else if (value != "false" && !s.can_think) {
        note("this model does not support thinking");
      } else {
        o.think = value;
        note("Set '" + std::string(value == "false" ? "nothink" : "think") + "' mode.");
      }
    } else {
      out(kSetHelp);
    }
    return ChatCommand::kHandled;
  }
  note("Unknown command '" + cmd + "'. Type /? for help");
  return ChatCommand::kHandled;
}

Status save_session(const ChatSession& s, const nlohmann::ordered_json& messages, const std::string& name, bool server) {
  const RunOpts& o = s.o;
  store::Modelfile mf;
  mf.from = o.model;
  if (!o.system.empty()) mf.system = o.system, mf.has_system = true;
  const nlohmann::json set = user_options(o);
  for (const auto& [k, v] : set.items()) mf.parameters[k] = v;
  // Via a server, the model's own MESSAGEs are not in `messages` (the server puts them in).
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  if (server && s.show.contains("messages") && s.show["messages"].is_array()) all = s.show["messages"];
  for (const auto& m : messages) all.push_back(m);
  for (const auto& m : all) {
    const std::string role = m.value("role", "");
    if (role == "system" || role.empty()) continue;
    mf.messages.emplace_back(role, m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "");
  }
  if (server) {
    nlohmann::ordered_json body = {{"model", name}, {"from", o.model}, {"stream", false}};
    if (mf.has_system) body["system"] = mf.system;
    if (!mf.parameters.empty()) body["parameters"] = mf.parameters;
    nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
    for (const auto& [r, c] : mf.messages) msgs.push_back({{"role", r}, {"content", c}});
    if (!msgs.empty()) body["messages"] = msgs;
    const server::Url url = server::local_server();
    HEARTH_ASSIGN_OR_RETURN(server::HttpResponse r, server::http_request(url, "POST", "/api/create", body.dump()));
    return r.status == 200 ? Status() : server::answer_error(url, r);
  }
  if (std::filesystem::is_regular_file(o.model)) mf.from = std::filesystem::absolute(o.model).string();
  store::Store st(store::Store::default_home());
  return st.create(name, mf.to_text(), std::filesystem::current_path().string()).status();
}

namespace {
std::string duration_text(double s) {
  char buf[32];
  if (s >= 1) std::snprintf(buf, sizeof buf, "%.6gs", s);
  else if (s >= 1e-3) std::snprintf(buf, sizeof buf, "%.6gms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.6gµs", s * 1e6);
  return buf;
}
}  // namespace

void print_stats(const ReplyStats& st) {
  std::fflush(stdout);  // (the reply first)
  auto rate = [](int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
  std::fprintf(stderr, "total duration:       %s\n", duration_text(st.total_s).c_str());
  std::fprintf(stderr, "load duration:        %s\n", duration_text(st.load_s).c_str());
  std::fprintf(stderr, "prompt eval count:    %lld token(s)\n", static_cast<long long>(st.prompt_eval_count));
  std::fprintf(stderr, "prompt eval duration: %s\n", duration_text(st.prompt_eval_s).c_str());
  std::fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n", rate(st.prompt_eval_count, st.prompt_eval_s));
  std::fprintf(stderr, "eval count:           %lld token(s)\n", static_cast<long long>(st.eval_count));
  std::fprintf(stderr, "eval duration:        %s\n", duration_text(st.eval_s).c_str());
  std::fprintf(stderr, "eval rate:            %.2f tokens/s\n", rate(st.eval_count, st.eval_s));
}

ReplyStats stats_from_response(const nlohmann::json& done) {
  auto ns = [&](const char* k) { return done.contains(k) && done[k].is_number() ? done[k].get<double>() / 1e9 : 0.0; };
  auto n = [&](const char* k) { return done.contains(k) && done[k].is_number() ? done[k].get<int64_t>() : int64_t{0}; };
  ReplyStats st;
  st.total_s = ns("total_duration");
  st.load_s = ns("load_duration");
  st.prompt_eval_s = ns("prompt_eval_duration");
  st.eval_s = ns("eval_duration");
  st.prompt_eval_count = n("prompt_eval_count");
  st.eval_count = n("eval_count");
  return st;
}

}  // namespace hearth::app
