#!/usr/bin/env python3
"""A lesson trained for only a few steps still finishes cleanly.

usage: check_short_run.py LESSON_EXE OUT_DIR [STEPS]      (STEPS defaults to 1)

Runs the lesson with --quick --quiet --threads 1 --steps STEPS. An undertrained model may well
miss the lesson's targets (exit 1), but the lesson must not crash: whatever it decodes (an empty
sentence, a sequence cut short) must be reported, not indexed past its end. Passes on exit 0 or
1 with a metrics.json for this lesson; a crash, an abort or a sanitizer report fails it.
"""
import json
import os
import subprocess
import sys


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    exe, out = sys.argv[1], sys.argv[2]
    steps = sys.argv[3] if len(sys.argv) == 4 else "1"
    slug = os.path.basename(exe)
    cmd = [exe, "--quick", "--quiet", "--threads", "1", "--steps", steps, "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if proc.returncode not in (0, 1):
        sys.stdout.write(proc.stdout[-3000:])
        sys.stderr.write(proc.stderr[-3000:])
        how = f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exited {proc.returncode}"
        sys.exit(f"check_short_run: {' '.join(cmd)} {how}")
    path = os.path.join(out, "metrics.json")
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"check_short_run: {slug} --steps {steps} wrote no readable {path}: {e}")
    if m.get("lesson") != slug:
        sys.exit(f"check_short_run: metrics.json names lesson {m.get('lesson')!r}, expected {slug!r}")
    print(f"{slug} --quick --steps {steps}: exit {proc.returncode}, passed = {m.get('passed')}")


if __name__ == "__main__":
    main()
