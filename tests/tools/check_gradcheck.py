#!/usr/bin/env python3
"""lumen gradcheck end to end: exit code 0, at least 40 distinct ops, and every f64 record of a
smooth op below 1e-6 in the scaled relative error, as the JSON contract says."""
import json
import subprocess
import sys

lumen, out = sys.argv[1], sys.argv[2]
proc = subprocess.run([lumen, "gradcheck", "--quiet", "--json", out], capture_output=True, text=True)
if proc.returncode != 0:
    sys.exit(f"lumen gradcheck exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
records = json.load(open(out))
ops = {r["op"] for r in records}
if len(ops) < 40:
    sys.exit(f"only {len(ops)} distinct ops checked")
for r in records:
    for key in ("op", "dtype", "max_abs_err", "max_rel_err", "passed"):
        if key not in r:
            sys.exit(f"record lacks {key}: {r}")
    if r["dtype"] != "f64" or not r["passed"] or r["max_rel_err"] >= 1e-6:
        sys.exit(f"bad record: {r}")
print(f"lumen gradcheck: {len(records)} records, {len(ops)} ops, all below 1e-6")
