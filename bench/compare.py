#!/usr/bin/env python3
"""Lumen next to PyTorch and OpenBLAS, on this machine, in one run.

    /usr/bin/python3 bench/compare.py                        # every workload, 1 and 2 threads
    /usr/bin/python3 bench/compare.py --workloads W1,W2,W3   # a few minutes
    /usr/bin/python3 bench/compare.py --quick                # fewer samples, to try it out

It runs, one process per configuration and one after another (never two at once: the
numbers would fight for the cores):
  - Lumen:   build/bench/lumen_bench --benchmark_format=json --benchmark_repetitions=R
             (the median over R repetitions; a repetition is the mean of enough steps to
             fill --benchmark_min_time);
  - PyTorch: bench/pytorch/*.py in two modes (below), median over its timed samples;
  - OpenBLAS (W1): bench/openblas/w1_sgemm.cpp, compiled here with g++ -lopenblas;
  - libtorch (W2): bench/pytorch/w2_op_chain_libtorch.cpp, when libtorch-dev is installed.
and prints one markdown table (docs/performance.md holds a copy) with the ratios.

PyTorch's modes are the environments of the reference measurements (bench-ref README):
  tuned    OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 (AVX2 GEMM kernels, as that machine is
           set up), glibc malloc that keeps freed memory (no page-fault churn) and
           OMP_WAIT_POLICY=passive (OpenMP workers do not spin against OpenBLAS's threads)
  fastest  tuned, but with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: OpenBLAS picks its
           AVX-512 (Cooperlake) kernels. The fastest PyTorch runs on this machine.
OpenBLAS's own W1 column uses its AVX-512 kernels too (the environment of `fastest`).
Lumen runs in the plain environment: it has its own GEMM, its own caching allocator and one
OpenMP thread pool, so none of the three settings applies to it.

A ratio is the other implementation's time divided by Lumen's (for W1, Lumen's GFLOP/s divided
by the other's): above 1 Lumen is faster. Targets (docs/performance.md):
  W1  Lumen >= 0.8 x OpenBLAS (AVX-512) for n >= 256, at 1 and 2 threads
  W2  forward + backward <= 0.8 us per op
  W3-W6  step time <= PyTorch tuned at the same thread count (ratio >= 1)
  training benchmarks: os_allocations == 0 after warm-up

Every command's raw output goes to --work-dir (default: beside lumen_bench, in
bench/compare/), with the load average before and after it: on a shared machine, check it.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTORCH_DIR = ROOT / "bench" / "pytorch"
PYTHON = "/usr/bin/python3"  # Debian's python3-torch lives here, not in a pyenv/venv python

GLIBC_KEEP_MEMORY = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184"
MODES = {
    "tuned": {"set": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512",
                      "GLIBC_TUNABLES": GLIBC_KEEP_MEMORY, "OMP_WAIT_POLICY": "passive"},
              "unset": []},
    "fastest": {"set": {"GLIBC_TUNABLES": GLIBC_KEEP_MEMORY, "OMP_WAIT_POLICY": "passive"},
                "unset": ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]},
}
AVX512_BLAS = {"set": {}, "unset": ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]}
# Lumen: the plain environment, except that nothing may pin OpenMP's thread count behind our back.
LUMEN_ENV = {"set": {}, "unset": ["OMP_NUM_THREADS"]}

# Every benchmark the issue names, per workload: (lumen_bench name, unit, PyTorch program args).
# "{t}" is the thread count. Rows whose Lumen benchmark does not exist yet show "not yet".
W1_SIZES = (64, 128, 256, 512, 1024, 2048)
WORKLOADS = {
    "W1": {"title": "SGEMM C = A B, square n", "unit": "GFLOP/s", "per_thread": True,
           "rows": [f"W1_Sgemm/n:{n}/threads:{{t}}" for n in W1_SIZES],
           "pytorch": [["w1_matmul.py", "{t}"]], "openblas": True},
    "W2": {"title": "autograd overhead, 1000-op chain on 16 floats", "unit": "us/op",
           "per_thread": False,
           "rows": ["W2_OpChain_ForwardGraph", "W2_OpChain_ForwardBackward",
                    "W2_OpChain_ForwardNoGrad"],
           "pytorch": [["w2_op_chain.py", "1"]], "libtorch": True},
    "W3": {"title": "MLP 784-256-256-10 train step, SGD", "unit": "ms", "per_thread": True,
           "rows": ["W3_MlpTrainStep/threads:{t}"], "pytorch": [["w3_mlp.py", "{t}"]]},
    "W4": {"title": "Bahdanau seq2seq train step (GRUCell encoder), Adam", "unit": "ms",
           "per_thread": True, "rows": ["W4_BahdanauTrainStep/threads:{t}"],
           "pytorch": [["w4_bahdanau.py", "{t}", "cell"]]},
    "W5": {"title": "GPT train step, AdamW", "unit": "ms", "per_thread": True,
           "rows": ["W5_GptSmallTrainStep/threads:{t}", "W5_GptLargeTrainStep/threads:{t}"],
           # The large model's loss check is 10 steps, as in the reference's tuned modes.
           "pytorch": [["w5_gpt.py", "{t}", "small"], ["w5_gpt.py", "{t}", "large", "10"]]},
    "W6": {"title": "causal attention B8 H4 T256 D64", "unit": "ms", "per_thread": True,
           "rows": ["W6_CausalAttention_Forward/threads:{t}",
                    "W6_CausalAttention_ForwardBackward/threads:{t}"],
           "pytorch": [["w6_attention.py", "{t}"]]},
}
W2_TARGET_US = 0.8
W1_TARGET = 0.8


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def load_average():
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


class Runner:
    """Runs commands one at a time, keeps their output in work_dir, notes the load."""

    def __init__(self, work_dir, nice, dry_run=False):
        self.work_dir = work_dir
        self.nice = nice
        self.dry_run = dry_run
        self.loads = []  # (label, load before, load after)
        self.count = 0

    def run(self, label, cmd, env_change, cwd=None):
        env = dict(os.environ)
        for name in env_change["unset"]:
            env.pop(name, None)
        env.update(env_change["set"])
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ left in bench/pytorch
        if self.nice is not None:
            cmd = ["nice", "-n", str(self.nice)] + cmd
        shown = " ".join([f"{k}={v}" for k, v in env_change["set"].items()] +
                         [f"-u {k}" for k in env_change["unset"]] + cmd)
        log(f"$ {shown}")
        if self.dry_run:
            return ""
        self.count += 1
        before = load_average()
        start = time.time()
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
        after = load_average()
        self.loads.append((label, before, after))
        out_file = self.work_dir / f"{self.count:02d}_{label}.log"
        out_file.write_text(f"$ {shown}\n# load average before {before}, after {after}, "
                            f"{time.time() - start:.1f} s\n--- stdout\n{proc.stdout}\n"
                            f"--- stderr\n{proc.stderr}")
        if proc.returncode != 0:
            log(f"  failed (exit {proc.returncode}); see {out_file}")
            log("  " + proc.stderr.strip().replace("\n", "\n  ")[-2000:])
        return proc.stdout


def result_lines(stdout):
    """The `RESULT {json}` lines of a PyTorch/OpenBLAS program."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            out.append(json.loads(line[len("RESULT "):]))
    return out


