#!/usr/bin/env python3
"""Runs one lesson twice, with 1 and with 2 threads, and compares the metrics exactly.

usage: check_determinism.py LESSON_EXE OUT_DIR [EXTRA_FLAG ...]

The lesson contract (docs/reliability.md): the same seed gives bit-identical metrics on every
run, and the thread count does not change them, because no reduction splits one sum across
threads. The runs use --quick (plus any extra flags, such as --steps N); everything under
"metrics" in metrics.json must be equal, number for number, as written (JSON keeps 17
significant digits, enough to round-trip a double exactly).
"""
import json
import os
import subprocess
import sys


def run(exe, out, threads, extra):
    cmd = [exe, "--quick", "--quiet", "--threads", str(threads), "--out", out] + extra
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode not in (0, 1):
        sys.stdout.write(proc.stdout[-3000:])
        sys.stderr.write(proc.stderr[-2000:])
        sys.exit(f"check_determinism: {' '.join(cmd)} exited {proc.returncode}")
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
    return proc.returncode, m


def flatten(value, prefix=""):
    """Every leaf of a JSON value with its path, for a readable list of differences."""
    if isinstance(value, dict):
        for k in sorted(value):
            yield from flatten(value[k], f"{prefix}.{k}" if prefix else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    exe, out, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    slug = os.path.basename(exe)
    code1, m1 = run(exe, os.path.join(out, "threads-1"), 1, extra)
    code2, m2 = run(exe, os.path.join(out, "threads-2"), 2, extra)
    if m1.get("threads") != 1 or m2.get("threads") != 2:
        sys.exit(f"check_determinism: {slug} ran with {m1.get('threads')} and {m2.get('threads')} threads, "
                 "expected 1 and 2 (is --threads applied?)")
    if not m1.get("metrics"):
        sys.exit(f"check_determinism: {slug} reports no metrics")
    a, b = dict(flatten(m1["metrics"])), dict(flatten(m2["metrics"]))
    diffs = [k for k in sorted(set(a) | set(b)) if a.get(k, "<missing>") != b.get(k, "<missing>")]
    for k in diffs[:20]:
        print(f"  {k}: 1 thread {a.get(k, '<missing>')!r}, 2 threads {b.get(k, '<missing>')!r}")
    if diffs:
        sys.exit(f"check_determinism: {slug}: {len(diffs)} metric(s) differ between 1 and 2 threads")
    if code1 != code2:
        sys.exit(f"check_determinism: {slug} exited {code1} with 1 thread but {code2} with 2")
    print(f"{slug}: {len(a)} metric values identical with 1 and 2 threads (exit code {code1})")


if __name__ == "__main__":
    main()
