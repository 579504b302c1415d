#!/usr/bin/env python3
"""Plots specdyn run records (finite-width runs and, when present, theory records).

usage: plot.py --out DIR RECORD.json [RECORD.json ...]

Writes into DIR:
  loss.png                 train (solid) and test (dashed) loss vs step, every record
  eos.png                  (η/P)·λ_max(K) and η·λ_max(Hessian) vs step, with the stability line at 2
  outliers_<layer>.png     top singular values vs step with the bulk edge (dashed), every record
  spectrum_<layer>.png     histograms of the full spectrum at three or more times, with the
                           initial bulk law (quarter circle or Marchenko–Pastur) overlaid
  compare_<model>_<rule>.png  (for `specdyn compare` records) finite-width loss curves with the theory,
                           and each error against N on log-log axes with the N^-1/2 reference
Several records share each figure (e.g. widths or rules), labelled by rule and width; theory
records (`specdyn theory`) are drawn in black with their Monte Carlo error band.
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load(path):
    with open(path) as f:
        rec = json.load(f)
    rec["_dir"] = os.path.dirname(os.path.abspath(path))
    rec["_path"] = path
    return rec


def array(rec, value):
    """A record array: inline nested lists, or {"npy": file} next to the record."""
    if isinstance(value, dict) and "npy" in value:
        return np.load(os.path.join(rec["_dir"], value["npy"]))
    return value


def label(rec):
    c = rec["config"]
    if rec.get("kind") == "theory":
        return f"{c['param']} theory (N=∞)"
    return f"{c['param']} N={c['width']}"


def style(i):
    return dict(color=f"C{i % 10}")


def nums(xs):
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def plot_loss(recs, out):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, r in enumerate(recs):
        steps = np.array(r["steps"])
        if r.get("kind") == "theory":
            mean, se = nums(r["train_loss"]), nums(r.get("train_loss_stderr", [0] * len(steps)))
            ax.plot(steps, mean, "k--", lw=1.5, label=f"{label(r)} train")
            ax.fill_between(steps, mean - 2 * se, mean + 2 * se, color="k", alpha=0.15, lw=0)
            test = nums(r.get("test_loss", []))
            if test.size and np.isfinite(test).any():
                ax.plot(steps, test, "k:", lw=1.5, label=f"{label(r)} test")
            continue
        ax.plot(steps, nums(r["train_loss"]), label=f"{label(r)} train", **style(i))
        test = nums(r.get("test_loss", []))
        if test.size and np.isfinite(test).any():
            ok = np.isfinite(test)
            ax.plot(steps[ok], test[ok], "--", label=f"{label(r)} test", **style(i))
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title(recs, "loss"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=120)
    plt.close(fig)


def title(recs, what):
    c = recs[0]["config"]
    return f"{c['model']}: {what} (γ0={c['gamma0']}, η={c['lr']})"


def plot_eos(recs, out):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    any_data = False
    for i, r in enumerate(recs):
        ntk = r.get("ntk", {})
        if ntk.get("steps") and r.get("kind") == "theory":
            ax.plot(ntk["steps"], nums(ntk["eos_ratio"]), "k--", lw=1.5, label=f"{label(r)} (η/P)λmax(K)")
            any_data = True
        elif ntk.get("steps"):
            ax.plot(ntk["steps"], nums(ntk["eos_ratio"]), "-o", ms=3, label=f"{label(r)} (η/P)λmax(K)", **style(i))
            any_data = True
        sh = r.get("sharpness", {})
        if sh.get("steps"):
            ax.plot(sh["steps"], nums(sh["eta_times_hessian_top"]), ":s", ms=3, label=f"{label(r)} η·λmax(H)", **style(i))
            any_data = True
    if not any_data:
        plt.close(fig)
        return
    ax.axhline(2.0, color="k", lw=1, ls="--", label="edge of stability (2)")
    ax.set_xlabel("step")
    ax.set_ylabel("sharpness × η")
    ax.set_title(title(recs, "leading NTK mode and Hessian vs edge of stability"))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "eos.png"), dpi=120)
    plt.close(fig)


def layers(recs):
    names = []
    for r in recs:
        for k in r.get("spectra", {}):
            if k not in names:
                names.append(k)
    return names


def plot_outliers(recs, out, layer):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, r in enumerate(recs):
        s = r.get("spectra", {}).get(layer)
        if not s:
            continue
        steps = np.array(s["steps"])
        sv = array(r, s["singular_values"])
        top = np.array([np.array(row, dtype=float)[:4] for row in sv])
        for k in range(top.shape[1]):
            ax.plot(steps, top[:, k], lw=1.5 if k == 0 else 0.8, alpha=1.0 if k == 0 else 0.6,
                    label=f"{label(r)} top-4 σ" if k == 0 else None, **style(i))
        ax.axhline(s["bulk_edge"], ls="--", lw=1, **style(i))
    ax.plot([], [], "k--", lw=1, label="bulk edge at init")
    ax.set_xlabel("step")
    ax.set_ylabel(f"singular values of {layer} (effective weight)")
    ax.set_title(title(recs, f"{layer}: outliers vs the bulk edge"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"outliers_{layer}.png"), dpi=120)
    plt.close(fig)


def bulk_density(s_grid, shape, edge_hi):
    """Initial bulk law of singular values for an n×m matrix with i.i.d. entries."""
    n, m = shape
    small, big = min(n, m), max(n, m)
    e = edge_hi / (math.sqrt(big) + math.sqrt(small))  # entry std
    c = small / big
    lam = s_grid ** 2 / (e * e * big)
    a, b = (1 - math.sqrt(c)) ** 2, (1 + math.sqrt(c)) ** 2
    rho = np.where((lam > a) & (lam < b), np.sqrt(np.clip((b - lam) * (lam - a), 0, None)) / (2 * math.pi * c * np.maximum(lam, 1e-300)), 0.0)
    return rho * 2 * s_grid / (e * e * big)  # density of s, normalised over the `small` values


def plot_spectrum(recs, out, layer):
    with_hist = [r for r in recs if r.get("spectra", {}).get(layer, {}).get("histogram")]
    if not with_hist:
        return
    fig, axes = plt.subplots(1, len(with_hist), figsize=(4.2 * len(with_hist), 3.6), squeeze=False)
    for ax, r in zip(axes[0], with_hist):
        s = r["spectra"][layer]
        h = s["histogram"]
        edges = np.array(h["edges"])
        counts = array(r, h["counts"])
        steps = s["steps"]
        total = min(s["shape"])
        picks = sorted(set([0, len(steps) // 2, len(steps) - 1] + ([len(steps) // 4] if len(steps) > 6 else [])))
        centres = 0.5 * (edges[1:] + edges[:-1])
        width = edges[1] - edges[0]
        for j, p in enumerate(picks):
            dens = np.array(counts[p], dtype=float) / (total * width)
            ax.step(centres, dens, where="mid", lw=1.2, color=plt.cm.viridis(j / max(1, len(picks) - 1)),
                    label=f"step {steps[p]}")
        grid = np.linspace(1e-6, edges[-1], 400)
        law = "quarter circle" if s["shape"][0] == s["shape"][1] else "Marchenko–Pastur"
        ax.plot(grid, bulk_density(grid, s["shape"], s["bulk_edge"]), "k--", lw=1, label=law)
        ax.axvline(s["bulk_edge"], color="r", lw=0.8, ls=":")
        for p in picks:
            for o in s["outliers"][p] if isinstance(s["outliers"], list) else []:
                ax.plot([o], [0], "rv", ms=6)
        ax.set_title(f"{label(r)}", fontsize=9)
        ax.set_xlabel("singular value")
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
    fig.suptitle(title(recs, f"{layer} spectrum (red ▼: outliers)"), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"spectrum_{layer}.png"), dpi=120)
    plt.close(fig)


def plot_compare(rec, out):
    c = rec["config"]
    widths = [w["width"] for w in rec["widths"]]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, w in enumerate(rec["widths"]):
        for k, curve in enumerate(w["train_loss"]):
            a1.plot(nums(curve), lw=0.8, alpha=0.7, color=f"C{i}", label=f"N={w['width']}" if k == 0 else None)
    a1.plot(nums(rec["theory_train_loss"]), "k--", lw=1.8, label="theory (N=∞)")
    a1.set_yscale("log")
    a1.set_xlabel("step")
    a1.set_ylabel("training loss")
    a1.legend(fontsize=8)
    a1.set_title(f"{c['model']} {c['param']}: finite width vs theory")
    def mean_of(key, sub=None):
        vals = []
        for w in rec["widths"]:
            v = w[key] if sub is None else w[key][sub]
            vals.append(np.mean(nums(v)))
        return np.array(vals)
    x = np.array(widths, dtype=float)
    a2.loglog(x, mean_of("loss_error"), "-o", label=f"loss curve (slope {rec['loss_exponent']:.2f})")
    a2.loglog(x, mean_of("ntk_top_error"), "-s", label=f"NTK λmax (slope {rec['ntk_exponent']:.2f})")
    for name in rec["widths"][0].get("phi_cosine", {}):
        a2.loglog(x, 1 - mean_of("phi_cosine", name), ":^", label=f"1 − cos Φ {name}")
    ref = mean_of("loss_error")[0] * (x / x[0]) ** -0.5
    a2.loglog(x, ref, "k-", lw=0.8, label="∝ N^-1/2")
    a2.set_xlabel("width N")
    a2.set_ylabel("error vs theory (mean over seeds)")
    a2.legend(fontsize=7)
    a2.set_title("error falls with width")
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"compare_{c['model']}_{c['param']}.png"), dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("records", nargs="+")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    recs = [load(p) for p in args.records]
    for r in [r for r in recs if r.get("kind") == "compare"]:
        plot_compare(r, args.out)
    recs = [r for r in recs if r.get("kind") != "compare"]
    if not recs:
        print(f"plots written to {args.out}")
        return
    plot_loss(recs, args.out)
    plot_eos(recs, args.out)
    for layer in layers(recs):
        plot_outliers(recs, args.out, layer)
        plot_spectrum(recs, args.out, layer)
    print(f"plots written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