def key_of(result):
    """A result line's row name, as lumen_bench spells it."""
    name = result["name"]
    if result["workload"] == "W2":
        return name
    if result["workload"] == "W1":
        return f"{name}/n:{result['n']}/threads:{result['threads']}"
    return f"{name}/threads:{result['threads']}"


# ---- Lumen ------------------------------------------------------------------------------------

def row_name(benchmark_name):
    """A lumen_bench name without the suffixes Google Benchmark adds: /iterations:N (a
    benchmark with a fixed step count, like the large GPT) and /real_time."""
    return re.sub(r"(/iterations:\d+)?(/real_time)?$", "", benchmark_name)


def lumen_benchmarks(lumen_bench):
    proc = subprocess.run([str(lumen_bench), "--benchmark_list_tests=true"], capture_output=True,
                          text=True, check=True)
    return {row_name(line.strip()) for line in proc.stdout.splitlines() if line.strip()}


def run_lumen(runner, lumen_bench, names, args):
    """Runs the named benchmarks in one process; returns {row name: summary}."""
    pattern = "^(" + "|".join(names) + ")(/iterations:[0-9]+)?(/real_time)?$"
    cmd = [str(lumen_bench), f"--benchmark_filter={pattern}", "--benchmark_format=json",
           f"--benchmark_repetitions={args.repetitions}", f"--benchmark_min_time={args.min_time}"]
    stdout = runner.run("lumen_" + names[0].split("/")[0], cmd, LUMEN_ENV)
    if not stdout:
        return {}
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError as e:
        log(f"  lumen_bench's output is not JSON ({e}): something else wrote to stdout")
        return {n: {"error": "invalid JSON output"} for n in names}
    runs = {}
    for b in report.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = row_name(b.get("run_name", b["name"]))
        runs.setdefault(name, []).append(b)
    results = {}
    for name, reps in runs.items():
        errors = [b.get("error_message", "error") for b in reps if b.get("error_occurred")]
        if errors:
            results[name] = {"error": errors[0]}
            continue
        to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[reps[0].get("time_unit", "ns")]
        times = [b["real_time"] * to_ms for b in reps]
        summary = {"median_ms": statistics.median(times), "min_ms": min(times),
                   "repetitions": len(reps), "iterations": reps[0]["iterations"]}
        for counter in ("us_per_op", "GFLOPS", "loss_first", "loss_last", "cache_hits_per_step"):
            if counter in reps[0]:
                summary[counter] = statistics.median(b[counter] for b in reps)
        if "os_allocations" in reps[0]:
            summary["os_allocations"] = max(b["os_allocations"] for b in reps)
        results[name] = summary
    return results


