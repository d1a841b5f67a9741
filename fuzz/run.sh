#!/bin/sh
# Runs one libFuzzer target for a bounded time and prints its coverage.
#   ./run.sh NAME SECONDS [CORPUS_DIR SEED_DIR]   (from fuzz/, after make build)
# The log goes to build/NAME.log. Coverage is libFuzzer's own count: the
# final "cov:" (edges hit) over the "inline 8-bit counters" it loaded (every
# instrumented edge of the binary: the core it links, the harness, and the
# branches each ASan/UBSan check adds). When build/fuzz_NAME_cov (the same
# target without sanitizers) exists, the corpus is replayed through it too,
# which counts the stack's own edges only; its per-file table follows.
# Exits non-zero on a crash, leak, UB or timeout, naming the reproducer
# libFuzzer wrote under build/.
set -u
name=$1
secs=$2
corpus=${3:-corpus/$name}
seeds=${4:-seeds/$name}
bin=build/fuzz_$name
log=build/$name.log
mkdir -p "$corpus" build
[ -d "$seeds" ] || seeds=

# "cov N of M edges (P %)" from a libFuzzer log: the last cov: figure over
# the counters it loaded.
cov_line() {
  total=$(sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' "$1" | head -1)
  cov=$(grep -E '^#[0-9]+.*cov: ' "$1" | tail -1 | sed 's/.*cov: \([0-9]*\).*/\1/')
  [ -n "$total" ] && [ -n "$cov" ] &&
    awk -v c="$cov" -v t="$total" 'BEGIN { printf "cov %d of %d edges (%.1f %%)", c, t, 100 * c / t }'
}

# Per file, core/ only: edges hit / edges, summed from the COVERED_FUNC and
# UNCOVERED_FUNC lines of -print_coverage=1 ("hits: N edges: a/b name file:line").
per_file() {
  awk '/^(UN)?COVERED_FUNC: / {
      split($5, e, "/"); f = $NF; sub(/:[0-9]+$/, "", f)
      if (f !~ /\/core\//) next
      sub(/.*\/core\//, "", f); c[f] += e[1]; t[f] += e[2]
    }
    END {
      k = 0
      for (f in c) names[++k] = f
      for (i = 2; i <= k; i++)
        for (j = i; j > 1 && names[j] < names[j - 1]; j--) { x = names[j]; names[j] = names[j - 1]; names[j - 1] = x }
      line = ""
      for (i = 1; i <= k; i++) {
        f = names[i]
        line = line sprintf("  %-16s %4d/%-4d %3.0f%%", f, c[f], t[f], t[f] ? 100 * c[f] / t[f] : 0)
        if (i % 4 == 0) { print line; line = "" }
      }
      if (line != "") print line
    }' "$1"
}

ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}" \
  "$bin" -max_len=8192 -len_control=0 -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build/ \
  -print_final_stats=1 -print_coverage=1 -max_total_time="$secs" "$corpus" $seeds >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "fuzz_$name: ${execs:-?} runs in $secs s, $(cov_line "$log")"

if [ -x "${bin}_cov" ] && [ $rc -eq 0 ]; then
  "${bin}_cov" -runs=0 -max_len=8192 -print_coverage=1 "$corpus" $seeds >"build/${name}_cov.log" 2>&1
  echo "  the corpus without sanitizer edges: $(cov_line "build/${name}_cov.log"); core/ per file:"
  per_file "build/${name}_cov.log"
elif [ $rc -eq 0 ]; then
  echo "  core/ per file (sanitizer edges included):"
  per_file "$log"
fi

if [ $rc -ne 0 ]; then
  echo "fuzz_$name FAILED (exit $rc); log: fuzz/$log" >&2
  grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 >&2
  for f in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
    echo "reproducer: fuzz/$f (replay: cd fuzz && $bin $f)" >&2
  done
fi
exit $rc
