#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for SECONDS each, then prints one line per target:
# executions, speed, corpus size and crashes. The corpus grows across runs in BUILD/corpus/NAME
# (seeded from tests/fuzz/seeds/), and anything that crashes is saved in BUILD/crashes/NAME/.
# Exits 1 if any target crashed: turn each crash file into a regression test (docs/reliability.md).
#
# usage: scripts/run-fuzz.sh BUILD SECONDS      (make fuzz: BUILD=build-fuzz, FUZZ_SECONDS=60)
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: scripts/run-fuzz.sh BUILD SECONDS" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -lt 1 ]]; then
  echo "run-fuzz: SECONDS must be a positive whole number, got '$seconds'" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "run-fuzz: no fuzz targets in $build/fuzz (configure with cmake --preset fuzz and build first)" >&2
  exit 2
fi

mkdir -p "$build/fuzz-logs"
total_crashes=0
summary=()
for exe in "${targets[@]}"; do
  name=$(basename "$exe")
  short=${name#fuzz_}
  corpus="$build/corpus/$name"
  crashes="$build/crashes/$name"
  log="$build/fuzz-logs/$name.log"
  mkdir -p "$corpus" "$crashes"
  if [[ -d "$root/tests/fuzz/seeds/$short" ]]; then cp -n "$root/tests/fuzz/seeds/$short"/* "$corpus"/ 2>/dev/null || true; fi
  args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1 -artifact_prefix="$crashes/")
  [[ -f "$root/tests/fuzz/$short.dict" ]] && args+=(-dict="$root/tests/fuzz/$short.dict")
  echo "run-fuzz: $name for ${seconds}s (log: $log)"
  before=$(ls "$crashes" | wc -l)
  # libFuzzer stops at the first crash and exits non-zero; the summary below reports it.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$exe" "${args[@]}" "$corpus" >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  found=$(( $(ls "$crashes" | wc -l) - before ))
  total_crashes=$((total_crashes + found))
  files=$(ls "$corpus" | wc -l)
  summary+=("$(printf '%-18s %8ss %14s %10s %8s %8s' "$name" "$seconds" "${execs:-?}" "${speed:-?}" "$files" "$found")")
  if [[ $found -ne 0 ]]; then
    echo "run-fuzz: $name CRASHED; the input is in $crashes, the report in $log:"
    grep -m 5 -E 'ERROR|runtime error|SUMMARY' "$log" || true
  fi
done

printf '\n%-18s %9s %14s %10s %8s %8s\n' target time executions exec/s corpus crashes
printf '%s\n' "${summary[@]}"
if [[ $total_crashes -ne 0 ]]; then
  echo "run-fuzz: $total_crashes crash(es): reproduce with BUILD/fuzz/NAME FILE, then add the bytes as a Catch2 regression test"
  exit 1
fi
