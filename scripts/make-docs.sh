#!/usr/bin/env bash
# Regenerates the pictures in docs/img/ from the built lumen tool, so the docs never show a
# hand-drawn graph. Usage: make-docs.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build}
LUMEN="$BUILD/tools/lumen"
IMG=docs/img
mkdir -p "$IMG"
"$LUMEN" graph --model tiny-expression --values --out "$IMG/tiny_expression.svg"
"$LUMEN" graph --model tiny-expression --backward --out "$IMG/tiny_expression_backward.svg"
"$LUMEN" graph --model mlp --out "$IMG/mlp.svg"
"$LUMEN" graph --model mlp --saved --out "$IMG/mlp_saved.svg"
"$LUMEN" graph --model mlp --backward --out "$IMG/mlp_backward.svg"
"$LUMEN" graph --model mlp --collapse fc1 --out "$IMG/mlp_collapsed.svg"
# The sequence and transformer examples, where they exist.
for m in gru-unrolled bahdanau-step transformer-block gpt; do
  if "$LUMEN" graph --list | awk '{print $1}' | grep -qx "$m"; then
    "$LUMEN" graph --model "$m" --out "$IMG/$m.svg"
  fi
done
if "$LUMEN" graph --list | awk '{print $1}' | grep -qx gpt; then
  "$LUMEN" graph --model gpt --collapse blocks.0 --out "$IMG/gpt_collapsed.svg"
fi
echo "make-docs: pictures in $IMG"
