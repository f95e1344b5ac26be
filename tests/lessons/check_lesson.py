#!/usr/bin/env python3
"""Runs one lesson in --quick mode and checks what it reports.

usage: check_lesson.py LESSON_EXE OUT_DIR

Passes when the lesson exits 0, writes metrics.json with "passed": true, every target in it
passed, and the metrics hold the keys the lesson contract names for that lesson.
"""
import json
import os
import subprocess
import sys

REQUIRED_KEYS = {
    "00": ["max_rel_err_f64", "ops_checked"],
    "01": ["seq_acc_by_length", "seq_acc_len5", "seq_acc_len20"],
    "02": ["caption_exact_match", "pointing_acc"],
    "03": ["reinforce_rel_err", "soft_acc", "hard_acc"],
    "04": ["seq_acc_by_length", "no_attention_seq_acc_by_length", "min_seq_acc_trained_lengths",
           "alignment_acc", "grad_norm_by_position"],
    "05": ["final_acc", "steps_to_99"],
    "06": ["alpha", "black_attends_noir", "cat_attends_chat"],
    "07": ["exact_match", "year_attention_mass", "vqa_acc", "vqa_pointing_acc"],
    "08": ["var_ratio", "unscaled_max_alpha_1024", "jacobian_ratio_1024", "scaled_entropy_spread"],
    "09": ["equivariance_err", "pe_break", "rows_vs_batched_err"],
    "10": ["future_grad_max_abs", "row_sum_err"],
    "11": ["acc_2_heads", "acc_1_head"],
    "12": ["acc_cnn", "acc_cnn_self_attention"],
    "13": ["table"],
    "14": ["token_acc", "alignment_acc"],
    "15": ["mlm_acc", "mlm_unigram_baseline", "cls_acc"],
    "16": ["sort_acc", "val_loss", "unigram_loss", "bigram_loss"],
    "17": ["copy_acc", "dates_acc", "rnn_attention_dates_acc"],
}


def fail(msg):
    print("check_lesson: " + msg)
    sys.exit(1)


def main():
    exe, out = sys.argv[1], sys.argv[2]
    slug = os.path.basename(exe)
    proc = subprocess.run([exe, "--quick", "--quiet", "--out", out], capture_output=True, text=True)
    sys.stdout.write(proc.stdout[-4000:])
    sys.stderr.write(proc.stderr[-2000:])
    if proc.returncode != 0:
        fail(f"{slug} exited {proc.returncode}")
    path = os.path.join(out, "metrics.json")
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e}")
    if m.get("lesson") != slug:
        fail(f"metrics.json names lesson {m.get('lesson')!r}, expected {slug!r}")
    if m.get("passed") is not True:
        fail(f"{slug} reports passed = {m.get('passed')}")
    missed = [k for k, t in m.get("targets", {}).items() if not t.get("passed")]
    if missed:
        fail(f"{slug} missed targets: {missed}")
    if not m.get("targets"):
        fail(f"{slug} checks no target")
    for key in REQUIRED_KEYS.get(slug[:2], []):
        if key not in m.get("metrics", {}):
            fail(f"{slug}: metrics.json lacks the key {key!r}")
    print(f"{slug}: passed with {len(m['targets'])} targets")


if __name__ == "__main__":
    main()
