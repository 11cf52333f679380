#include "model/repack.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "tensor/interleave.h"

namespace hearth::model {

bool repack_enabled() {
  const char* v = std::getenv("HEARTH_REPACK");
  return v == nullptr || (std::strcmp(v, "0") != 0 && std::strcmp(v, "off") != 0 && std::strcmp(v, "false") != 0);
}

namespace {

struct Job {
  const uint8_t* src;
  DType type;
  bool interleave;  // else a verbatim copy
  int64_t n_in, rows;
  size_t row_bytes, group_bytes, offset;
  size_t bytes = 0;  // in the copy
};

// Copies (interleave = false) or interleaves one weight from the file into
// dst, reading the file about 1 MiB at a time.
Status run_job(const Job& job, const gguf::File& source, uint8_t* dst, std::vector<uint8_t>& buf) {
  if (!job.interleave) return source.copy_bytes(job.src, static_cast<size_t>(job.rows) * job.row_bytes, dst);
  const int64_t step =
      std::max<int64_t>(1, (int64_t{1} << 20) / static_cast<int64_t>(job.group_bytes)) * tensor::kX16Rows;
  buf.resize(static_cast<size_t>(step) * job.row_bytes);
  for (int64_t r0 = 0; r0 < job.rows; r0 += step) {
    const int64_t r1 = std::min(job.rows, r0 + step);
    HEARTH_RETURN_IF_ERROR(source.copy_bytes(job.src + static_cast<size_t>(r0) * job.row_bytes,
                                             static_cast<size_t>(r1 - r0) * job.row_bytes, buf.data()));
    for (int64_t r = r0; r < r1; r += tensor::kX16Rows)
      tensor::x16_pack(job.type, buf.data() + static_cast<size_t>(r - r0) * job.row_bytes, job.row_bytes, job.n_in,
                       dst + static_cast<size_t>(r / tensor::kX16Rows) * job.group_bytes);
  }
  return Status();
}

}  // namespace

Result<core::AnonMemory> repack_weights(std::span<Weight* const> weights, const gguf::File& source,
                                        const kernels::Kernels& k, int n_threads) {
  auto interleavable = [&](const Weight& w) {
    return w.n_out >= tensor::kX16Rows && tensor::x16_supported(w.type) && k.gemm_x16[static_cast<int>(w.type)] &&
           w.n_in % dtype_info(w.type).block_size == 0;
  };
  bool any_interleaved = false;
  for (const Weight* w : weights) any_interleaved = any_interleaved || (w->present() && !w->lora && interleavable(*w));
  std::vector<Job> jobs;
  std::map<const uint8_t*, size_t> job_of;  // source data -> job index
  size_t total = 0;
  for (Weight* w : weights) {
    if (!w->present() || w->lora || job_of.count(w->data)) continue;
    Job job{w->data, w->type, false, w->n_in, w->n_out, w->row_bytes, 0, total};
    if (interleavable(*w)) {
      job.interleave = true;
      job.rows = w->n_out / tensor::kX16Rows * tensor::kX16Rows;
      job.group_bytes = tensor::x16_group_bytes(w->type, w->n_in);
    } else if (w->n_out > 1 && !any_interleaved) {
      continue;  // nothing displaces the file's pages: keep the mapping
    }
    // Otherwise copied verbatim: norms and biases always, other matrices when
    // the model is being repacked, so that reading them does not map the
    // large file folios around them, which hold repacked weights.
    const size_t bytes = job.interleave ? static_cast<size_t>(job.rows / tensor::kX16Rows) * job.group_bytes
                                        : static_cast<size_t>(job.rows) * job.row_bytes;
    job.bytes = bytes;
    job_of[w->data] = jobs.size();
    jobs.push_back(job);
    total += (bytes + 63) / 64 * 64;
  }
  HEARTH_ASSIGN_OR_RETURN(core::AnonMemory mem, core::AnonMemory::allocate(total, core::AnonMemory::Pages::kHugeAuto));
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status failure;
  auto source_bytes = [](const Job& job) { return static_cast<size_t>(job.rows) * job.row_bytes; };
  std::atomic<size_t> done_bytes{0};  // source bytes of the jobs finished so far
  auto work = [&] {
    std::vector<uint8_t> buf;
    for (size_t j; (j = next.fetch_add(1)) < jobs.size();) {
      mem.populate(jobs[j].offset, jobs[j].bytes);
      Status st = run_job(jobs[j], source, mem.data() + jobs[j].offset, buf);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (failure.ok()) failure = st;
        return;
      }
      done_bytes.fetch_add(source_bytes(jobs[j]));
    }
  };
  // The file's pages are requested from the disk ahead of the workers, in
  // the order they take the jobs, so that reading a file that is not in the
  // page cache overlaps with repacking instead of alternating with it; at
  // most kWindow ahead of the finished jobs, so that on a machine with little
  // free memory the pages are not evicted again before they are copied.
  std::atomic<bool> stop_ahead{false};
  std::thread ahead([&] {
    constexpr size_t kPiece = size_t(8) << 20, kWindow = size_t(512) << 20;
    size_t issued = 0;
    for (const Job& job : jobs) {
      const size_t bytes = source_bytes(job);
      for (size_t off = 0; off < bytes; off += kPiece) {
        while (issued > done_bytes.load() + kWindow) {
          if (stop_ahead.load()) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (stop_ahead.load()) return;
        const size_t n = std::min(kPiece, bytes - off);
        source.read_ahead(job.src + off, n);
        issued += n;
      }
    }
  });
  std::vector<std::thread> helpers;
  for (int t = 1; t < n_threads && static_cast<size_t>(t) < jobs.size(); ++t) helpers.emplace_back(work);
  work();
  for (auto& h : helpers) h.join();
  stop_ahead.store(true);
  ahead.join();
  HEARTH_RETURN_IF_ERROR(failure);
  for (Weight* w : weights) {
    auto it = job_of.find(w->data);
    if (it == job_of.end()) continue;
    const Job& job = jobs[it->second];
    if (job.interleave) {
      w->x16 = mem.data() + job.offset;
      w->x16_rows = job.rows;
      w->x16_group_bytes = job.group_bytes;
    } else {
      w->data = mem.data() + job.offset;
    }
  }
  mem.promote_in_background();
  return mem;
}

}  // namespace hearth::model
