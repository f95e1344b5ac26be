#!/usr/bin/env bash
# Bad lesson flags end the run with exit code 2 and one line on stderr that names the problem,
# before any work starts; --help exits 0.
#
# usage: check_flags.sh LESSON_EXE WORK_DIR
set -u
exe=$1
work=$2
slug=$(basename "$exe")
rm -rf "$work"
mkdir -p "$work"
touch "$work/a-file"
failures=0

# expect_usage_error TEXT ARGS...: the lesson, run with ARGS, exits 2 and prints exactly one
# line to stderr, which contains TEXT.
expect_usage_error() {
  local want=$1
  shift
  timeout 60 "$exe" "$@" >"$work/stdout" 2>"$work/stderr"
  local code=$?
  local lines
  lines=$(wc -l <"$work/stderr")
  local msg
  msg=$(head -c 300 "$work/stderr")
  if [[ $code -ne 2 ]]; then
    echo "FAIL: $slug $* exited $code, expected 2 (stderr: $msg)"
    failures=$((failures + 1))
  elif [[ $lines -ne 1 ]]; then
    echo "FAIL: $slug $* printed $lines lines to stderr, expected one: $msg"
    failures=$((failures + 1))
  elif [[ $msg != *"$want"* ]]; then
    echo "FAIL: $slug $*: stderr does not mention '$want': $msg"
    failures=$((failures + 1))
  else
    echo "ok: $slug $* -> exit 2: $msg"
  fi
}

# --quick and a scratch --out keep a case that wrongly passes the checks short and harmless.
out=(--quick --quiet --out "$work/out")
expect_usage_error "--threads" "${out[@]}" --threads 0
expect_usage_error "--threads" "${out[@]}" --threads -3
expect_usage_error "--threads" "${out[@]}" --threads 1000000
expect_usage_error "--threads" "${out[@]}" --threads two
expect_usage_error "--threads" "${out[@]}" --threads 99999999999999999999
expect_usage_error "--steps" "${out[@]}" --steps -1
expect_usage_error "--steps" "${out[@]}" --steps 1.5
expect_usage_error "--steps" "${out[@]}" --steps
expect_usage_error "--seed" "${out[@]}" --seed -7
expect_usage_error "--bogus" "${out[@]}" --bogus
expect_usage_error "/proc/forbidden" --quick --quiet --out /proc/forbidden
expect_usage_error "$work/a-file" --quick --quiet --out "$work/a-file"
expect_usage_error "--out" --quick --quiet --out ""

# --help is not an error: usage on stdout, exit 0, and no run.
timeout 60 "$exe" --help >"$work/stdout" 2>"$work/stderr"
code=$?
if [[ $code -ne 0 ]] || ! grep -q -- "--steps" "$work/stdout"; then
  echo "FAIL: $slug --help exited $code or did not list --steps"
  failures=$((failures + 1))
else
  echo "ok: $slug --help -> exit 0 with the usage"
fi

if [[ $failures -ne 0 ]]; then
  echo "$failures flag check(s) failed"
  exit 1
fi
echo "every bad flag gives exit code 2 and a one-line message"
