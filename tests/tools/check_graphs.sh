#!/usr/bin/env bash
# lumen graph end to end: the golden tiny-expression graph, byte-identical reruns, every built-in
# model accepted by Graphviz without a warning, and exit code 2 for bad input.
set -uo pipefail
LUMEN=$1
GOLDEN=$2
WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "check_graphs: $*"; exit 1; }

"$LUMEN" graph --model tiny-expression --values --out "$WORK/tiny.dot" >/dev/null || fail "tiny-expression failed"
cmp -s "$WORK/tiny.dot" "$GOLDEN/tiny_expression.dot" || { diff "$GOLDEN/tiny_expression.dot" "$WORK/tiny.dot"; fail "tiny-expression differs from the golden file"; }

models=$("$LUMEN" graph --list | awk '{print $1}')
[ -n "$models" ] || fail "graph --list printed nothing"
for m in $models; do
  for flags in "" "--values" "--backward" "--saved"; do
    "$LUMEN" graph --model "$m" $flags --out "$WORK/$m.dot" >/dev/null || fail "$m $flags failed"
    "$LUMEN" graph --model "$m" $flags --out "$WORK/$m.again.dot" >/dev/null || fail "$m $flags failed"
    cmp -s "$WORK/$m.dot" "$WORK/$m.again.dot" || fail "$m $flags: two runs differ"
    warnings=$(dot -Tsvg "$WORK/$m.dot" -o "$WORK/$m.svg" 2>&1) || fail "dot rejected $m $flags: $warnings"
    [ -z "$warnings" ] || fail "dot warned on $m $flags: $warnings"
  done
  "$LUMEN" graph --model "$m" --out "$WORK/$m.json" >/dev/null || fail "$m json failed"
  python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$WORK/$m.json" || fail "$m json is not valid JSON"
done

expect_2() {
  "$@" >/dev/null 2>"$WORK/err"; rc=$?
  [ $rc -eq 2 ] || fail "expected exit 2 from: $* (got $rc)"
  [ "$(wc -l < "$WORK/err")" -eq 1 ] || fail "expected a one-line message from: $*"
}
expect_2 "$LUMEN" graph --model no-such-model --out "$WORK/x.dot"
expect_2 "$LUMEN" graph --model mlp --collapse no-such-scope --out "$WORK/x.dot"
expect_2 "$LUMEN" graph --model mlp --out /nonexistent-dir/x.svg
expect_2 "$LUMEN" graph --model mlp --out "$WORK/x.txt"
echo "check_graphs: all passed"
