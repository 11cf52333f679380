// Verbs that talk to a running server (HEARTH_HOST, default 127.0.0.1:11434):
//   hearth ps | hearth stop NAME
// and hearth pull SOURCE (a GGUF path or http://host:port/name) and hearth
// push http://host:port/name, which work on the local store directly.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/json_depth.h"
#include "human_time.h"
#include "server/http_client.h"
#include "server/pull.h"
#include "store/store.h"

namespace hearth::app {

void add_remote_verbs(CLI::App& app) {
  {
    auto* cmd = app.add_subcommand("ps", "List the models a running server has loaded");
    cmd->callback([] {
      auto url = server::local_server();
      auto r = server::http_request(url, "GET", "/api/ps");
      if (!r.ok()) throw CLI::RuntimeError(fail(unavailable("no hearth server at " + url.host + ":" + url.port + " (" + r.status().message() + ")")));
      if (r->status != 200) throw CLI::RuntimeError(fail(server::answer_error(url, r.value())));
      auto j = core::parse_json_bounded<nlohmann::json>(r->body);
      if (j.is_discarded() || !j.contains("models")) throw CLI::RuntimeError(fail(corrupt("unexpected answer from the server")));
      std::printf("%-32s %10s  %-10s %s\n", "NAME", "SIZE", "ACTIVE", "UNTIL");
      const std::time_t now = std::time(nullptr);
      for (const auto& m : j["models"])
        std::printf("%-32s %8.1f MB  %-10d %s\n", m.value("name", "").c_str(), m.value("size", 0.0) / 1e6,
                    m.value("active_requests", 0), human_time(m.value("expires_at", ""), now).c_str());
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("stop", "Unload a model from a running server");
    cmd->add_option("name", *name)->required();
    cmd->callback([name] {
      auto url = server::local_server();
      auto r = server::http_request(url, "POST", "/api/generate", nlohmann::json{{"model", *name}, {"keep_alive", 0}}.dump());
      if (!r.ok()) throw CLI::RuntimeError(fail(unavailable("no hearth server at " + url.host + ":" + url.port)));
      if (r->status != 200) throw CLI::RuntimeError(fail(server::answer_error(url, r.value())));
    });
  }
  {
    auto source = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("pull", "Add a model to the store from a GGUF path or another hearth server's URL");
    cmd->add_option("source", *source, "path.gguf or http://host:port/[namespace/]name[:tag]")->required();
    cmd->callback([source] {
      store::Store st(store::Store::default_home());
      Status s = server::pull_model(st, *source, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
      if (!s.ok()) throw CLI::RuntimeError(fail(s));
    });
  }
  {
    auto dest = std::make_shared<std::string>();
    auto from = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("push", "Send a model of the store (or a GGUF file) to another hearth or Ollama server");
    cmd->add_option("destination", *dest, "http://host:port/[namespace/]name[:tag]")->required();
    cmd->add_option("--from", *from, "the local model or GGUF file to send (default: the destination's name)");
    cmd->callback([dest, from] {
      store::Store st(store::Store::default_home());
      std::string local = *from;
      if (local.empty()) {
        auto url = server::parse_url(*dest);
        if (!url.ok()) throw CLI::RuntimeError(fail(url.status()));
        local = url->path.size() > 1 ? url->path.substr(1) : "";
      }
      auto src = server::push_source(&st, local);
      if (!src.ok()) throw CLI::RuntimeError(fail(src.status()));
      Status s = server::push_model(src.value(), *dest, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
      if (!s.ok()) throw CLI::RuntimeError(fail(s));
    });
  }
}

}  // namespace hearth::app
