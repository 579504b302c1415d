#!/usr/bin/env python3
"""Spectra of a hidden weight under Adam vs SGD (docs/optimizers.md §7).

Trains mlp3_tanh under μP with SGD and with Adam at several widths (specdyn train --save-weights),
then for the hidden weight W1 reports, at the last step: the outliers of W1(T) beyond the bulk
edge, the bulk's KS distance from the initial law, and the singular values of the update
ΔX = X(T) − X(0) (X = W1 as the spectra see it, bulk edge 2σ): its top values, its bulk (the
median and the 90th percentile singular value) and the share of |ΔX|_F² in the top 5.

    scripts/adam_spectra.py [--specdyn BIN] [--out DIR] [--widths 256,512,1024,2048] [--no-run]
"""
import argparse, glob, json, os, subprocess, sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import specdyn_record as sr  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--specdyn", default="build/models/specdyn")
ap.add_argument("--out", default="runs/optimizers/spectra")
ap.add_argument("--widths", default="256,512,1024,2048")
ap.add_argument("--samples", type=int, default=128)
ap.add_argument("--steps", type=int, default=200)
ap.add_argument("--adam-lr", default="0.035")
ap.add_argument("--theory", action="store_true", help="also solve the pairwise theory (Adam only) and compare ΔX's top singular values")
ap.add_argument("--particles", default="4000")
ap.add_argument("--no-run", action="store_true", help="only analyse existing records")
a = ap.parse_args()
widths = [int(w) for w in a.widths.split(",")]
RUNS = {"sgd": ["--optimizer", "sgd", "--lr", "1"], "adam": ["--optimizer", "adam", "--lr", a.adam_lr]}
if a.theory:
    RUNS.pop("sgd")
data = ["--model", "mlp3_tanh", "--param", "mup", "--dim", "16", "--samples", str(a.samples), "--test-samples", "0", "--steps", str(a.steps)]
common = data + ["--spectra-every", str(a.steps), "--ntk-every", "0", "--hessian-every", "0", "--save-weights", "--quiet", "--force"]
if not a.no_run:
    for name, args in RUNS.items():
        for n in widths:
            subprocess.run([a.specdyn, "train", *common, *args, "--width", str(n), "--out", f"{a.out}/{name}"], check=True)

if a.theory and not a.no_run:
    subprocess.run([a.specdyn, "theory", *data, *RUNS["adam"], "--particles", a.particles, "--replicas", "4", "--spectra-every", "0",
                    "--quiet", "--force", "--out", f"{a.out}/theory"], check=True)
rows = []
for name in RUNS:
    for n in widths:
        lr = RUNS[name][RUNS[name].index("--lr") + 1]
        rec = sr.load(glob.glob(f"{a.out}/{name}/*_N{n}_*_lr{lr}_*.json")[0])
        s = rec["spectra"]["W1"]
        x0, xt = rec["weights"]["W1"]["initial"], rec["weights"]["W1"]["final"]  # W_eff: entries σ/√N at t = 0
        sv_dx = np.linalg.svd(xt - x0, compute_uv=False)
        frob = np.sum(sv_dx ** 2)
        rows.append(dict(opt=name, N=n, loss=float(rec["train_loss"][-1]), outliers=len(s["outliers"][-1]),
                         top=float(s["singular_values"][-1][0]), ks=float(s["bulk_ks"][-1]) if "bulk_ks" in s else float("nan"),
                         dx=sv_dx[:4].round(3).tolist(), dx_med=float(np.median(sv_dx)), dx_p90=float(np.quantile(sv_dx, 0.9)),
                         top5=float(np.sum(sv_dx[:5] ** 2) / frob)))
for r in rows:
    print(f"{r['opt']:5s} N={r['N']:5d} loss {r['loss']:.2e} outliers {r['outliers']:2d} s1 {r['top']:.3f} bulk KS {r['ks']:.3f} | "
          f"ΔX: top {r['dx']} median {r['dx_med']:.4f} p90 {r['dx_p90']:.4f} top-5 share {r['top5']:.3f}")
if a.theory:
    th = sr.load(glob.glob(f"{a.out}/theory/*theory*.json")[0])["update_spectra"]["W1"]
    pred, se = th["top_singular_values"], th["stderr"]
    print("theory (N = ∞): ΔX top " + ", ".join(f"{p:.3f} ± {e:.3f}" for p, e in zip(pred[:4], se[:4])))
    for r in rows:
        r["theory_rel_err"] = [abs(m - p) / p for m, p in zip(r["dx"], pred)]
        print(f"  N={r['N']:5d}: |ΔX top − theory|/theory = " + ", ".join(f"{e:.3f}" for e in r["theory_rel_err"]))
    for k in range(3):
        e = [r["theory_rel_err"][k] for r in rows]
        if all(x > 0 for x in e):
            print(f"  s{k + 1}: error ∝ N^{np.polyfit(np.log([r['N'] for r in rows]), np.log(e), 1)[0]:.2f}")
json.dump(rows, open(f"{a.out}/summary.json", "w"), indent=1)
for name in RUNS:
    sel = [r for r in rows if r["opt"] == name]
    if len(sel) > 1:
        k = np.polyfit(np.log([r["N"] for r in sel]), np.log([r["dx_p90"] for r in sel]), 1)[0]
        print(f"{name}: ΔX bulk (90th percentile singular value) ∝ N^{k:.2f}")