# ---- helpers compiled here --------------------------------------------------------------------

def compile_once(source, binary, flags, libs, dry_run=False):
    """g++ source -> binary unless binary is newer than source. Returns the path or None."""
    if dry_run or (binary.exists() and binary.stat().st_mtime > source.stat().st_mtime):
        return binary
    cxx = shutil.which("g++")
    if cxx is None:
        log(f"  no g++: skipping {source.name}")
        return None
    cmd = [cxx, "-O2", *flags, str(source), "-o", str(binary), *libs]
    log(f"$ {' '.join(cmd)}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"  could not compile {source.name}:\n{proc.stderr[-2000:]}")
        return None
    return binary


def openblas_program(work_dir, dry_run):
    inc = "/usr/include/x86_64-linux-gnu/openblas-pthread"
    flags = ["-std=c++20", "-march=native"] + (["-I" + inc] if Path(inc).is_dir() else [])
    return compile_once(ROOT / "bench" / "openblas" / "w1_sgemm.cpp", work_dir / "w1_sgemm_openblas",
                        flags, ["-lopenblas"], dry_run)


def libtorch_program(work_dir, dry_run):
    inc = Path("/usr/include/torch/csrc/api/include")
    if not inc.is_dir():
        log("  libtorch-dev is not installed: no libtorch C++ column for W2")
        return None
    return compile_once(PYTORCH_DIR / "w2_op_chain_libtorch.cpp", work_dir / "w2_op_chain_libtorch",
                        ["-std=c++17", f"-I{inc}"], ["-ltorch", "-ltorch_cpu", "-lc10"], dry_run)


# ---- the table --------------------------------------------------------------------------------

def fmt(x, digits=3):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}g}" if x < 1 else f"{x:.2f}"


def metric(workload, row, result):
    """The number shown for a result: GFLOP/s for W1, us/op for W2, ms otherwise."""
    if result is None or "error" in result:
        return None
    if workload == "W1":
        n = int(row.split("/n:")[1].split("/")[0])
        return 2.0 * n ** 3 / (result["median_ms"] * 1e-3) / 1e9
    if workload == "W2":
        return result["median_ms"] * 1e3 / 1000  # 1000 ops per chain
    return result["median_ms"]


def speed_ratio(lumen, other):
    """other's time / Lumen's time: above 1 Lumen is faster."""
    if lumen is None or other is None or "error" in lumen or "error" in other:
        return None
    return other["median_ms"] / lumen["median_ms"]


def verdict(workload, row, lumen, ratios):
    if lumen is None:
        return "not yet"
    if "error" in lumen:
        return "error"
    checks = []
    if workload == "W1":
        n = int(row.split("/n:")[1].split("/")[0])
        if n >= 256 and ratios["openblas"] is not None:
            checks.append(ratios["openblas"] >= W1_TARGET)
    elif workload == "W2":
        if row == "W2_OpChain_ForwardBackward":
            checks.append(lumen["median_ms"] <= W2_TARGET_US)  # ms per 1000 ops = us per op
    elif ratios["tuned"] is not None:
        checks.append(ratios["tuned"] >= 1.0)
    if lumen.get("os_allocations", 0) > 0:
        checks.append(False)
    if not checks:
        return ""
    return "met" if all(checks) else "**missed**"


