#!/usr/bin/env python3
"""Runs the same commands with two specdyn binaries and checks that their records agree bit for bit.

    scripts/bitwise_check.py OLD_BINARY NEW_BINARY [OUT_DIR]

Every number, string and array in the records must be identical except what measures time or names
the output place (keys containing "seconds", "wall", "time", "out", "command_line", "path", "record").
Used to show that a redesign keeps existing results unchanged (docs/optimizers.md §5)."""
import json, os, subprocess, sys, filecmp

COMMON = ["--dim", "6", "--samples", "6", "--test-samples", "4", "--steps", "8", "--quiet", "--force"]
CASES = [
    ["theory", "--model", "mlp3_tanh", "--particles", "800", "--replicas", "2"],
    ["theory", "--model", "mlp3_relu", "--particles", "800", "--replicas", "2", "--batch", "3"],
    ["theory", "--model", "deep_linear3"],
    ["theory", "--model", "two_layer_linear", "--loss", "xent", "--task", "random", "--outputs", "3"],
    ["theory", "--model", "mlp4_tanh", "--particles", "600", "--replicas", "2", "--scheme", "alternating"],
    ["theory", "--model", "mlp3_tanh", "--param", "ntk"],
    ["theory", "--model", "mlp3_tanh", "--param", "ntk", "--width", "512", "--particles", "600", "--replicas", "2"],
    ["theory", "--model", "resnet_tanh", "--depth", "2", "--particles", "600", "--replicas", "2"],
    ["theory", "--model", "mlp3_bias", "--particles", "600", "--replicas", "2"],
    ["theory", "--model", "preln_resnet", "--depth", "2", "--particles", "600", "--replicas", "2"],
    ["theory", "--model", "resnet_linear", "--depth", "3", "--lr", "0.1"],
    ["train", "--model", "mlp3_tanh", "--width", "64"],
    ["train", "--model", "mlp3_tanh", "--width", "64", "--optimizer", "adam", "--lr", "0.05"],
    # widths where the narrow products (P ≤ 16 columns) take the streaming kernels of ad/blas.hpp
    ["train", "--model", "mlp3_relu", "--width", "1024"],
    ["train", "--model", "resnet_tanh", "--depth", "2", "--width", "512", "--optimizer", "momentum"],
    ["train", "--model", "deep_linear3", "--width", "768", "--batch", "3"],
]
SKIP = ("seconds", "wall", "time", "out", "command_line", "path", "record", "version", "build", "machine", "git")

def same(a, b, where, extra):
    """a == b exactly, over the keys of a (keys only b has are listed in extra: new outputs)."""
    if isinstance(a, dict):
        if not isinstance(b, dict):
            return False
        extra += [where + "." + k for k in b if k not in a]
        return all(k in b and same(a[k], b[k], where + "." + k, extra) for k in a if not any(s in k.lower() for s in SKIP))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y, where, extra) for x, y in zip(a, b))
    return a == b

def run(binary, args, out):
    os.makedirs(out, exist_ok=True)
    r = subprocess.run([binary] + args + COMMON + ["--out", out], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{binary} {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")

def main():
    old, new = sys.argv[1], sys.argv[2]
    base = sys.argv[3] if len(sys.argv) > 3 else "runs/bitwise_check"
    bad = 0
    for i, args in enumerate(CASES):
        d_old, d_new = f"{base}/{i}/old", f"{base}/{i}/new"
        run(old, args, d_old)
        run(new, args, d_new)
        files = sorted(os.listdir(d_old))
        ok, extra = True, []
        for f in files:
            a, b = os.path.join(d_old, f), os.path.join(d_new, f)
            if not os.path.exists(b):
                ok = False
            elif f.endswith(".json"):
                ok &= same(json.load(open(a)), json.load(open(b)), f, extra)
            elif os.path.isfile(a):
                ok &= filecmp.cmp(a, b, shallow=False)
        print(("same bits " if ok else "DIFFERENT ") + " ".join(args) + (f"   (new outputs: {', '.join(extra)})" if extra else ""))
        bad += not ok
    sys.exit(1 if bad else 0)

main()
