#!/usr/bin/env bash
# Runs every built lesson in order (full runs), then writes out/index.html.
set -uo pipefail
BUILD=${1:-build}
OUT=${OUT:-out}
mkdir -p "$OUT"
status=0
shopt -s nullglob
lessons=()
for exe in "$BUILD"/lessons/[0-9][0-9]_*; do
  [ -x "$exe" ] && [ -f "$exe" ] && lessons+=("$exe")
done
if [ ${#lessons[@]} -eq 0 ]; then
  echo "run-lessons: no lessons are built yet; running the engine tour of what exists"
  "$BUILD"/tools/lumen gradcheck || status=1
  exit $status
fi
# QUICK=1 runs the --quick versions.
flags=()
[ "${QUICK:-0}" = "1" ] && flags+=(--quick)
for exe in "${lessons[@]}"; do
  name=$(basename "$exe")
  echo "==== $name"
  mkdir -p "$OUT/$name"
  # The story goes to the terminal and to story.txt, which index.html links.
  "$exe" "${flags[@]}" --out "$OUT/$name" | tee "$OUT/$name/story.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "run-lessons: $name missed its target" >&2; status=1; }
done
[ -f scripts/make-index.py ] && python3 scripts/make-index.py "$OUT"
exit $status