def make_table(selected, threads, lumen, pytorch, openblas, libtorch):
    lines = []
    head = ("| benchmark | unit | Lumen | PyTorch tuned | PyTorch fastest | OpenBLAS / libtorch "
            "| vs tuned | vs fastest | vs OpenBLAS / libtorch | os_allocations | target |")
    lines.append(head)
    lines.append("|" + "---|" * (head.count("|") - 1))
    for w in selected:
        spec = WORKLOADS[w]
        ts = threads if spec["per_thread"] else [1]
        for t in ts:
            for pattern in spec["rows"]:
                row = pattern.format(t=t)
                lu = lumen.get(row)
                tu = pytorch["tuned"].get(row)
                fa = pytorch["fastest"].get(row)
                third = openblas.get(row) if w == "W1" else libtorch.get(row) if w == "W2" else None
                ratios = {"tuned": speed_ratio(lu, tu), "fastest": speed_ratio(lu, fa),
                          "openblas": speed_ratio(lu, third)}
                if lu is None:
                    lumen_cell = "not yet"
                elif "error" in lu:
                    lumen_cell = f"error: {lu['error']}"
                else:
                    lumen_cell = fmt(metric(w, row, lu))
                alloc = "-" if lu is None or "os_allocations" not in lu else f"{lu['os_allocations']:.0f}"
                x = lambda r: "-" if r is None else f"{r:.2f}x"
                lines.append(
                    f"| {row} | {spec['unit']} | {lumen_cell} | {fmt(metric(w, row, tu))} | "
                    f"{fmt(metric(w, row, fa))} | {fmt(metric(w, row, third))} | {x(ratios['tuned'])} | "
                    f"{x(ratios['fastest'])} | {x(ratios['openblas'])} | {alloc} | "
                    f"{verdict(w, row, lu, ratios)} |")
    return "\n".join(lines)


def machine_summary():
    """lscpu's model, family and model number (a "Model name" of "AMD EPYC" alone does not say
    which generation: family 25 is Zen 3/4, 26 is Zen 5, and their AVX-512 speeds differ 2x)."""
    facts = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            facts[key.strip()] = value.strip()
    except OSError:
        pass
    return (f"{facts.get('Model name', '?')} (family {facts.get('CPU family', '?')}, model "
            f"{facts.get('Model', '?')}), {os.cpu_count()} CPUs, L1d {facts.get('L1d cache', '?')}, "
            f"L2 {facts.get('L2 cache', '?')}, {platform.system()} {platform.release()}")


# ---- main -------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6", help="comma-separated, e.g. W1,W2,W3")
    parser.add_argument("--threads", default="1,2", help="thread counts for the per-thread workloads")
    parser.add_argument("--lumen-bench", type=Path, default=ROOT / "build" / "bench" / "lumen_bench")
    parser.add_argument("--repetitions", type=int, default=10, help="Lumen's repetitions (its samples)")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per Lumen repetition")
    parser.add_argument("--samples", type=int, default=None,
                        help="timed samples per PyTorch/OpenBLAS configuration (default: the reference's)")
    parser.add_argument("--quick", action="store_true",
                        help="5 repetitions of 0.2 s and 10 samples: a rough table in less time")
    parser.add_argument("--skip-pytorch", action="store_true", help="Lumen (and OpenBLAS) only")
    parser.add_argument("--nice", type=int, default=None,
                        help="scheduling priority for the run: every command runs under `nice -n N`, "
                             "and with Linux's autogroup scheduling (where plain nice does not count "
                             "against other terminal sessions) this session's group gets nice N too "
                             "until the end. A negative N needs root; it steadies the numbers on a "
                             "machine others are using")
    parser.add_argument("--work-dir", type=Path, default=None, help="raw logs and compiled helpers")
    parser.add_argument("--json", type=Path, default=None, help="also save every result as JSON here")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.min_time = 5, 0.2
        args.samples = args.samples or 10

    selected = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    for w in selected:
        if w not in WORKLOADS:
            parser.error(f"unknown workload {w} (choose from {', '.join(WORKLOADS)})")
    threads = [int(t) for t in args.threads.split(",")]
    if not args.lumen_bench.exists():
        parser.error(f"{args.lumen_bench} does not exist: build it first (cmake --build build "
                     f"--target lumen_bench) or pass --lumen-bench")
    work_dir = args.work_dir or args.lumen_bench.parent / "compare"
    work_dir.mkdir(parents=True, exist_ok=True)
    if not Path(PYTHON).exists():
        parser.error(f"{PYTHON} not found (the PyTorch programs need Debian's python3-torch)")

    runner = Runner(work_dir, args.nice, args.dry_run)
    old_group_nice = set_autogroup_nice(args.nice) if args.nice is not None and not args.dry_run else None
    try:
        run_all(args, selected, threads, work_dir, runner)
    finally:
        if old_group_nice is not None:
            set_autogroup_nice(old_group_nice)


