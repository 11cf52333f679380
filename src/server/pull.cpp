#include "server/pull.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/json_depth.h"
#include "gguf/file.h"
#include "server/http_client.h"
#include "model/quantize.h"
#include "store/modelfile.h"

namespace hearth::server {

namespace fs = std::filesystem;

Status pull_model(store::Store& st, const std::string& source, const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  if (source.rfind("http://", 0) != 0 && source.rfind("https://", 0) != 0) {
    if (std::error_code ec; !fs::is_regular_file(source, ec)) return not_found(source + ": no such file (and not an http:// URL)");
    std::string name = fs::path(source).stem().string();
    auto m = st.create(name, "FROM " + fs::absolute(source).string() + "\n", "/", progress);
    return m.ok() ? Status() : m.status();
  }
  HEARTH_ASSIGN_OR_RETURN(Url url, parse_url(source));
  std::string name = url.path.substr(1);
  HEARTH_ASSIGN_OR_RETURN(store::ModelName mn, store::parse_model_name(name));
  say("pulling manifest");
  HEARTH_ASSIGN_OR_RETURN(HttpResponse r, http_request(url, "GET", "/api/manifests/" + mn.manifest_path()));
  if (r.status != 200) return not_found(source + ": the server answered " + std::to_string(r.status) + " for the manifest");
  auto j = core::parse_json_bounded<nlohmann::ordered_json>(r.body);
  if (j.is_discarded()) return corrupt(source + ": the manifest is not JSON");
  HEARTH_ASSIGN_OR_RETURN(store::Manifest m, store::Manifest::from_json(j));
  std::vector<std::string> digests = {m.model_digest};
  digests.insert(digests.end(), m.adapter_digests.begin(), m.adapter_digests.end());
  for (const auto& d : digests) {
    if (fs::exists(st.blob_path(d))) {
      say("using existing " + d);
      continue;
    }
    say("pulling " + d);
    // Streamed into the store, hashed on the way: kept only when its sha256 is d.
    HEARTH_ASSIGN_OR_RETURN(auto w, store::BlobWriter::open(st));
    Status wrote;
    auto dl = http_request(url, "GET", "/api/blobs/" + d, "", [&](const char* data, size_t n) {
      wrote = w->write(data, n);
      return wrote.ok();
    });
    if (!wrote.ok()) return wrote;
    if (!dl.ok() || dl->status != 200)
      return dl.ok() ? not_found(source + ": blob " + d + " answered " + std::to_string(dl->status)) : dl.status();
    say("verifying sha256 digest");
    auto got = w->commit(d);
    if (!got.ok())
      return got.status().code() == StatusCode::kInvalidArgument ? corrupt(source + ": blob " + got.status().message())
                                                                 : got.status();
  }
  say("writing manifest");
  // The same manifest, under the same name locally (its blobs are all present now).
  HEARTH_RETURN_IF_ERROR(st.put_manifest(name, m));
  say("success");
  return Status();
}

Result<PushSource> push_source(store::Store* st, const std::string& name_or_path) {
  PushSource src;
  if (st) {
    auto sm = st->get(name_or_path);
    if (sm.ok()) {
      src.model_digest = sm->manifest.model_digest;
      src.model_path = st->blob_path(src.model_digest);
      for (const auto& d : sm->manifest.adapter_digests) src.adapters.emplace_back(st->blob_path(d), d);
      src.modelfile = sm->manifest.modelfile;
      return src;
    }
    if (sm.status().code() != StatusCode::kNotFound && sm.status().code() != StatusCode::kInvalidArgument) return sm.status();
  }
  if (std::error_code ec; !fs::is_regular_file(name_or_path, ec)) return not_found(name_or_path + ": neither a model in the store nor a GGUF file");
  HEARTH_ASSIGN_OR_RETURN(gguf::File check, gguf::File::open(name_or_path));
  (void)check;
  src.model_path = name_or_path;
  HEARTH_ASSIGN_OR_RETURN(src.model_digest, store::sha256_file(name_or_path));
  return src;
}

Status push_model(const PushSource& src, const std::string& destination,
                  const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  HEARTH_ASSIGN_OR_RETURN(Url url, parse_url(destination));
  const std::string name = url.path.size() > 1 ? url.path.substr(1) : "";
  HEARTH_ASSIGN_OR_RETURN(store::ModelName mn, store::parse_model_name(name));
  (void)mn;
  // Ollama's spelling of a digest in URLs and create requests.
  auto colon = [](const std::string& d) { return "sha256:" + d.substr(7); };
  std::vector<std::pair<std::string, std::string>> blobs = {{src.model_path, src.model_digest}};
  blobs.insert(blobs.end(), src.adapters.begin(), src.adapters.end());
  for (const auto& [path, digest] : blobs) {
    HEARTH_ASSIGN_OR_RETURN(HttpResponse head, http_request(url, "HEAD", "/api/blobs/" + colon(digest)));
    if (head.status == 200) {
      say("using existing " + digest);
      continue;
    }
    say("pushing " + digest);
    HEARTH_ASSIGN_OR_RETURN(HttpResponse up, http_upload_file(url, "/api/blobs/" + colon(digest), path));
    if (up.status != 200 && up.status != 201)
      return unavailable(destination + ": uploading " + digest + " answered " + std::to_string(up.status) + ": " + up.body.substr(0, 300));
  }
  const store::Modelfile& mf = src.modelfile;
  nlohmann::ordered_json req = {{"model", name}, {"files", {{"model.gguf", colon(src.model_digest)}}}, {"stream", false}};
  if (!src.adapters.empty()) {
    nlohmann::ordered_json a = nlohmann::ordered_json::object();
    for (size_t i = 0; i < src.adapters.size(); ++i) a["adapter-" + std::to_string(i) + ".gguf"] = colon(src.adapters[i].second);
    req["adapters"] = a;
  }
  if (mf.has_template) req["template"] = mf.template_text;
  if (mf.has_system) req["system"] = mf.system;
  if (!mf.parameters.empty()) req["parameters"] = mf.parameters;
  if (!mf.messages.empty()) {
    req["messages"] = nlohmann::ordered_json::array();
    for (const auto& [r, c] : mf.messages) req["messages"].push_back({{"role", r}, {"content", c}});
  }
  if (!mf.licenses.empty()) req["license"] = mf.licenses;
  say("creating " + name);
  HEARTH_ASSIGN_OR_RETURN(HttpResponse made, http_request(url, "POST", "/api/create", req.dump()));
  if (made.status != 200) {
    auto j = core::parse_json_bounded<nlohmann::ordered_json>(made.body);
    const std::string why = !j.is_discarded() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : made.body.substr(0, 300);
    return unavailable(destination + ": creating the model answered " + std::to_string(made.status) + ": " + why);
  }
  say("success");
  return Status();
}

}  // namespace hearth::server

