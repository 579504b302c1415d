#!/usr/bin/env python3
"""μP outliers at two widths against the N = ∞ theory, from Python (docs/python.md).

mlp3_tanh on a single-index task at γ0 = 3, η = 0.4 (the README's demo setting, shorter): the top
singular value of the hidden weight W1 leaves the bulk edge 2σ; the theory predicts where it goes.
Run from the repository root after building:  PYTHONPATH=build/python python3 docs/examples/outliers_two_widths.py
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import specdyn

setting = dict(dim=16, samples=16, test_samples=0, gamma0=3.0, lr=0.4, steps=40, spectra_every=5)
runs = {n: specdyn.train("mlp3_tanh", width=n, **setting) for n in (256, 1024)}
theory = specdyn.theory("mlp3_tanh", particles=4000, replicas=2, **setting)

fig, ax = plt.subplots(figsize=(6, 4))
for n, r in runs.items():
    w1 = r["spectra"]["W1"]
    ax.plot(w1["steps"], w1["singular_values"][:, 0], "o-", ms=3, label=f"network N = {n}")
pred = theory["spectra"]["W1"]["predicted"]
top = [o[0] if len(o) else pred["bulk_edge"] for o in pred["outliers"]]
ax.plot(pred["steps"], top, "k-", lw=2, label="theory N = ∞ (top outlier)")
ax.axhline(pred["bulk_edge"], color="grey", ls=":", label="bulk edge 2σ")
ax.set_xlabel("step")
ax.set_ylabel("top singular value of W1/√N")
ax.legend()
fig.tight_layout()
out = sys.argv[1] if len(sys.argv) > 1 else "outliers_two_widths.png"
fig.savefig(out, dpi=120)
final = {n: r["spectra"]["W1"]["singular_values"][-1, 0] for n, r in runs.items()}
print(f"final top singular value: N = 256 {final[256]:.4f}, N = 1024 {final[1024]:.4f}, theory {top[-1]:.4f}; wrote {out}")
