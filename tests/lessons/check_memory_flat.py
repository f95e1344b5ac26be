#!/usr/bin/env python3
"""Memory stays flat over a long training run: the peak RSS of SHORT and of LONG steps agree.

usage: check_memory_flat.py LESSON_EXE OUT_DIR [SHORT LONG [TOLERANCE]]
       (defaults: 200 2000 0.05, the numbers of docs/reliability.md)

Runs the lesson twice, each in a fresh process, with --quick --quiet --threads 1 --steps SHORT
and then --steps LONG, and reads each child's peak resident set size (ru_maxrss from wait4, which
belongs to that one child, not to every child so far). A graph, a gradient or an optimizer state
kept by mistake at every step grows with the step count, so the long run would peak higher; the
test fails when it peaks more than TOLERANCE (a fraction) above the short one.
The lesson may exit 0 or 1 (a short run can miss its accuracy target); anything else fails.
"""
import os
import subprocess
import sys
import time


def peak_rss_kib(exe, out, steps):
    """Runs the lesson once; returns (peak RSS in KiB, seconds, exit code)."""
    os.makedirs(out, exist_ok=True)
    cmd = [exe, "--quick", "--quiet", "--threads", "1", "--steps", str(steps), "--out", out]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    log_path = os.path.join(out, "run.log")
    start = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        with open(log_path) as log:
            sys.stdout.write(log.read()[-3000:])
        sys.exit(f"check_memory_flat: {' '.join(cmd)} exited {code}")
    return usage.ru_maxrss, seconds, code  # Linux reports ru_maxrss in KiB


def main():
    if len(sys.argv) not in (3, 5, 6):
        sys.exit(__doc__)
    exe, out = sys.argv[1], sys.argv[2]
    short, long_ = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) >= 5 else (200, 2000)
    tolerance = float(sys.argv[5]) if len(sys.argv) == 6 else 0.05
    if not 0 < short < long_:
        sys.exit(f"check_memory_flat: need 0 < SHORT < LONG, got {short} and {long_}")
    slug = os.path.basename(exe)
    rss_short, sec_short, code_short = peak_rss_kib(exe, os.path.join(out, f"steps-{short}"), short)
    rss_long, sec_long, code_long = peak_rss_kib(exe, os.path.join(out, f"steps-{long_}"), long_)
    growth = rss_long / rss_short - 1.0
    print(f"{slug} --steps {short}: peak RSS {rss_short} KiB ({sec_short:.1f} s, exit {code_short})")
    print(f"{slug} --steps {long_}: peak RSS {rss_long} KiB ({sec_long:.1f} s, exit {code_long})")
    print(f"growth {100 * growth:+.2f}% (allowed {100 * tolerance:.0f}%)")
    if growth > tolerance:
        sys.exit(f"check_memory_flat: {slug} peaks {100 * growth:.1f}% higher after {long_} steps than after "
                 f"{short}: something is kept at every step")


if __name__ == "__main__":
    main()
