#!/usr/bin/env python3
"""Check that a Linear layer's weights move between Lumen and PyTorch.

Lumen side (writes weight, bias, an input x and Lumen's output y = Linear(x)):
    build/tests/lumen_tests "[pytorch]"            # prints the file it wrote

This script reads that file with plain Python (struct + json, no numpy), recomputes
y = x W^T + b, and, when torch is installed, runs torch.nn.Linear with the same weights. Both must
agree with Lumen's y. With --write it also saves a PyTorch-made Linear (weights, x, y) in the
safetensors layout, for the other direction:
    python3 scripts/check_pytorch_weights.py /tmp/lumen_linear.safetensors --write /tmp/torch_linear.safetensors
    LUMEN_TORCH_FILE=/tmp/torch_linear.safetensors build/tests/lumen_tests "[pytorch]"

Exit code 0 when everything agrees, 1 when a check fails, 2 for an unreadable file.
"""
import argparse
import json
import math
import random
import struct
import sys

FORMATS = {"F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8)}


def read_safetensors(path):
    """Returns {name: (dtype, shape, flat list of values)} using only the standard library."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in FORMATS:
            raise ValueError(f"{path}: tensor {name!r} has dtype {dtype}, this script reads F32, F64, I64")
        code, size = FORMATS[dtype]
        count = math.prod(shape)
        if end - begin != count * size or end > len(data):
            raise ValueError(f"{path}: tensor {name!r}: offsets [{begin}, {end}] do not fit shape {shape}")
        tensors[name] = (dtype, shape, list(struct.unpack(f"<{count}{code}", data[begin:end])))
    return tensors


def write_safetensors(path, tensors):
    """Writes {name: (dtype, shape, flat values)} in the reference layout: compact JSON sorted by
    name, padded with spaces to a multiple of 8, then the data back to back."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, values = tensors[name]
        code, size = FORMATS[dtype]
        raw = struct.pack(f"<{len(values)}{code}", *values)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def linear(x, x_shape, w, w_shape, b):
    """y = x W^T + b for x [N, in], W [out, in], b [out], in double precision."""
    n, d_in = x_shape
    d_out = w_shape[0]
    return [sum(x[i * d_in + k] * w[j * d_in + k] for k in range(d_in)) + b[j] for i in range(n) for j in range(d_out)]


def max_diff(a, b):
    return max((abs(p - q) for p, q in zip(a, b)), default=0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lumen_file", help="safetensors file written by lumen_tests \"[pytorch]\"")
    ap.add_argument("--write", metavar="FILE", help="also write a PyTorch-made Linear for Lumen to check")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()

    try:
        t = read_safetensors(args.lumen_file)
        (_, w_shape, w), (_, _, b), (_, x_shape, x), (y_dtype, y_shape, y) = (
            t["weight"], t["bias"], t["x"], t["y"])
    except (OSError, ValueError, KeyError) as e:
        print(f"check_pytorch_weights: {e}", file=sys.stderr)
        return 2

    failed = False
    ref = linear(x, x_shape, w, w_shape, b)
    err = max_diff(ref, y)
    print(f"plain Python  x W^T + b vs Lumen Linear: max abs diff {err:.3e}")
    failed |= err > args.tol

    try:
        import torch
    except ImportError:
        torch = None
        print("torch not installed: skipped the torch.nn.Linear check")
    if torch is not None:
        dt = torch.float64 if y_dtype == "F64" else torch.float32
        layer = torch.nn.Linear(w_shape[1], w_shape[0]).to(dt)
        # The state_dict names and layouts are Lumen's: weight [out, in], bias [out].
        layer.load_state_dict({"weight": torch.tensor(w, dtype=dt).reshape(w_shape),
                               "bias": torch.tensor(b, dtype=dt)})
        with torch.no_grad():
            y_torch = layer(torch.tensor(x, dtype=dt).reshape(x_shape)).reshape(-1).tolist()
        err = max_diff(y_torch, y)
        print(f"torch.nn.Linear vs Lumen Linear: max abs diff {err:.3e}")
        failed |= err > args.tol

    if args.write:
        # A fresh layer with other weights, so Lumen cannot pass by reusing its own.
        rng = random.Random(7)
        d_out, d_in = w_shape
        w2 = [rng.uniform(-1, 1) for _ in range(d_out * d_in)]
        b2 = [rng.uniform(-1, 1) for _ in range(d_out)]
        x2 = [rng.uniform(-2, 2) for _ in range(x_shape[0] * d_in)]
        if torch is not None:
            layer = torch.nn.Linear(d_in, d_out).double()
            layer.load_state_dict({"weight": torch.tensor(w2, dtype=torch.float64).reshape(d_out, d_in),
                                   "bias": torch.tensor(b2, dtype=torch.float64)})
            with torch.no_grad():
                y2 = layer(torch.tensor(x2, dtype=torch.float64).reshape(x_shape[0], d_in)).reshape(-1).tolist()
        else:
            y2 = linear(x2, [x_shape[0], d_in], w2, w_shape, b2)
        write_safetensors(args.write, {"weight": ("F64", [d_out, d_in], w2), "bias": ("F64", [d_out], b2),
                                       "x": ("F64", [x_shape[0], d_in], x2), "y": ("F64", [x_shape[0], d_out], y2)})
        print(f"wrote {args.write} (F64 weight, bias, x, y from {'torch' if torch else 'plain Python'})")

    print("FAIL" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
