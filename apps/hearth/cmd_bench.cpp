// hearth bench MODEL.gguf [-p 512] [-n 128] [-d 0] [-t THREADS] [-r REPS] [--bandwidth] [--profile] [--json]
// hearth bench --memory [-t THREADS]
// Prompt processing (one batch of p tokens) and generation (n tokens, one at a
// time) in tokens/s: median and spread over repetitions. With -d, each test
// starts with d tokens already in the cache (filled once, untimed; each test
// rolls the cache back to them), as llama-bench's -d: long-context speed. With --bandwidth, the
// memory read bandwidth is sampled in pauses of each generation run (every 16
// tokens, clock stopped, best of two passes over 256 MiB) and generation is
// reported as a fraction of the median sample (shared hosts' bandwidth drifts, so the two are compared side
// by side). With --profile, the prompt's and generation's time per token are split by phase of
// the forward pass (model::ForwardProfile), with each phase's multiply-add rate
// (prompt) or weight read rate (generation).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <map>
#include <memory>
#include <random>
#include <string_view>
#include <sys/resource.h>

#include <fstream>

#include "commands.h"
#include "core/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/memory_probe.h"
#include "kernels/prefetch.h"
#include "model/bert.h"
#include "model/model.h"

namespace hearth::app {

namespace {
// How the repacked weights got into huge pages (core::AnonMemory::Promotion).
const char* huge_way(core::AnonMemory::Promotion::Way w) {
  using Way = core::AnonMemory::Promotion::Way;
  switch (w) {
    case Way::kUpFront: return "up_front";
    case Way::kCollapsed: return "collapsed";
    case Way::kAdvised: return "advised";
    case Way::kNone: break;
  }
  return "none";
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  return s;
}

// One phase of a profile (generation's or the prompt's), per token.
struct ProfileRow {
  const char* name;
  double ms_per_token, share;
  double gb_per_s;    // weight bytes read; 0 for phases without weights
  double gmac_per_s;  // multiply-adds; 0 for row operations
};

std::vector<ProfileRow> profile_rows(const model::ForwardProfile& p) {
  double total = 0;
  for (double s : p.seconds) total += s;
  std::vector<ProfileRow> rows;
  for (int i = 0; i < model::ForwardProfile::kCount; ++i) {
    const double s = p.seconds[i];
    rows.push_back({model::ForwardProfile::kNames[i], 1e3 * s / static_cast<double>(std::max<int64_t>(1, p.tokens)),
                    total > 0 ? s / total : 0, s > 0 ? p.bytes[i] / s / 1e9 : 0, s > 0 ? p.macs[i] / s / 1e9 : 0});
  }
  return rows;
}

nlohmann::json profile_json(const model::ForwardProfile& p) {
  nlohmann::json phases = nlohmann::json::array();
  for (const ProfileRow& r : profile_rows(p))
    phases.push_back({{"phase", r.name}, {"ms_per_token", r.ms_per_token}, {"share", r.share}, {"gb_per_s", r.gb_per_s},
                      {"gmac_per_s", r.gmac_per_s}});
  return phases;
}

std::string model_type(const gguf::File& f) {
  // The most common weight type among 2-D tensors, by bytes.
  std::map<std::string, size_t> bytes;
  for (const auto& t : f.tensors())
    if (t.n_dims >= 2) bytes[dtype_name(t.type)] += t.n_bytes;
  std::string best;
  size_t most = 0;
  for (const auto& [n, b] : bytes)
    if (b > most) {
      most = b;
      best = n;
    }
  return best;
}

// Peak resident set so far, in KiB.
long peak_rss_kib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Resets the peak-RSS high-water mark to the current RSS (Linux clear_refs),
// so a freed probe buffer does not count as the model's memory.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

}  // namespace

// An encoder (BERT): embedding throughput, p tokens as one input per run
// (what ingesting documents costs); encoders generate nothing.
void bench_encoder(const std::string& path, int n_prompt, int threads, int reps, bool json) {
  using clock = std::chrono::steady_clock;
  auto t_load = clock::now();
  auto f = gguf::File::open(path);
  if (!f.ok()) throw CLI::RuntimeError(fail(f.status()));
  auto file = std::make_shared<gguf::File>(std::move(f.value()));
  auto m = model::BertModel::from_file(file);
  if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
  const double load_ms = std::chrono::duration<double, std::milli>(clock::now() - t_load).count();
  if (n_prompt <= 0) throw CLI::RuntimeError(fail(invalid_argument("bench: an encoder needs -p > 0 (tokens per input)")));
  if (n_prompt > m.value()->n_ctx())
    throw CLI::RuntimeError(fail(out_of_range("bench: p = " + std::to_string(n_prompt) + " exceeds the model's context (" +
                                              std::to_string(m.value()->n_ctx()) + ")")));
  model::Workspace ws(threads);
  std::mt19937 rng(1);
  std::vector<int32_t> tokens(static_cast<size_t>(n_prompt));
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(m.value()->n_vocab()));
  std::vector<double> rates;
  for (int r = 0; r <= reps; ++r) {  // the first run warms up
    auto t0 = clock::now();
    auto e = m.value()->embed(ws, tokens, m.value()->default_pooling());
    if (!e.ok()) throw CLI::RuntimeError(fail(e.status()));
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (r > 0) rates.push_back(n_prompt / s);
  }
  const Stats sp = stats(rates);
  const double size_mib = static_cast<double>(file->file_size()) / 1048576.0, rss_mib = peak_rss_kib() / 1024.0;
  const std::string type = model_type(*file);
  const char* isa = core::isa_name(kernels::active().isa);
  if (json) {
    nlohmann::json j = {{"model", path}, {"model_type", type}, {"architecture", "bert"}, {"model_size_mib", size_mib},
                        {"n_prompt", n_prompt}, {"n_gen", 0}, {"threads", threads}, {"reps", reps},
                        {"pp_tokens_per_s", sp.median}, {"pp_min", sp.min}, {"pp_max", sp.max}, {"tg_tokens_per_s", 0},
                        {"isa", isa}, {"cpu_features", core::cpu_feature_string()}, {"load_ms", load_ms},
                        {"peak_rss_mib", rss_mib}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  const std::string name = "embed" + std::to_string(n_prompt);
  std::printf("model: %s (%s, %.0f MiB, encoder: one input of p tokens per run)\nthreads: %d, kernels: %s, cpu: %s family 0x%x %s\n\n",
              path.c_str(), type.c_str(), size_mib, threads, isa, core::cpu_features().vendor.c_str(),
              core::cpu_features().family, core::cpu_feature_string().c_str());
  const int w = static_cast<int>(std::max<size_t>(6, name.size()));
  std::printf("| %-*s | tokens/s (median) | min     | max     |\n|%s|------------------:|--------:|--------:|\n", w, "test",
              std::string(static_cast<size_t>(w) + 2, '-').c_str());
  std::printf("| %-*s | %17.2f | %7.2f | %7.2f |\n", w, name.c_str(), sp.median, sp.min, sp.max);
  std::printf("\nload: %.0f ms; peak RSS %.0f MiB\n", load_ms, rss_mib);
}

void add_bench(CLI::App& app) {
  struct Opts {
    std::string model, kv_type = "f16";
    int n_prompt = 512, n_gen = 128, n_depth = 0, threads = 0, reps = 3;
    bool json = false, memory = false, bandwidth = false, profile = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "bench", "Measure prompt processing and generation speed (tokens/s); for an encoder (BERT), embedding speed");
  cmd->add_option("model", o->model, "GGUF file");
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (one batch); 0 skips")->check(CLI::Range(0, 1 << 16));
  cmd->add_option("-n,--n-gen", o->n_gen, "generated tokens; 0 skips")->check(CLI::Range(0, 1 << 16));
  cmd->add_option("-d,--n-depth", o->n_depth, "tokens already in the cache when each test starts")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
  cmd->add_option("--kv-cache-type", o->kv_type, "KV cache type: f16 or q8_0 (half the bytes per position)")
      ->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->add_option("-r,--reps", o->reps, "repetitions")->check(CLI::Range(1, 100));
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->add_flag("--memory", o->memory, "measure memory read bandwidth instead");
  cmd->add_flag("--profile", o->profile,
                "split the prompt's and generation's time per token by phase of the forward pass");
  cmd->add_flag("--bandwidth", o->bandwidth,
                "sample read bandwidth (256 MiB buffer) in pauses of each generation run and report generation as a fraction of it");
  cmd->callback([o] {
    int threads = o->threads > 0 ? o->threads : core::physical_cores();
    if (o->memory) {
      auto r = kernels::measure_read_bandwidth(size_t(1) << 30, threads, 5);
      if (o->json) {
        std::printf("%s\n", nlohmann::json{{"read_gb_per_s", r.gb_per_s}, {"threads", threads}, {"bytes", r.bytes}}.dump().c_str());
      } else {
        std::printf("memory read bandwidth: %.1f GB/s (%d threads, %zu MiB buffer, best of 5)\n", r.gb_per_s, threads, r.bytes >> 20);
      }
      return;
    }
    if (o->model.empty()) throw CLI::RuntimeError(fail(invalid_argument("bench: give a model (or --memory)")));
    if (auto f = gguf::File::open(o->model); f.ok() && f.value().get_string_or("general.architecture", "") == "bert")
      return bench_encoder(o->model, o->n_prompt, threads, o->reps, o->json);
    using clock = std::chrono::steady_clock;
    auto t_load = clock::now();
    auto m = model::Model::load(o->model);
    if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
    double load_ms = std::chrono::duration<double, std::milli>(clock::now() - t_load).count();
    const auto& hp = m.value()->hparams();
    int64_t n_ctx = std::max<int64_t>(int64_t{o->n_depth} + o->n_prompt + o->n_gen, 16);
    if (n_ctx > hp.n_ctx_train)
      throw CLI::RuntimeError(fail(out_of_range("bench: d + p + n = " + std::to_string(n_ctx) +
                                                " exceeds the model's context (" + std::to_string(hp.n_ctx_train) + ")")));
    const tensor::KvType kv_type = *tensor::parse_kv_type(o->kv_type);
    if (Status st = model::check_kv_type(hp, kv_type); !st.ok()) throw CLI::RuntimeError(fail(st));
    model::Context ctx(m.value(), n_ctx, threads, kv_type);
    std::mt19937 rng(1);
    std::vector<int32_t> prompt(static_cast<size_t>(o->n_prompt));
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % hp.n_vocab);
    std::vector<float> logits;
    std::vector<double> pp, tg, bw, fraction;
    model::ForwardProfile profile, pp_profile;  // generation's, the prompt's
    long peak_kib = 0;
    bool peak_exact = true;
    const double bytes_per_token = static_cast<double>(m.value()->weight_bytes_per_token());
    // Warm-up: touches the weights once (page cache -> memory). Its time is
    // the first token after load (load + first token = time to ready).
    int32_t warm = 1;
    auto t_first = clock::now();
    if (!ctx.eval(std::span<const int32_t>(&warm, 1), false, &logits).ok()) throw CLI::RuntimeError(1);
    double first_token_ms = std::chrono::duration<double, std::milli>(clock::now() - t_first).count();
    // The repacked weights move into huge pages in the background after
    // load (model/repack.h); the tests run once they are there.
    const core::AnonMemory::Promotion huge = m.value()->wait_for_huge_pages();
    // The cache's first n_depth positions, filled once: each test truncates
    // back to them (the entries stay valid).
    ctx.reset();
    if (o->n_depth > 0) {
      std::vector<int32_t> fill(static_cast<size_t>(o->n_depth));
      for (auto& t : fill) t = static_cast<int32_t>(rng() % hp.n_vocab);
      Status s = ctx.eval(fill, false, &logits);
      if (!s.ok()) throw CLI::RuntimeError(fail(s));
    }
    for (int r = 0; r < o->reps; ++r) {
      if (o->n_prompt > 0) {
        ctx.truncate(o->n_depth);
        if (o->profile) ctx.set_profile(&pp_profile);
        auto t0 = clock::now();
        Status s = ctx.eval(prompt, false, &logits);
        const double pp_seconds = std::chrono::duration<double>(clock::now() - t0).count();
        ctx.set_profile(nullptr);
        if (!s.ok()) throw CLI::RuntimeError(fail(s));
        pp.push_back(o->n_prompt / pp_seconds);
      }
      if (o->n_gen > 0) {
        ctx.truncate(o->n_depth);
        std::unique_ptr<kernels::ReadProbe> probe;
        std::vector<double> samples;
        if (o->bandwidth) {
          peak_kib = std::max(peak_kib, peak_rss_kib());
          probe = std::make_unique<kernels::ReadProbe>(size_t(256) << 20, threads);
        }
        int32_t tok = 1;
        double seconds = 0;
        if (o->profile) ctx.set_profile(&profile);
        auto t0 = clock::now();
        for (int i = 0; i < o->n_gen; ++i) {
          if (probe && i % 16 == 8) {  // a pause: stop the clock, sample the bandwidth
            seconds += std::chrono::duration<double>(clock::now() - t0).count();
            samples.push_back(probe->measure(2));
            t0 = clock::now();
          }
          Status s = ctx.eval(std::span<const int32_t>(&tok, 1), false, &logits);
          if (!s.ok()) throw CLI::RuntimeError(fail(s));
          tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        }
        seconds += std::chrono::duration<double>(clock::now() - t0).count();
        ctx.set_profile(nullptr);
        tg.push_back(o->n_gen / seconds);
        if (probe) {
          if (samples.empty()) samples.push_back(probe->measure(3));
          probe.reset();
          peak_exact = reset_peak_rss() && peak_exact;
          const double ceiling = stats(samples).median;
          bw.push_back(ceiling);
          fraction.push_back(tg.back() * bytes_per_token / 1e9 / ceiling);
        }
      }
    }
    Stats sp = stats(pp), st = stats(tg);
    double size_mib = static_cast<double>(m.value()->file().file_size()) / 1048576.0;
    std::string type = model_type(m.value()->file());
    const char* isa = core::isa_name(kernels::active().isa);
    // Peak resident set (mapped weight pages that were touched count too),
    // against the budget file + KV cache.
    peak_kib = std::max(peak_kib, peak_rss_kib());
    double rss_mib = static_cast<double>(peak_kib) / 1024.0;
    Stats sb = stats(bw), sf = stats(fraction);
    double kv_mib = static_cast<double>(model::KvCache::bytes_per_token(hp, kv_type)) * static_cast<double>(n_ctx) / 1048576.0;
    // The software prefetch policy of the AVX-512 interleaved kernels (kernels/prefetch.h).
    const char* prefetch = std::string_view(isa) == "avx512" ? kernels::prefetch_policy().name : "-";
    if (o->json) {
      nlohmann::json j = {{"model", o->model}, {"model_type", type}, {"model_size_mib", size_mib},
                          {"n_prompt", o->n_prompt}, {"n_gen", o->n_gen}, {"n_depth", o->n_depth},
                          {"threads", threads}, {"reps", o->reps}, {"kv_type", o->kv_type},
                          {"pp_tokens_per_s", sp.median}, {"pp_min", sp.min}, {"pp_max", sp.max},
                          {"tg_tokens_per_s", st.median}, {"tg_min", st.min}, {"tg_max", st.max},
                          {"isa", isa}, {"cpu_features", core::cpu_feature_string()},
                          {"cpu_vendor", core::cpu_features().vendor}, {"cpu_family", core::cpu_features().family},
                          {"prefetch", prefetch},
                          {"load_ms", load_ms}, {"first_token_ms", first_token_ms},
                          {"huge_pages", huge_way(huge.way)},
                          {"huge_pages_mib", static_cast<double>(huge.huge_bytes) / 1048576.0},
                          {"huge_pages_ms", huge.ms}, {"fresh_huge_page_ms", huge.fresh_page_ms},
                          {"small_pages_2mib_ms", huge.small_pages_ms},
                          {"huge_pages_at_load_mib", static_cast<double>(huge.up_front_bytes) / 1048576.0},
                          {"peak_rss_mib", rss_mib}, {"kv_cache_mib", kv_mib},
                          {"weight_bytes_per_token", bytes_per_token}};
      if (o->profile && profile.calls > 0) j["tg_profile"] = profile_json(profile);
      if (o->profile && pp_profile.calls > 0) j["pp_profile"] = profile_json(pp_profile);
      if (o->bandwidth && !bw.empty()) {
        j["read_gb_per_s"] = sb.median;
        j["tg_read_gb_per_s"] = st.median * bytes_per_token / 1e9;
        j["tg_bandwidth_fraction"] = sf.median;
        j["tg_bandwidth_fraction_min"] = sf.min;
        j["tg_bandwidth_fraction_max"] = sf.max;
        if (!peak_exact) j["peak_rss_includes_probe"] = true;
      }
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("model: %s (%s, %.0f MiB)\nthreads: %d, KV cache: %s, kernels: %s (prefetch: %s), cpu: %s family 0x%x %s\n\n",
                o->model.c_str(), type.c_str(), size_mib, threads, o->kv_type.c_str(), isa, prefetch,
                core::cpu_features().vendor.c_str(), core::cpu_features().family,
                core::cpu_feature_string().c_str());
    // llama-bench's names: "pp512", "tg128", "pp512 @ d1024".
    auto test_name = [&](const char* kind, int n) {
      std::string name = kind + std::to_string(n);
      if (o->n_depth > 0) name += " @ d" + std::to_string(o->n_depth);
      return name;
    };
    const int w = static_cast<int>(std::max<size_t>(
        {6, test_name("pp", o->n_prompt).size(), test_name("tg", o->n_gen).size()}));
    std::printf("| %-*s | tokens/s (median) | min     | max     |\n|%s|------------------:|--------:|--------:|\n", w,
                "test", std::string(static_cast<size_t>(w) + 2, '-').c_str());
    if (o->n_prompt > 0)
      std::printf("| %-*s | %17.2f | %7.2f | %7.2f |\n", w, test_name("pp", o->n_prompt).c_str(), sp.median, sp.min, sp.max);
    if (o->n_gen > 0)
      std::printf("| %-*s | %17.2f | %7.2f | %7.2f |\n", w, test_name("tg", o->n_gen).c_str(), st.median, st.min, st.max);
    if (o->bandwidth && !bw.empty())
      std::printf("\ngeneration reads %.0f MiB of weights per token: %.1f GB/s = %.0f%% of the read bandwidth sampled "
                  "during the runs (median %.1f GB/s; per-run fractions %.0f-%.0f%%)\n",
                  bytes_per_token / 1048576.0, st.median * bytes_per_token / 1e9, 100 * sf.median, sb.median,
                  100 * sf.min, 100 * sf.max);
    if (o->profile && pp_profile.calls > 0) {
      std::printf("\nprompt processing, per token (%lld tokens in %lld passes; attention's multiply-adds: scores and "
                  "mix):\n| phase | ms | share | GMAC/s |\n|---|---:|---:|---:|\n",
                  static_cast<long long>(pp_profile.tokens), static_cast<long long>(pp_profile.calls));
      for (const ProfileRow& r : profile_rows(pp_profile)) {
        std::printf("| %s | %.3f | %.1f%% | ", r.name, r.ms_per_token, 100 * r.share);
        if (r.gmac_per_s > 0) std::printf("%.1f |\n", r.gmac_per_s); else std::printf("- |\n");
      }
    }
    if (o->profile && profile.calls > 0) {
      std::printf("\ngeneration, per token (%lld tokens; sampling and bandwidth pauses excluded):\n"
                  "| phase | ms | share | weights GB/s |\n|---|---:|---:|---:|\n",
                  static_cast<long long>(profile.tokens));
      for (const ProfileRow& r : profile_rows(profile)) {
        std::printf("| %s | %.3f | %.1f%% | ", r.name, r.ms_per_token, 100 * r.share);
        if (r.gb_per_s > 0) std::printf("%.1f |\n", r.gb_per_s); else std::printf("- |\n");
      }
    }
    std::printf("\nload: %.0f ms, first token: %.0f ms; peak RSS %.0f MiB = %.2f x (file %.0f MiB + KV cache %.0f MiB)\n",
                load_ms, first_token_ms, rss_mib, rss_mib / (size_mib + kv_mib), size_mib, kv_mib);
    using Way = core::AnonMemory::Promotion::Way;
    char small[96] = "";
    if (huge.small_pages_ms > 0) std::snprintf(small, sizeof small, " (2 MiB of small pages: %.2f ms)", huge.small_pages_ms);
    if (huge.way == Way::kUpFront && huge.small_pages_ms > 0)
      std::printf("weights in huge pages from the start: a fresh one took %.2f ms to commit%s, so the loading threads "
                  "committed the rest\n", huge.fresh_page_ms, small);
    else if (huge.way == Way::kUpFront)
      std::printf("weights in huge pages from the start (each committed in at most %.2f ms)\n", huge.fresh_page_ms);
    else if (huge.way == Way::kCollapsed)
      std::printf("weights: %.0f MiB in huge pages at load, until one took %.2f ms to commit%s; the rest in small pages, "
                  "moved into huge pages in the background (%.0f MiB in all, %.0f ms after load)\n",
                  static_cast<double>(huge.up_front_bytes) / 1048576.0, huge.fresh_page_ms, small,
                  static_cast<double>(huge.huge_bytes) / 1048576.0, huge.ms);
    else if (huge.way == Way::kAdvised)
      std::printf("weights in small pages, advised for huge pages (this kernel cannot collapse on request)\n");
    if (!peak_exact) std::printf("(peak RSS includes the bandwidth probe's buffer: /proc/self/clear_refs was not writable)\n");
  });
}

}  // namespace hearth::app
