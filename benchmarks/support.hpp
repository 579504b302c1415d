// Shared benchmark plumbing: a console reporter that also keeps each benchmark's median time so
// the main can print ratios measured in the same run, and the BLAS facts every benchmark prints.
#pragma once

#include <cstdio>
#include <map>
#include <string>

#include <benchmark/benchmark.h>

#include "specdyn/ad/blas.hpp"

namespace specdyn::bench {

/// Console output as usual, plus median real time (seconds) per benchmark name.
class median_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median")
        medians[r.run_name.function_name + (r.run_name.args.empty() ? "" : "/" + r.run_name.args)] =
            r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> medians;
};

inline void print_blas_facts() {
  std::printf("OpenBLAS core: %s, threads: %d (override a misdetected core with OPENBLAS_CORETYPE=Haswell etc.)\n",
              blas::core_name().c_str(), blas::num_threads());
}

/// Runs all registered benchmarks with repetitions and median aggregates; returns the medians.
inline std::map<std::string, double> run_all(int argc, char** argv) {
  print_blas_facts();
  std::vector<char*> args(argv, argv + argc);
  std::string reps = "--benchmark_repetitions=7", agg = "--benchmark_report_aggregates_only=true";
  bool has_reps = false;
  for (int i = 1; i < argc; ++i) has_reps |= std::string(argv[i]).rfind("--benchmark_repetitions", 0) == 0;
  if (!has_reps) { args.push_back(reps.data()); args.push_back(agg.data()); }
  int n = int(args.size());
  benchmark::Initialize(&n, args.data());
  median_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  return reporter.medians;
}

}  // namespace specdyn::bench