def set_autogroup_nice(value):
    """Sets this session's autogroup nice value (see --nice); returns the old one, or None."""
    path = Path("/proc/self/autogroup")
    try:
        old = int(path.read_text().split("nice")[1])
        path.write_text(str(value))
        return old
    except (OSError, IndexError, ValueError) as e:
        log(f"  could not set the autogroup's nice value ({e}); plain nice only")
        return None


def run_all(args, selected, threads, work_dir, runner):
    available = lumen_benchmarks(args.lumen_bench)
    sample_env = {"set": {"BENCH_SAMPLES": str(args.samples)}, "unset": []} if args.samples else None

    def with_samples(mode_env):
        if sample_env is None:
            return mode_env
        return {"set": {**mode_env["set"], **sample_env["set"]}, "unset": mode_env["unset"]}

    lumen, openblas, libtorch = {}, {}, {}
    pytorch = {"tuned": {}, "fastest": {}}
    started = time.time()
    for w in selected:
        spec = WORKLOADS[w]
        ts = threads if spec["per_thread"] else [1]
        rows = [p.format(t=t) for t in ts for p in spec["rows"]]
        present = [r for r in rows if r in available]
        missing = [r for r in rows if r not in available]
        if missing:
            log(f"{w}: not in lumen_bench yet: {', '.join(missing)}")
        if present:
            lumen.update(run_lumen(runner, args.lumen_bench, present, args))
        if spec.get("openblas"):
            program = openblas_program(work_dir, args.dry_run)
            for t in ts:
                if program:
                    cmd = [str(program), str(t)] + ([str(args.samples)] if args.samples else [])
                    for r in result_lines(runner.run(f"openblas_w1_t{t}", cmd, AVX512_BLAS)):
                        openblas[key_of(r)] = r
        if args.skip_pytorch:
            continue
        if spec.get("libtorch"):
            program = libtorch_program(work_dir, args.dry_run)
            if program:
                cmd = [str(program)] + ([str(args.samples)] if args.samples else [])
                for r in result_lines(runner.run("libtorch_w2", cmd, MODES["tuned"])):
                    libtorch[key_of(r)] = r
        for t in ts:
            for script in spec["pytorch"]:
                for mode, env_change in MODES.items():
                    cmd = [PYTHON, str(PYTORCH_DIR / script[0])] + [a.format(t=t) for a in script[1:]]
                    label = f"pytorch_{mode}_{Path(script[0]).stem}_{'_'.join(script[1:]).format(t=t)}"
                    for r in result_lines(runner.run(label, cmd, with_samples(env_change), cwd=PYTORCH_DIR)):
                        pytorch[mode][key_of(r)] = r
    if args.dry_run:
        return

    table = make_table(selected, threads, lumen, pytorch, openblas, libtorch)
    loads = [float(x) for _, b, a in runner.loads for x in (b, a) if x != "?"]
    print(f"Machine: {machine_summary()}")
    print(f"Run: {time.strftime('%Y-%m-%d %H:%M')}, {time.time() - started:.0f} s, "
          f"Lumen {args.repetitions} repetitions x {args.min_time} s, "
          f"PyTorch/OpenBLAS samples: {args.samples or 'as in the reference'}, "
          f"nice: {args.nice if args.nice is not None else 'no'}")
    if loads:
        print(f"Load average over the run: {min(loads):.2f} to {max(loads):.2f} "
              f"(above ~{os.cpu_count()}, other programs were competing for the cores)")
    print()
    print("Lumen, PyTorch and OpenBLAS columns: median; W1 in GFLOP/s (higher is better), "
          "W2 in us per op, W3-W6 in ms per step or call (lower is better).")
    print("vs X = X's time / Lumen's time (above 1: Lumen is faster). "
          "OpenBLAS = cblas_sgemm with its AVX-512 kernels; libtorch = the W2 chain in C++.")
    print()
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"lumen": lumen, "pytorch": pytorch, "openblas": openblas,
                                         "libtorch": libtorch, "loads": runner.loads}, indent=1))


if __name__ == "__main__":
    main()