namespace hearth::server {

Result<store::Manifest> create_model(store::Store& st, const std::string& name, const std::string& modelfile_text,
                                     const std::string& base_dir, const std::string& quantize,
                                     const std::function<void(const std::string&)>& progress) {
  if (quantize.empty()) return st.create(name, modelfile_text, base_dir, progress);
  HEARTH_ASSIGN_OR_RETURN(store::Modelfile mf, store::parse_modelfile(modelfile_text));
  HEARTH_RETURN_IF_ERROR(model::parse_quant_type(quantize).status());
  std::string from = mf.from;
  if (auto existing = st.get(from); existing.ok()) {
    from = st.blob_path(existing->manifest.model_digest);
  } else if (fs::path(from).is_relative()) {
    from = (fs::path(base_dir) / from).string();
  }
  if (std::error_code ec; !fs::is_regular_file(from, ec)) return not_found("FROM " + mf.from + ": neither a model in the store nor a GGUF file");
  HEARTH_RETURN_IF_ERROR(st.check_space(0));  // (the quantizer's own writes report a full disk too)
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      st.home() + "/blobs/.tmp-quantize-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".gguf";
  if (progress) progress("quantizing to " + quantize);
  model::QuantizeOptions qo;
  qo.type = quantize;
  Status s = model::quantize_file(from, tmp, qo);
  if (!s.ok()) {
    fs::remove(tmp);
    return s;
  }
  // The quantized file becomes a blob where it is (no copy); the same
  // Modelfile, FROM that blob.
  auto digest = st.adopt_blob(tmp);
  if (!digest.ok()) {
    fs::remove(tmp);
    return digest.status();
  }
  std::string rest = mf.to_text();
  rest = rest.substr(rest.find('\n') + 1);
  return st.create(name, "FROM " + st.blob_path(digest.value()) + "\n" + rest, base_dir, progress);
}

}  // namespace hearth::server
