// Model store verbs (standalone, on $HEARTH_HOME):
//   hearth create NAME -f Modelfile | hearth list | hearth show NAME [--modelfile|--parameters|--template|--system|--license]
//   hearth cp SRC DST | hearth rm NAME...
// `show` also describes a GGUF file, or a model of the running server (its
// models directory).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "commands.h"
#include "core/json_depth.h"
#include "human_time.h"
#include "gguf/file.h"
#include "runtime/capabilities.h"
#include "runtime/model_show.h"
#include "server/http_client.h"
#include "server/pull.h"
#include "store/store.h"

namespace hearth::app {

namespace {

// `hearth show` for a model outside the store, from its /api/show object.
void print_show(const nlohmann::ordered_json& j, const std::string& name, bool modelfile, bool parameters, bool tmpl,
                bool system, bool license) {
  auto text = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  if (modelfile) return (void)std::printf("%s", text("modelfile").c_str());
  if (parameters) return (void)std::printf("%s", text("parameters").c_str());
  if (tmpl) return (void)std::printf("%s\n", text("template").c_str());
  if (system) return (void)std::printf("%s\n", text("system").c_str());
  if (license) return (void)std::printf("%s\n", text("license").c_str());
  const auto d = j.value("details", nlohmann::ordered_json::object());
  std::string from = text("modelfile");
  from = from.rfind("FROM ", 0) == 0 ? from.substr(5, from.find('\n') - 5) : "";
  std::string caps;
  for (const auto& c : j.value("capabilities", nlohmann::ordered_json::array())) caps += (caps.empty() ? "" : ", ") + c.get<std::string>();
  std::printf("name: %s\nfrom: %s\narchitecture: %s\nparameters: %s\nquantization: %s\nsystem: %s\ntemplate: %s\n"
              "capabilities: %s\n",
              name.c_str(), from.c_str(), d.value("family", "").c_str(), d.value("parameter_size", "").c_str(),
              d.value("quantization_level", "").c_str(), text("system").empty() ? "no" : "yes",
              text("template").empty() ? "none" : "(the GGUF's)", caps.c_str());
}

}  // namespace

void add_store_verbs(CLI::App& app) {
  auto home = std::make_shared<std::string>();
  auto store = [home] { return store::Store(home->empty() ? store::Store::default_home() : *home); };

  {
    struct Opts {
      std::string name, file = "Modelfile", quantize;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("create", "Create a model from a Modelfile");
    cmd->add_option("name", o->name, "model name: [namespace/]name[:tag]")->required();
    cmd->add_option("-f,--file", o->file, "Modelfile (default ./Modelfile)");
    cmd->add_option("-q,--quantize", o->quantize, "quantize the FROM model on import (Q4_0, Q8_0, Q4_K_M, ...)");
    cmd->callback([o, store] {
      std::ifstream in(o->file, std::ios::binary);
      if (!in) throw CLI::RuntimeError(fail(not_found(o->file + ": cannot open")));
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string base = std::filesystem::absolute(o->file).parent_path().string();
      auto s = store();
      auto m = server::create_model(s, o->name, text, base, o->quantize,
                                    [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
      if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
    });
  }
  {
    auto* cmd = app.add_subcommand("list", "List the models in the store");
    cmd->alias("ls");
    cmd->callback([store] {
      std::printf("%-32s %-14s %10s  %s\n", "NAME", "ID", "SIZE", "MODIFIED");
      const std::time_t now = std::time(nullptr);
      for (const auto& m : store().list())
        std::printf("%-32s %-14s %8.1f MB  %s\n", m.name.display().c_str(), m.manifest.model_digest.substr(7, 12).c_str(),
                    m.manifest.model_size / 1e6, human_time(m.modified_at, now).c_str());
    });
  }
  {
    struct Opts {
      std::string name;
      bool modelfile = false, parameters = false, tmpl = false, system = false, license = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("show", "Show a model's Modelfile, parameters, template, system prompt or license");
    cmd->add_option("name", o->name)->required();
    cmd->add_flag("--modelfile", o->modelfile);
    cmd->add_flag("--parameters", o->parameters);
    cmd->add_flag("--template", o->tmpl);
    cmd->add_flag("--system", o->system);
    cmd->add_flag("--license", o->license);
    cmd->callback([o, store] {
      auto m = store().get(o->name);
      if (!m.ok()) {
        nlohmann::ordered_json j;
        if (std::filesystem::is_regular_file(o->name)) {  // a GGUF file
          auto f = gguf::File::open(o->name);
          if (!f.ok()) throw CLI::RuntimeError(fail(f.status()));
          j = runtime::show_model(f.value(), std::filesystem::absolute(o->name).string(), nullptr, "");
        } else {  // a model the running server has (its models directory)
          const server::Url url = server::local_server();
          auto r = server::http_request(url, "POST", "/api/show", nlohmann::json{{"model", o->name}}.dump());
          if (!r.ok()) throw CLI::RuntimeError(fail(m.status()));  // no server: the store's answer
          if (r->status != 200) throw CLI::RuntimeError(fail(server::answer_error(url, r.value())));
          j = core::parse_json_bounded<nlohmann::ordered_json>(r->body);
          if (j.is_discarded()) throw CLI::RuntimeError(fail(corrupt("the server's /api/show answer is not JSON")));
        }
        return print_show(j, o->name, o->modelfile, o->parameters, o->tmpl, o->system, o->license);
      }
      const store::Modelfile& mf = m->manifest.modelfile;
      if (o->modelfile) std::printf("%s", mf.to_text().c_str());
      else if (o->parameters)
        for (const auto& [k, v] : mf.parameters.items()) {
          if (v.is_array())
            for (const auto& x : v) std::printf("%-20s %s\n", k.c_str(), x.dump().c_str());
          else
            std::printf("%-20s %s\n", k.c_str(), v.dump().c_str());
        }
      else if (o->tmpl) std::printf("%s\n", mf.template_text.c_str());
      else if (o->system) std::printf("%s\n", mf.system.c_str());
      else if (o->license)
        for (const auto& l : mf.licenses) std::printf("%s\n", l.c_str());
      else {
        std::printf("name: %s\nfrom: %s\nblob: %s (%llu bytes)\nparameters: %s\nsystem: %s\ntemplate: %s\n",
                    m->name.display().c_str(), m->manifest.from.c_str(), m->manifest.model_digest.c_str(),
                    static_cast<unsigned long long>(m->manifest.model_size), mf.parameters.dump().c_str(),
                    mf.has_system ? "yes" : "no", mf.has_template ? "yes" : "(the GGUF's)");
        auto f = gguf::File::open(store().blob_path(m->manifest.model_digest));
        if (f.ok()) {
          std::string caps;
          for (const auto& c : runtime::model_capabilities(f->get_string_or("general.architecture", ""),
                                                           f->get_string_or("tokenizer.chat_template", ""), &mf))
            caps += (caps.empty() ? "" : ", ") + c;
          std::printf("capabilities: %s\n", caps.c_str());
        }
      }
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("cp", "Copy a model to a new name");
    cmd->add_option("names", *names, "SRC DST")->required()->expected(2);
    cmd->callback([names, store] {
      auto s = store();
      Status st = s.copy((*names)[0], (*names)[1]);
      if (!st.ok()) throw CLI::RuntimeError(fail(st));
      std::fprintf(stderr, "copied '%s' to '%s'\n", (*names)[0].c_str(), (*names)[1].c_str());
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("rm", "Remove models (their blobs go when no model uses them)");
    cmd->add_option("names", *names)->required();
    cmd->callback([names, store] {
      auto s = store();
      for (const auto& n : *names) {
        Status st = s.remove(n);
        if (!st.ok()) throw CLI::RuntimeError(fail(st));
        std::fprintf(stderr, "deleted '%s'\n", n.c_str());
      }
    });
  }
}

}  // namespace hearth::app
