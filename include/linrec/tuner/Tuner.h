// The autotuner: for one variant and shape on the GPU, compile the pruned search space in parallel, check
// each candidate against the float64 reference, time the survivors, pick a winner with a deterministic
// tie-break, and store the record and the kernels in the kernel DB.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Spec.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/runtime/Runtime.h"
#include "linrec/tuner/SearchSpace.h"
#include "linrec/tuner/Timer.h"

namespace linrec::tuner {

/// What happened to one candidate.
enum class CandidateStatus {
  Timed,          ///< checked and timed
  Pruned,         ///< dropped before compiling (rule or codegen)
  CompileFailed,  ///< NVRTC rejected the source
  PtxasRejected,  ///< spills, or too many registers to launch
  Wrong,          ///< differs from the reference beyond the dtype's tolerance (or could not run)
  Failed,         ///< launching or timing failed
  Skipped,        ///< the budget ran out first
};
/// "timed", "pruned", "compile-failed", "ptxas", "wrong", "failed", "skipped".
const char* candidateStatusName(CandidateStatus s);

/// One row of a tuning run.
struct CandidateResult {
  codegen::TuningConfig config;
  CandidateStatus status = CandidateStatus::Skipped;
  std::string reason;  ///< why it is not Timed (one line)
  bool is_default = false;
  Timing timing;            ///< Timed only
  double check_error = -1;  ///< relative error of the correctness check (-1: not run)
  int registers = 0, spill_bytes = 0;
  double compile_ms = 0;
};

/// Where a tuning run is.
struct TuneProgress {
  std::string phase;  ///< "compile" or "time"
  size_t index = 0;   ///< 1-based: candidate i of total
  size_t total = 0;
  const CandidateResult* current = nullptr;  ///< the candidate just finished (time phase)
  const CandidateResult* best = nullptr;     ///< the best timed so far, or null
};

/// Options of a tuning run.
struct TuneOptions {
  codegen::DType dtype = codegen::DType::BF16;
  codegen::Mode mode = codegen::Mode::Prefill;
  /// Wall-clock seconds for this (variant, shape), compiling included: no new compile starts past half of
  /// it (the rest is for timing) and no timing past all of it (the defaults are compiled and timed first,
  /// so there is always a baseline).
  double budget_s = 60;
  int compile_threads = 0;      ///< 0: one per hardware thread
  /// Candidates within this fraction of the fastest are ties, which the simplest config wins. At 3 % the H100
  /// runs of 2026-12-07 kept configs 1.5 % slower than the fastest they timed (gla at T = 4k). Candidates of
  /// one run are timed back to back; across processes the same config's median moved 0.6-3 % (one row 9 %),
  /// which no band removes, so the band only decides how much measured speed simplicity may cost.
  double tie_tolerance = 0.01;
  SearchSpaceOptions space;
  TimingOptions timing;
  /// The correctness check's shape (B, H and T; K and V are the tuned ones): small, with T % C != 0.
  int check_B = 2, check_T = 200, check_H = 2;
  /// Called from the tuning thread after each compile and each timed candidate.
  std::function<void(const TuneProgress&)> progress;
};

/// The outcome of a tuning run.
struct TuneResult {
  std::string variant, spec_hash;
  Shape shape;
  codegen::DType dtype = codegen::DType::BF16;
  codegen::Mode mode = codegen::Mode::Prefill;
  kdb::GpuIdentity gpu;
  std::vector<CandidateResult> candidates;  ///< every config considered, in simplicity order
  std::optional<size_t> winner;             ///< index into candidates
  std::optional<size_t> default_fused;      ///< the default's index, when it was a candidate
  double floor_bytes = 0;                   ///< bytes a launch must move (achieved GB/s = floor_bytes / time)
  double elapsed_s = 0;
  size_t enumerated = 0;
  kdb::TuningRecord record;  ///< what was (or would be) stored
  bool stored = false;       ///< record and kernels written to the DB
};

/// Tunes `spec` for `shape` on `rt`'s GPU. Candidates are enumerated and pruned for the device
/// (enumerateSearchSpace), compiled in parallel through the runtime (so the correctness check reuses the
/// module), dropped when ptxas reports spills or too many registers, checked with check::runCheck on a
/// small shape, timed with EventTimer on rotating buffers, and the winner is picked by selectWinner.
/// With `db`, the TuningRecord (config plus every candidate's result) and the kernels of the winner and
/// of the defaults (as index entries, the defaults marked is_default) are stored. An Error means the run
/// could not take place at all (no candidate survived, the workload does not fit, CUDA failed).
Expected<TuneResult> tune(Runtime& rt, const dsl::Spec& spec, const Shape& shape, const TuneOptions& options,
                          kdb::KernelDb* db);

/// The order in which tune() compiles and times `candidates` (indices into it); the winner's tie-break is
/// selectWinner's, whatever this order. Defaults come first, so that a baseline exists when the budget runs
/// out. Then the configs closest to the usual winners (C 64/32/128, BV 64/128/32, 4/8 warps), fused first at
/// equal distance, except for prefill shapes whose fused blocks (one per sequence, head and 64-wide V-tile)
/// cannot give each of the `sm_count` SMs one: there every state-passing candidate comes before every fused
/// one. A fused config walks the whole sequence in one block there (10-80 ms a launch at B = 1, T = 64k on
/// the H100, about 10x state passing), and timing them used most of an 8 s budget (16 of 46 candidates).
/// With `phase_fused_last` (tune() sets it for delta rules with a per-key decay, kda), fused candidates that
/// run phase by phase (a module of one fused kernel, no register-state walk) also go after every
/// state-passing one at every shape: on the H100 they took 3.4-6.3 ms against ~2.0 ms at T = 1k and 4k, and
/// 4 of the 7-9 configs a 16 s budget timed were theirs.
std::vector<size_t> timingOrder(const std::vector<Candidate>& candidates, const Shape& shape, codegen::Mode mode,
                                int sm_count, bool phase_fused_last = false);

/// The winner among Timed candidates: the fastest median, unless simpler candidates (simplerThan) are
/// within `tolerance` of it, in which case the simplest of those wins. Independent of the order of
/// `candidates`; nullopt when none was timed.
std::optional<size_t> selectWinner(const std::vector<CandidateResult>& candidates, double tolerance);

/// The JSON array stored as TuningRecord::candidates_json; a Timed candidate's entry says how its launches
/// were ordered ("launch": Timing::launch).
std::string candidatesJson(const std::vector<CandidateResult>& candidates);
/// The launch mode a record's candidates were timed under (the first Timed entry's "launch"), or "" where
/// the record does not say (records stored before it did) or its candidates do not parse.
std::string timedLaunch(const std::string& candidates_json);
/// A whole result as JSON (for `linrec tune --json`).
std::string resultJson(const TuneResult& result, int indent = 2);

}  // namespace linrec::tuner
