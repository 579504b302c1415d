#!/usr/bin/env python3
"""Plots specdyn run records: finite-width runs, theory records, compare and outliers summaries.

usage: plot.py --out DIR RECORD.json [RECORD.json ...]

Writes into DIR:
  loss.png                  train (solid) and test (dashed) loss vs step; theory in black with its
                            Monte Carlo band
  eos.png                   (η/P)·λ_max(K) and η·λ_max(Hessian) vs step with GD's stability limit 2
                            (for cross-entropy only the Hessian criterion is drawn against it)
  outliers_<layer>.png      top singular values vs step with the bulk edge; theory records add the
                            predicted outliers (black) and the naive independent-spike BBP (grey dashed)
  spectrum_<layer>.png      histograms of the full spectrum at a few times with the initial bulk law
  bulk_<layer>.png          bulk distance from the initial law (KS, Wasserstein-1 / edge) and the
                            number of outliers vs step: outliers escape (few outputs) or the bulk moves
  compare_<model>_<rule>.png     (`specdyn compare`) loss curves vs theory, errors vs N with fitted slopes
  outliers_vs_gamma0_<layer>.png (`specdyn outliers`) where each outlier ends, vs γ0 (and vs σ, t),
  outliers_vs_sigma_<layer>.png  theory line, naive BBP dashed, finite widths as markers
  outliers_vs_t_<layer>.png
  mup_vs_ntk_<layer>.png         (`specdyn outliers --params mup,ntk`) top outlier vs step across widths
  sweep_lr_transfer.png          (`specdyn sweep`) final loss vs η per width, one panel per rule, theory dashed
  sweep_eta_star.png             optimal η* vs width with the fitted exponent per rule
  sweep_dynamics.png             top outlier of W1 and (η/P)λmax(K) vs step across widths near η*
                                 (a depth sweep draws these three at its deepest L)
  sweep_depth_lr.png             (`specdyn sweep --depths`) final loss vs η per depth L at the largest width
  sweep_depth_eta_star.png       η* vs L with the fitted exponent per rule and width
  sweep_depth_curves.png         loss curves across depth at each rule's η nearest its median η*
  proportional_ntk.png           (`specdyn proportional`) (η/P)·λmax(K) vs step: the theory's bulk edge and top
                                 eigenvalue (Lanczos in the closure) with the networks' λmax(K_T)
  many_outputs_bulk.png          (`specdyn many-outputs`) trained spectrum per κ at the largest width:
                                 histogram, initial law, independent-update (information-plus-noise) curve
  many_outputs_edge.png          top singular value, KS from the initial law and from the prediction vs N per κ
  coord_check_<model>_<rule>_<optimizer>.png  (`specdyn coord-check`) RMS change of each field from
                                 initialisation vs N (log-log), one line per step, one panel per field, with
                                 the fitted exponents; the verdict in the title
Records that disagree on the data (task, samples, seed, ...) are overlaid with a warning.
"""
import argparse
import math
import os
import warnings
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import specdyn_record  # noqa: E402

DATA_KEYS = ("dim", "samples", "test_samples", "outputs", "seed", "task", "teacher", "noise", "x", "y", "loss")
THEORY = dict(color="k", lw=1.6)
EOS_LINE = dict(color="tab:red", lw=1.0, ls=":")


def arr(v):
    if v is None:
        return np.array([])
    if isinstance(v, np.ndarray):
        return v.astype(float)
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def aligned(steps, values):
    """Steps and values cut to a common length (a failed run may stop between them)."""
    s, v = arr(steps), arr(values)
    n = min(len(s), len(v))
    return s[:n], v[:n]


def common(recs, key):
    vals = {str(r["config"].get(key)) for r in recs}
    return next(iter(vals)) if len(vals) == 1 else None


def title(recs, what):
    model = common(recs, "model") or "several models"
    bits = []
    for key, sym in (("gamma0", "γ0"), ("lr", "η"), ("samples", "P")):
        v = common(recs, key)
        bits.append(f"{sym}={v}" if v is not None else f"{sym} varies")
    return f"{model}: {what}\n({', '.join(bits)})"


def label(rec, recs):
    c = rec["config"]
    seeds = {r["config"].get("seed") for r in recs}
    tail = f" seed {c['seed']}" if len(seeds) > 1 else ""
    if rec.get("kind") == "theory":
        w = c.get("width")
        return f"{c['param']} theory (N={'∞' if w in (None, 'infinite') else w}){tail}"
    tasks = {(r["config"].get("task"), r["config"].get("outputs")) for r in recs}
    if len(tasks) > 1:  # e.g. few vs many outputs side by side
        tail = f" {c.get('task')} C={c.get('outputs')}" + tail
    return f"{c['param']} N={c['width']}{tail}"


def warn_mixed_data(recs):
    data = [r for r in recs if r.get("kind") in ("finite_width", "theory")]
    diffs = [k for k in DATA_KEYS if len({str(r["config"].get(k)) for r in data}) > 1]
    if diffs:
        print(f"plot.py: warning: the records differ in {', '.join(diffs)}: figures overlay different data or runs",
              file=sys.stderr)


def plot_loss(recs, out):
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for i, r in enumerate(recs):
        steps, train = aligned(r["steps"], r["train_loss"])
        if r.get("kind") == "theory":
            _, se = aligned(r["steps"], r.get("train_loss_stderr"))
            ax.plot(steps, train, ls="--", label=f"{label(r, recs)} train", **THEORY)
            if se.size and np.isfinite(se).any():
                ax.fill_between(steps, train - 2 * se, train + 2 * se, color="k", alpha=0.15, lw=0)
            s2, test = aligned(r["steps"], r.get("test_loss"))
            if test.size and np.isfinite(test).any():
                ax.plot(s2, test, ls=":", label=f"{label(r, recs)} test", **THEORY)
            continue
        ok = np.isfinite(train)  # mini-batch runs evaluate the full training loss every --eval-every steps
        ax.plot(steps[ok], train[ok], color=f"C{i % 10}", label=f"{label(r, recs)} train")
        s2, test = aligned(r["steps"], r.get("test_loss"))
        ok = np.isfinite(test)
        if ok.any():
            ax.plot(s2[ok], test[ok], "--", color=f"C{i % 10}", label=f"{label(r, recs)} test")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title(recs, "loss"), fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=120)
    plt.close(fig)


def plot_eos(recs, out):
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    any_data, xent = False, False
    for i, r in enumerate(recs):
        is_xent = r["config"].get("loss") == "xent"
        xent |= is_xent
        ntk = r.get("ntk", {})
        if len(ntk.get("steps", [])) and not is_xent:
            s, v = aligned(ntk["steps"], ntk.get("eos_ratio"))
            if r.get("kind") == "theory":
                ax.plot(s, v, ls="--", label=f"{label(r, recs)} (η/P)λmax(K)", **THEORY)
            else:
                ax.plot(s, v, "-o", ms=3, color=f"C{i % 10}", label=f"{label(r, recs)} (η/P)λmax(K)")
            any_data = True
        sh = r.get("sharpness", {})
        if len(sh.get("steps", [])):
            s, v = aligned(sh["steps"], sh.get("eta_times_hessian_top"))
            ax.plot(s, v, ":s", ms=3, color=f"C{i % 10}", label=f"{label(r, recs)} η·λmax(H)")
            any_data = True
    if not any_data:
        plt.close(fig)
        return
    ax.axhline(2.0, label="GD stability limit 2" + (" (η·λmax(H); the NTK ratio is MSE-only)" if xent else ""), **EOS_LINE)
    ax.set_xlabel("step")
    ax.set_ylabel("sharpness × η")
    ax.set_title(title(recs, "leading NTK mode and Hessian vs the edge of stability"), fontsize=10)
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


def ragged_top(rows, k=1):
    """[step] → top-k values (NaN padded) from a ragged list or a 2-D array."""
    out = np.full((len(rows), k), np.nan)
    for i, row in enumerate(rows):
        row = arr(row)
        out[i, :min(k, row.size)] = row[:k]
    return out


def plot_outliers(recs, out, layer):
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    drawn = False
    for i, r in enumerate(recs):
        s = r.get("spectra", {}).get(layer)
        if not s:
            continue
        pred = s.get("predicted")
        if pred and "outliers" in pred:  # theory: predicted outliers and the naive baseline
            steps = arr(pred["steps"])
            top = ragged_top(pred["outliers"], 3)
            for k in range(top.shape[1]):
                ax.plot(steps, top[:, k], "-", marker=".", label=f"{label(r, recs)}: two-level theory" if k == 0 else None,
                        alpha=1.0 if k == 0 else 0.5, **THEORY)
            naive = ragged_top(pred["naive_bbp"], 1)[:, 0]
            ax.plot(steps, naive, "--", color="0.5", lw=1.3, label=f"{label(r, recs)}: naive BBP (independent spikes)")
            ax.axhline(pred.get("bulk_edge", 2.0), color="k", lw=0.8, ls="-.")
            drawn = True
            continue
        if "singular_values" not in s:
            continue
        steps = arr(s["steps"])
        top = ragged_top(s["singular_values"], 4)[: len(steps)]
        steps = steps[: len(top)]
        for k in range(top.shape[1]):
            ax.plot(steps, top[:, k], lw=1.5 if k == 0 else 0.8, alpha=1.0 if k == 0 else 0.5, color=f"C{i % 10}",
                    label=f"{label(r, recs)} top-4 σ" if k == 0 else None)
        ax.axhline(s["bulk_edge"], ls="--", lw=1, color=f"C{i % 10}")
        drawn = True
    if not drawn:
        plt.close(fig)
        return
    ax.plot([], [], "k--", lw=1, label="bulk edge at init (per run); dash-dot: 2σ")
    ax.set_xlabel("step")
    ax.set_ylabel(f"singular values of {layer} (effective weight)")
    ax.set_title(title(recs, f"{layer}: outliers vs the bulk edge"), fontsize=10)
    ax.legend(fontsize=7)
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
    rho = np.where((lam > a) & (lam < b), np.sqrt(np.clip((b - lam) * (lam - a), 0, None)) /
                   (2 * math.pi * c * np.maximum(lam, 1e-300)), 0.0)
    return rho * 2 * s_grid / (e * e * big)


def plot_spectrum(recs, out, layer):
    with_layer = [r for r in recs if "singular_values" in r.get("spectra", {}).get(layer, {})]
    with_hist = [r for r in with_layer if r["spectra"][layer].get("histogram")]
    for r in with_layer:
        if not any(r is h for h in with_hist):
            print(f"plot.py: no spectrum_{layer}.png for {os.path.basename(r['_path'])}: it recorded only the top "
                  f"{r['config'].get('top_k')} singular values (--spectra-method krylov); use --spectra-method full", file=sys.stderr)
    if not with_hist:
        return
    fig, axes = plt.subplots(1, len(with_hist), figsize=(4.2 * len(with_hist), 3.8), squeeze=False)
    for ax, r in zip(axes[0], with_hist):
        s = r["spectra"][layer]
        h = s["histogram"]
        edges = arr(h["edges"])
        counts = h["counts"]
        steps = arr(s["steps"])
        n = min(len(steps), len(counts))
        total = min(s["shape"])
        picks = sorted(set([0, n // 2, n - 1] + ([n // 4] if n > 6 else [])))
        centres = 0.5 * (edges[1:] + edges[:-1])
        width = edges[1] - edges[0]
        for j, p in enumerate(picks):
            ax.step(centres, arr(counts[p]) / (total * width), where="mid", lw=1.2,
                    color=plt.cm.viridis(j / max(1, len(picks) - 1)), label=f"step {int(steps[p])}")
        grid = np.linspace(1e-6, edges[-1], 400)
        law = "quarter circle" if s["shape"][0] == s["shape"][1] else "Marchenko–Pastur"
        ax.plot(grid, bulk_density(grid, s["shape"], s["bulk_edge"]), "k--", lw=1, label=law)
        ax.axvline(s["bulk_edge"], color="r", lw=0.8, ls=":")
        for p in picks:
            for o in arr(s["outliers"][p]) if p < len(s["outliers"]) else []:
                ax.plot([o], [0], "rv", ms=6)
        ax.set_title(label(r, recs), fontsize=9)
        ax.set_xlabel("singular value")
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
    fig.suptitle(title(recs, f"{layer} spectrum (red ▼: outliers)"), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"spectrum_{layer}.png"), dpi=120)
    plt.close(fig)


def fit_text(fit):
    k = fit.get("exponent")
    if k is None:
        return "slope n/a"
    ci = fit.get("ci95", [None, None])
    return f"slope {k:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and ci[0] is not None else "")


def plot_compare(rec, out):
    c = rec["config"]
    if not rec.get("widths"):
        return
    widths = np.array([w["width"] for w in rec["widths"]], dtype=float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for i, w in enumerate(rec["widths"]):
        curves = w["train_loss"]
        for k, curve in enumerate(curves if isinstance(curves, list) else list(curves)):
            a1.plot(arr(curve), lw=0.8, alpha=0.7, color=f"C{i}", label=f"N={w['width']}" if k == 0 else None)
    a1.plot(arr(rec["theory_train_loss"]), "--", label="theory (N=∞)", **THEORY)
    a1.set_yscale("log")
    a1.set_xlabel("step")
    a1.set_ylabel("training loss")
    a1.legend(fontsize=8)
    a1.set_title(f"{c['model']} {c['param']}: finite width vs theory", fontsize=10)

    def mean_of(key, sub=None):
        return np.array([np.nanmean(arr(w[key] if sub is None else w[key][sub])) for w in rec["widths"]])

    slopes = []
    le = mean_of("loss_error")
    a2.loglog(widths, le, "-o", label=f"loss curve ({fit_text(rec['loss_fit'])})")
    slopes.append(rec["loss_fit"].get("exponent"))
    a2.loglog(widths, mean_of("ntk_top_error"), "-s", label=f"NTK λmax ({fit_text(rec['ntk_fit'])})")
    for name in rec["widths"][0].get("phi_cosine", {}):
        a2.loglog(widths, 1 - mean_of("phi_cosine", name), ":^", label=f"1 − cos Φ {name}")
    for name, o in rec.get("outliers", {}).items():
        a2.loglog(widths, mean_of("outlier_error", name), "-D", label=f"{name} top singular value ({fit_text(o['fit'])})")
    if np.isfinite(le[0]) and le[0] > 0:
        a2.loglog(widths, le[0] * (widths / widths[0]) ** -0.5, "k-", lw=0.8, label="∝ N^-1/2")
    if rec.get("theory_mc_error") is not None:
        a2.axhline(rec["theory_mc_error"], **EOS_LINE, label="theory Monte Carlo error (loss)")
    a2.set_xlabel("width N")
    a2.set_ylabel("error vs theory (mean over seeds)")
    a2.legend(fontsize=7)
    k = slopes[0]
    a2.set_title(f"error vs width: loss-curve slope {k:.2f}" if k is not None else "error vs width", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"compare_{c['model']}_{c['param']}.png"), dpi=120)
    plt.close(fig)


def plot_outlier_scan(rec, out):
    c = rec["config"]
    points = rec.get("points", [])
    if not points:
        return
    steps = arr(rec["steps"])
    layer_names = list(points[0]["layers"].keys())
    widths = sorted({p["width"] for p in points if p["width"] != "infinite"})

    def final(p, layer, key):
        return arr(p["layers"][layer][key])[-1]

    def measured_final(p, layer):
        m = p["layers"][layer]["measured_top"]
        vals = [arr(s)[-1] for s in m] if len(m) else []
        return (np.mean(vals), np.std(vals) / max(1, math.sqrt(len(vals)))) if vals else (np.nan, np.nan)

    for layer in layer_names:
        for axis, key, sym in (("gamma0", "gamma0", "γ0"), ("sigma", "sigma", "σ")):
            values = sorted({p[key] for p in points})
            if len(values) < 2:
                continue
            other = "sigma" if key == "gamma0" else "gamma0"
            fig, ax = plt.subplots(figsize=(6.8, 4.6))
            for pi, param in enumerate(dict.fromkeys(p["param"] for p in points)):
                fixed = sorted({p[other] for p in points if p["param"] == param})[0]
                sel = [p for p in points if p["param"] == param and p[other] == fixed]
                th = {}
                for p in sel:
                    th.setdefault(p[key], (final(p, layer, "predicted_top"), final(p, layer, "naive_bbp_top"), p["sigma"]))
                xs = sorted(th)
                ax.plot(xs, [th[x][0] for x in xs], "-", marker="o", color=f"C{pi}", label=f"{param}: two-level theory")
                ax.plot(xs, [th[x][1] for x in xs], "--", color=f"C{pi}", alpha=0.6, label=f"{param}: naive BBP")
                ax.plot(xs, [2 * th[x][2] for x in xs], ":", color="0.4", lw=0.8)
                for wi, w in enumerate(widths):
                    pts = sorted([p for p in sel if p["width"] == w], key=lambda p: p[key])
                    if not pts:
                        continue
                    m = [measured_final(p, layer) for p in pts]
                    ax.errorbar([p[key] for p in pts], [x[0] for x in m], yerr=[x[1] for x in m], fmt="s", ms=4,
                                color=f"C{pi}", alpha=0.4 + 0.6 * (wi + 1) / len(widths), label=f"{param}: N={w}")
            ax.set_xlabel(sym)
            ax.set_ylabel(f"top singular value of {layer} at step {int(steps[-1])}")
            ax.set_title(f"{c['model']}: {layer} outlier vs {sym} (dotted: bulk edge 2σ)\n(η={c['lr']}, T={c['steps']}, P={c['samples']})",
                         fontsize=10)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(os.path.join(out, f"outliers_vs_{axis}_{layer}.png"), dpi=120)
            plt.close(fig)
        # trajectories: one curve per (rule, γ0, σ) from theory, markers from the finite widths
        fig, ax = plt.subplots(figsize=(6.8, 4.6))
        seen = set()
        for i, p in enumerate(points):
            keyt = (p["param"], p["gamma0"], p["sigma"], p["width"] if p["param"] != "mup" else "inf")
            col = f"C{len(seen) % 10}" if keyt not in seen else None
            if keyt not in seen:
                seen.add(keyt)
                lab = f"{p['param']} γ0={p['gamma0']} σ={p['sigma']}" + (f" N={p['width']}" if keyt[3] != "inf" else "")
                ax.plot(steps, arr(p["layers"][layer]["predicted_top"]), "-", color=col, label=f"{lab} theory")
                esc = p["layers"][layer]["escape_step"]
                if esc is not None:
                    ax.axvline(esc, color=col, lw=0.6, ls=":")
            for s in p["layers"][layer]["measured_top"]:
                ax.plot(steps[: len(arr(s))], arr(s), "o", ms=3, alpha=0.5, color=col or "0.5")
        ax.set_xlabel("step (dotted: predicted escape)")
        ax.set_ylabel(f"top singular value of {layer}")
        ax.set_title(f"{c['model']}: {layer} outlier trajectories (markers: finite width)", fontsize=10)
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"outliers_vs_t_{layer}.png"), dpi=120)
        plt.close(fig)
        params = list(dict.fromkeys(p["param"] for p in points))
        if len(params) > 1 and widths:
            fig, axes = plt.subplots(1, len(params), figsize=(5.6 * len(params), 4.4), sharey=True, squeeze=False)
            for ax, param in zip(axes[0], params):
                g0 = sorted({p["gamma0"] for p in points})[0]
                for wi, w in enumerate(widths):
                    for p in points:
                        if p["param"] != param or p["width"] != w or p["gamma0"] != g0:
                            continue
                        col = plt.cm.viridis(wi / max(1, len(widths) - 1))
                        for k, s in enumerate(p["layers"][layer]["measured_top"]):
                            ax.plot(steps[: len(arr(s))], arr(s), "o-", ms=3, lw=0.8, color=col, label=f"N={w}" if k == 0 else None)
                        if param != "mup" or wi == 0:
                            ax.plot(steps, arr(p["layers"][layer]["predicted_top"]), "--", color=col if param != "mup" else "k", lw=1.4,
                                    label=("theory N=∞" if param == "mup" else f"theory N={w}"))
                ax.axhline(2 * sorted({p["sigma"] for p in points})[0], color="0.4", lw=0.8, ls=":")
                ax.set_title(f"{param}: {layer} top singular value (γ0={g0})", fontsize=10)
                ax.set_xlabel("step")
                ax.legend(fontsize=7)
            axes[0][0].set_ylabel("top singular value")
            fig.tight_layout()
            fig.savefig(os.path.join(out, f"mup_vs_ntk_{layer}.png"), dpi=120)
            plt.close(fig)


def lr_axes(ax, xlabel, title):
    """Log-log axes of a loss-vs-learning-rate panel."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


def plot_sweep_depth(rec, out):
    """A depth sweep (`specdyn sweep --depths`): loss vs η per depth, η* vs L, loss curves across depth."""
    c = rec["config"]
    depths = sorted(int(d) for d in c["depths"])
    curves = [cv for cv in rec.get("curves", []) if cv["width"] != "infinite"]
    points = [p for p in rec.get("points", []) if p["width"] != "infinite"]
    if not curves:
        return
    params = list(dict.fromkeys(cv["param"] for cv in curves))
    n_max = max(cv["width"] for cv in curves)
    col = lambda d: plt.cm.plasma(0.85 * depths.index(d) / max(1, len(depths) - 1))
    fig, axes = plt.subplots(1, len(params), figsize=(5.8 * len(params), 4.6), squeeze=False, sharey=True)
    for ax, param in zip(axes[0], params):
        for cv in curves:
            if cv["param"] != param or cv["width"] != n_max:
                continue
            etas, loss = arr(cv["lrs"]), arr(cv["final_train_loss"])
            div = arr(cv["diverged_seeds"]) > 0
            ok = np.isfinite(loss) & ~div
            ax.plot(etas[ok], loss[ok], "o-", color=col(cv["depth"]), ms=4, label=f"L={cv['depth']}")
            if div.any():
                top = np.nanmax(loss[ok]) * 3 if ok.any() else 1.0
                ax.plot(etas[div], np.full(div.sum(), top), "x", color=col(cv["depth"]), ms=7)
            if cv.get("eta_star") is not None and not cv.get("eta_star_at_grid_edge"):
                ax.axvline(cv["eta_star"], color=col(cv["depth"]), lw=0.7, ls=":")
        lr_axes(ax, "learning rate η (×: diverged; dotted: interpolated η*)", f"{param}, N={n_max}: final training loss vs η")
    axes[0][0].set_ylabel(f"training loss after {c['steps']} steps")
    fig.suptitle(f"{c['model']}: learning-rate transfer across depth (P={c['samples']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep_depth_lr.png"), dpi=120)
    plt.close(fig)
    fits = rec.get("eta_star_depth_fits", {})
    if fits:
        fig, ax = plt.subplots(figsize=(6.2, 4.4))
        for i, (key, fdat) in enumerate(fits.items()):
            k, ci = fdat.get("exponent"), arr(fdat.get("ci95", [np.nan, np.nan]))
            lab = key if k is None or not np.isfinite(k) else \
                f"{key}: η* ∝ L^{k:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if np.isfinite(ci).all() else "")
            ax.loglog(arr(fdat["depths"]), arr(fdat["eta_star"]), "o-", color=f"C{i}", label=lab)
        ax.set_xlabel("residual blocks L")
        ax.set_ylabel("optimal learning rate η*")
        ax.set_title(f"{c['model']}: η* vs depth (95% intervals)", fontsize=10)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "sweep_depth_eta_star.png"), dpi=120)
        plt.close(fig)
    fig, axes = plt.subplots(1, len(params), figsize=(5.8 * len(params), 4.2), squeeze=False, sharey=True)
    for ax, param in zip(axes[0], params):
        stars = [cv["eta_star"] for cv in curves if cv["param"] == param and cv["width"] == n_max and cv.get("eta_star") is not None]
        lrs = sorted({p["lr"] for p in points if p["param"] == param})
        if not lrs:
            continue
        target = np.median(stars) if stars else lrs[len(lrs) // 2]
        eta = min(lrs, key=lambda e: abs(math.log(e / target)))
        labelled = set()
        for p in points:
            if p["param"] != param or p["lr"] != eta or p["width"] != n_max or p["status"] != "completed" or not len(p["train_loss"]):
                continue
            lab = f"L={p['depth']}" if p["depth"] not in labelled else None
            labelled.add(p["depth"])
            loss = arr(p["train_loss"])
            ax.plot(np.arange(len(loss)), loss, "-", color=col(p["depth"]), lw=1.2, label=lab)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(f"{param}, N={n_max}, η = {eta:g}: training loss across depth", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axes[0][0].set_ylabel("training loss (one line per seed)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep_depth_curves.png"), dpi=120)
    plt.close(fig)


def plot_sweep(rec, out, scans=()):
    """scans: proportional_scan records of the same data (dim, samples) drawn as theory curves, one per width ratio."""
    if len(rec["config"].get("depths", [])):  # a depth sweep: the depth figures, and the width figures at the deepest L
        plot_sweep_depth(rec, out)
        deepest = int(max(rec["config"]["depths"]))
        rec = dict(rec, curves=[cv for cv in rec.get("curves", []) if cv.get("depth") == deepest],
                   points=[p for p in rec.get("points", []) if p.get("depth") == deepest])
    c = rec["config"]
    curves = rec.get("curves", [])
    if not curves:
        return
    params = list(dict.fromkeys(cv["param"] for cv in curves))
    widths = sorted({cv["width"] for cv in curves if cv["width"] != "infinite"})
    fig, axes = plt.subplots(1, len(params), figsize=(5.8 * len(params), 4.6), squeeze=False, sharey=True)
    for ax, param in zip(axes[0], params):
        for cv in curves:
            if cv["param"] != param:
                continue
            etas, loss = arr(cv["lrs"]), arr(cv["final_train_loss"])
            div = arr(cv["diverged_seeds"]) > 0
            if cv["width"] == "infinite":
                ax.plot(etas[~div], loss[~div], "k--", lw=1.6, label="theory (N=∞)")
                continue
            wi = widths.index(cv["width"])
            col = plt.cm.viridis(wi / max(1, len(widths) - 1))
            ok = np.isfinite(loss) & ~div
            ax.plot(etas[ok], loss[ok], "o-", color=col, ms=4, label=f"N={cv['width']}")
            if div.any():
                top = np.nanmax(loss[ok]) * 3 if ok.any() else 1.0
                ax.plot(etas[div], np.full(div.sum(), top), "x", color=col, ms=7)
            if cv.get("eta_star") is not None and not cv.get("eta_star_at_grid_edge"):
                ax.axvline(cv["eta_star"], color=col, lw=0.7, ls=":")
        for sc in scans:
            sc_c = sc["config"]
            if sc_c.get("dim") != c.get("dim") or abs(sc_c.get("alpha", 0) * sc_c["dim"] - c.get("samples", -1)) > 0.5:
                continue
            for cv in sc["curves"]:
                n = cv["nu"] * sc_c["dim"]
                if cv["param"] != param or not any(abs(n - w) < 0.5 for w in widths):
                    continue
                col = plt.cm.viridis(widths.index(int(round(n))) / max(1, len(widths) - 1))
                loss = arr(cv["final_train_loss"])
                ok = np.isfinite(loss)
                ax.plot(arr(sc_c["eta_over_p"])[ok] * c["samples"], loss[ok], "--", color=col, lw=1.0,
                        label="theory (proportional limit), dashed" if cv["nu"] == min(x["nu"] for x in sc["curves"]) else None)
        lr_axes(ax, "learning rate η (×: diverged; dotted: interpolated η*)", f"{param}: final training loss vs η")
    axes[0][0].set_ylabel(f"training loss after {c['steps']} steps")
    fig.suptitle(f"{c['model']}: learning-rate transfer across widths (P={c['samples']}, γ0 per rule as given)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep_lr_transfer.png"), dpi=120)
    plt.close(fig)
    fits = rec.get("eta_star_fits", {})
    if fits:
        fig, ax = plt.subplots(figsize=(6.2, 4.4))
        for i, (key, fdat) in enumerate(fits.items()):
            k = fdat.get("exponent")
            ax.loglog(arr(fdat["widths"]), arr(fdat["eta_star"]), "o-", color=f"C{i}",
                      label=f"{key}: η* ∝ N^{k:.2f}" if k is not None else key)
        ax.set_xlabel("width N")
        ax.set_ylabel("optimal learning rate η*")
        ax.set_title(f"{c['model']}: η* vs width", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "sweep_eta_star.png"), dpi=120)
        plt.close(fig)
    # dynamics across widths at the η closest to each rule's median η*; the top-singular-value row
    # only when the points recorded hidden-weight spectra (deep_linear2 has no hidden weight)
    points = rec.get("points", [])
    has_w1 = any(len(p.get("top_singular_W1", [])) for p in points)
    rows = 2 if has_w1 else 1
    fig, axes = plt.subplots(rows, len(params), figsize=(5.8 * len(params), 3.6 * rows), squeeze=False)
    eos_row = axes[rows - 1]
    for j, param in enumerate(params):
        stars = [cv["eta_star"] for cv in curves if cv["param"] == param and cv.get("eta_star") is not None]
        lrs = sorted({p["lr"] for p in points if p["param"] == param})
        if not lrs:
            continue
        target = np.median(stars) if stars else lrs[len(lrs) // 2]
        eta = min(lrs, key=lambda e: abs(math.log(e / target)))
        labelled = set()
        for p in points:
            if p["param"] != param or p["lr"] != eta or p["status"] != "completed":
                continue
            if p["width"] == "infinite":
                col, lab = "k", "theory (N=∞)"
            else:
                col = plt.cm.viridis(widths.index(p["width"]) / max(1, len(widths) - 1))
                lab = f"N={p['width']}"
            lab, _ = (lab if lab not in labelled else None), labelled.add(lab)  # one legend entry per width
            if has_w1 and len(p["top_singular_W1"]):
                axes[0][j].plot(arr(p["spectra_steps"])[: len(p["top_singular_W1"])], arr(p["top_singular_W1"]), "-", color=col, label=lab)
            if len(p["eos_ratio"]):
                eos_row[j].plot(arr(p["ntk_steps"])[: len(p["eos_ratio"])], arr(p["eos_ratio"]), "-", color=col, label=lab)
        if has_w1:
            axes[0][j].set_title(f"{param}, η = {eta:g}: top singular value of W1", fontsize=10)
        eos_row[j].set_title(f"{param}, η = {eta:g}: (η/P)·λmax(K), one line per seed", fontsize=10)
        eos_row[j].axhline(2.0, **EOS_LINE, label="edge of stability 2")
        for ax in axes[:, j]:
            ax.set_xlabel("step")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep_dynamics.png"), dpi=120)
    plt.close(fig)


def plot_proportional(rec, out):
    """Loss curves of the proportional theory against the seed-averaged networks at each D."""
    c, th = rec["config"], rec["theory"]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.4))
    dims = rec.get("dims", [])
    for ax, key, name in ((axes[0], "train_loss", "training"), (axes[1], "test_loss", "test")):
        ax.semilogy(arr(th[key]), "k-", lw=2, label="theory (D → ∞)")
        for i, d in enumerate(dims):
            curves = [arr(v) for v in d[key] if len(v)]
            if not curves:
                continue
            n = min(len(v) for v in curves)
            m = np.mean([v[:n] for v in curves], axis=0)
            col = plt.cm.viridis(i / max(1, len(dims) - 1))
            ax.semilogy(m, "o", color=col, ms=3, label=f"D={d['dim']} (mean of {len(curves)})")
        ax.set_xlabel("step")
        ax.set_ylabel(f"{name} loss")
        ax.legend(fontsize=7)
    fig.suptitle(f"{c['model']}, proportional limit: α={c['alpha']}, ν={c['nu']}, γ̃0={c['gamma0_tilde']}, "
                 f"η/P={c['eta_over_p']}, σ_ε={c['noise']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "proportional_loss.png"), dpi=120)
    plt.close(fig)
    plot_proportional_ntk(rec, out)
    spectra = rec.get("spectra", {})
    if not spectra:
        return
    fig, axes = plt.subplots(1, len(spectra), figsize=(5.8 * len(spectra), 4.4), squeeze=False)
    for ax, (name, sp) in zip(axes[0], spectra.items()):
        steps = arr(sp["steps"])
        outl = sp["predicted_outliers"]
        k = max((len(o) for o in outl), default=0)
        for j in range(min(k, 3)):
            ys = np.array([o[j] if len(o) > j else np.nan for o in outl])
            ax.plot(steps, ys, "k-", lw=1.8, label="theory: outliers (D → ∞)" if j == 0 else None)
        ax.axhline(sp["edge"], color="grey", ls="--", lw=1, label=f"bulk edge {sp['edge']:.3g}")
        nets = sp.get("networks", [])
        for i, d in enumerate(nets):
            tops = [arr(t) for t in d["measured_top"] if len(t)]
            if not tops:
                continue
            n = min(len(t) for t in tops)
            col = plt.cm.viridis(i / max(1, len(nets) - 1))
            ax.plot(steps[:n], np.mean([t[:n] for t in tops], axis=0), "o", color=col, ms=4, label=f"D={d['dim']}: top singular value")
        ax.set_xlabel("step")
        ax.set_ylabel(f"singular values of {name}/√N")
        ax.set_title(f"{name}: predicted outliers vs networks", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(f"{c['model']}, proportional limit: α={c['alpha']}, ν={c['nu']}, γ̃0={c['gamma0_tilde']}, η/P={c['eta_over_p']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "proportional_outliers.png"), dpi=120)
    plt.close(fig)
    plot_proportional_overlaps(rec, out)


def plot_proportional_ntk(rec, out):
    """(η/P)·λmax(K) vs step: the theory's bulk edge (every step), its top eigenvalue from Lanczos in the
    closure (outliers included; recorded steps) and the networks' λmax(K_T), mean ± se per D."""
    c, th = rec["config"], rec["theory"]
    eh = c["eta_over_p"]
    tops = th.get("ntk_top", [])
    if not tops and not len(th.get("ntk_edge", [])):
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(eh * arr(th["ntk_edge"]), "k--", lw=1.2, label="theory: bulk edge")
    if tops:
        ax.plot([t["step"] for t in tops], [eh * t["top"] if t["top"] is not None else np.nan for t in tops], "k-o", ms=4, lw=1.8,
                label="theory: λmax (Lanczos in the closure)")
    dims = [d for d in rec.get("dims", []) if "ntk" in d and len(d["ntk"].get("final_top", []))]
    for i, d in enumerate(dims):
        v = eh * arr(d["ntk"]["final_top"])
        se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
        col = plt.cm.viridis(i / max(1, len(dims) - 1))
        ax.errorbar(d["ntk"]["final_step"] + 0.25 * (i + 1), v.mean(), yerr=se, fmt="s", color=col, ms=5, capsize=3,
                    label=f"D={d['dim']}: networks (mean ± se of {len(v)})")
    ax.axhline(2.0, **EOS_LINE, label="edge of stability 2")
    ax.set_xlabel("step")
    ax.set_ylabel("(η/P)·λmax(K)")
    ax.set_title(f"{c['model']}: the NTK's top, α={c['alpha']}, ν={c['nu']}, γ̃0={c['gamma0_tilde']}, η/P={eh}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "proportional_ntk.png"), dpi=120)
    plt.close(fig)


def plot_proportional_overlaps(rec, out):
    """Squared overlaps of the top outlier's singular vectors vs step: theory lines, networks' means (points)."""
    c, spectra = rec["config"], rec.get("spectra", {})
    kinds = (("update_left", "left · update's left", "-"), ("update_right", "right · update's right", "--"),
             ("readout", "left · readout w", "-."), ("teacher", "right · teacher β*", ":"))
    with_overlaps = {n: sp for n, sp in spectra.items() if "predicted_overlap_update_left" in sp}
    if not with_overlaps:
        return
    fig, axes = plt.subplots(1, len(with_overlaps), figsize=(5.8 * len(with_overlaps), 4.4), squeeze=False)
    for ax, (name, sp) in zip(axes[0], with_overlaps.items()):
        steps = arr(sp["steps"])
        nets = sp.get("networks", [])
        for kind, label, ls in kinds:
            pred = sp.get(f"predicted_overlap_{kind}", [])
            ys = np.array([o[0] if len(o) else np.nan for o in pred])
            if not np.isfinite(ys).any():
                continue
            ax.plot(steps, ys, "k", ls=ls, lw=1.6, label=f"theory: {label}")
            for i, d in enumerate(nets):
                curves = [arr(m[kind]) for m in d.get("measured_overlaps", []) if len(m[kind]) == len(steps)]
                if not curves:
                    continue
                col = plt.cm.viridis(i / max(1, len(nets) - 1))
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # step 0 has no update yet: all NaN
                    mean = np.nanmean(curves, axis=0)
                ax.plot(steps, mean, "o", color=col, ms=3.5,
                        label=f"D={d['dim']}" if kind == "update_left" else None)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("step")
        ax.set_ylabel("squared overlap of the top singular vector")
        ax.set_title(f"{name}: singular vectors of the top outlier (theory where it exists)", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{c['model']}, proportional limit: α={c['alpha']}, ν={c['nu']}, γ̃0={c['gamma0_tilde']}, η/P={c['eta_over_p']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "proportional_overlaps.png"), dpi=120)
    plt.close(fig)


def plot_proportional_scan(rec, out):
    """Theory learning-rate transfer across width ratios ν, μP and NTK side by side."""
    c = rec["config"]
    etas = arr(c["eta_over_p"])
    params = list(dict.fromkeys(cv["param"] for cv in rec["curves"]))
    nus = sorted({cv["nu"] for cv in rec["curves"]})
    fig, axes = plt.subplots(1, len(params), figsize=(5.8 * len(params), 4.5), squeeze=False, sharey=True)
    for ax, param in zip(axes[0], params):
        for cv in rec["curves"]:
            if cv["param"] != param:
                continue
            col = plt.cm.viridis(nus.index(cv["nu"]) / max(1, len(nus) - 1))
            loss = arr(cv["final_train_loss"])
            ok = np.isfinite(loss)
            ax.plot(etas[ok], loss[ok], "-", color=col, label=f"ν={cv['nu']:g} (γ̃0={cv['gamma0_tilde']:.3g})")
            if cv.get("eta_star_over_p") is not None and not cv.get("eta_star_at_grid_edge"):
                ax.axvline(cv["eta_star_over_p"], color=col, lw=0.7, ls=":")
        fit = rec.get("eta_star_fits", {}).get(param)
        k = f", η* ∝ ν^{fit['exponent']:.2f}" if fit and fit.get("exponent") is not None else ""
        lr_axes(ax, "η/P (missing: diverged; dotted: η*)", f"{param}{k}")
    axes[0][0].set_ylabel(f"training loss after {c['steps']} steps (theory)")
    fig.suptitle(f"{c['model']} proportional theory at D={c['dim']}, α={c['alpha']}, γ0={c['gamma0']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "proportional_lr_transfer.png"), dpi=120)
    plt.close(fig)


def plot_bulk(recs, out, layer):
    with_ks = [r for r in recs if "bulk_ks" in r.get("spectra", {}).get(layer, {})]
    if not with_ks:
        return
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.9))
    top = 0.0
    for i, r in enumerate(with_ks):
        s = r["spectra"][layer]
        steps = arr(s["steps"])
        ks, w1 = arr(s["bulk_ks"]), arr(s["bulk_w1_over_edge"])
        counts = [len(o) for o in s["outliers"]] if isinstance(s.get("outliers"), list) else []
        n = min(len(steps), len(ks), len(w1))
        kw = dict(color=f"C{i % 10}", marker=".", label=label(r, with_ks))
        axes[0].plot(steps[:n], ks[:n], **kw)
        axes[1].plot(steps[:n], w1[:n], **kw)
        axes[2].plot(steps[: len(counts)], counts, **kw)
        # outlier fraction vs KS: each value above the edge moves the empirical CDF by 1/n, so a
        # spectrum whose only change is its outliers sits on the diagonal; above it the bulk moved
        m = min(n, len(counts))
        frac = np.array(counts[:m], dtype=float) / min(s["shape"])
        axes[3].plot(frac, ks[:m], **kw)
        top = max(top, float(np.nanmax(frac)) if m else 0.0, float(np.nanmax(ks[:m])) if m else 0.0)
    axes[3].plot([0, top], [0, top], color="0.5", ls="--", lw=1, label="outliers alone")
    axes[0].set_ylabel("KS distance from the initial law")
    axes[1].set_ylabel("Wasserstein-1 / bulk edge")
    axes[2].set_ylabel("number of outliers")
    for ax in axes[:3]:
        ax.set_xlabel("step")
    axes[3].set_xlabel("outliers / min(rows, cols)")
    axes[3].set_ylabel("KS distance (above the diagonal: the bulk moved)")
    axes[0].legend(fontsize=7)
    axes[3].legend(fontsize=7)
    fig.suptitle(title(with_ks, f"{layer}: does the bulk move, or do outliers escape?"), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"bulk_{layer}.png"), dpi=120)
    plt.close(fig)


def plot_many_outputs(rec, out):
    pts = [p for p in rec["points"] if "bulk" in p]
    if not pts:
        return
    kappas = sorted({p["kappa"] for p in pts})
    g0 = sorted({p["gamma0_tilde"] for p in pts})[0]
    nmax = max(p["width"] for p in pts)
    fig, axes = plt.subplots(1, len(kappas), figsize=(4 * len(kappas), 3.6), squeeze=False)
    for ax, k in zip(axes[0], kappas):
        sel = [p for p in pts if p["kappa"] == k and p["gamma0_tilde"] == g0 and p["width"] == nmax]
        if not sel:
            continue
        p = sel[0]
        h = p["histogram"]
        e = arr(h["edges"])
        centres = 0.5 * (e[1:] + e[:-1])
        ax.bar(centres, arr(h["density"]), width=e[1] - e[0], color="C0", alpha=0.5, label="trained")
        ax.plot(centres, arr(h["initial_law_density"]), color="grey", ls=":", label="initial law")
        ax.plot(arr(p["ipn_curve"]["s"]), arr(p["ipn_curve"]["density"]), color="k", lw=1.2, label="independent update (ipn)")
        b = p["bulk"]
        ax.set_title(f"κ = {k:g} (C = {p['outputs']}), N = {p['width']}\nKS init {b['ks_initial_law']:.3f}, KS ipn {b['ks_ipn']:.3f}, "
                     f"{b['outliers']} above edge", fontsize=8)
        ax.set_xlabel("singular value")
        ax.set_yscale("log")
        ax.set_ylim(1e-3, None)
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{rec['config']['model']}: weight {rec['config']['layer']} after {rec['config']['steps']} steps, γ̃0 = {g0:g}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "many_outputs_bulk.png"), dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for i, k in enumerate(kappas):
        sel = sorted([p for p in pts if p["kappa"] == k and p["gamma0_tilde"] == g0], key=lambda p: p["width"])
        n = [p["width"] for p in sel]
        kw = dict(color=f"C{i % 10}", marker="o", label=f"κ = {k:g}")
        axes[0].plot(n, [p["bulk"]["s_max"] for p in sel], **kw)
        axes[0].plot(n, [p["bulk"]["ipn_edge"] for p in sel], color=f"C{i % 10}", ls="--", marker="x")
        axes[1].plot(n, [p["bulk"]["ks_initial_law"] for p in sel], **kw)
        axes[2].plot(n, [p["bulk"]["ks_ipn"] for p in sel], **kw)
        axes[2].plot(n, [p["bulk"]["control_ks_ipn"] for p in sel], color=f"C{i % 10}", ls=":", marker=".")
    axes[0].set_ylabel("top singular value (dashed: ipn edge)")
    axes[1].set_ylabel("KS from the initial law")
    axes[2].set_ylabel("KS from the ipn prediction (dotted: control)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("width N")
    axes[1].set_yscale("log")
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "many_outputs_edge.png"), dpi=120)
    plt.close(fig)


def plot_coord_check(rec, out):
    fields = rec.get("fields", [])
    if not fields:
        return
    cfg = rec["config"]
    n = arr(rec["widths"])
    cols = min(len(fields), 4)
    rows = (len(fields) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False)
    for ax, f in zip(axes.flat, fields):
        change = np.array([[np.nan if v is None else v for v in row] for row in f["change"]], dtype=float)  # [width, step]
        steps = change.shape[1]
        for t in range(1, steps):
            k = f["change_exponent"][t]["k"]
            ax.plot(n, change[:, t], marker="o", ms=3, color=plt.cm.viridis(t / max(steps - 1, 1)),
                    label=f"t = {t}" + (f" (k = {k:.2f})" if k is not None else ""))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f["name"], fontsize=9)
        ax.set_xlabel("width N")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(fields):]:
        ax.axis("off")
    axes[0][0].set_ylabel("RMS of the change from t = 0")
    verdict = rec.get("verdict", "")
    fig.suptitle(f"coord check: {cfg['model']}, {cfg['param']}, {cfg.get('optimizer', {}).get('name', 'sgd') if isinstance(cfg.get('optimizer'), dict) else 'sgd'}, "
                 f"η = {cfg['lr']:g}\n{verdict[:140]}", fontsize=9)
    fig.tight_layout()
    opt = cfg["optimizer"]["name"] if isinstance(cfg.get("optimizer"), dict) else "sgd"
    fig.savefig(os.path.join(out, f"coord_check_{cfg['model']}_{cfg['param']}_{opt}.png"), dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("records", nargs="+")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    recs = [specdyn_record.load(p) for p in args.records]
    scans = [r for r in recs if r.get("kind") == "proportional_scan"]
    for r in recs:
        if r.get("kind") == "compare":
            plot_compare(r, args.out)
        elif r.get("kind") == "outliers":
            plot_outlier_scan(r, args.out)
        elif r.get("kind") == "sweep":
            plot_sweep(r, args.out, scans)
        elif r.get("kind") == "proportional":
            plot_proportional(r, args.out)
        elif r.get("kind") == "proportional_scan":
            plot_proportional_scan(r, args.out)
        elif r.get("kind") == "many_outputs":
            plot_many_outputs(r, args.out)
        elif r.get("kind") == "coord_check":
            plot_coord_check(r, args.out)
    recs = [r for r in recs if r.get("kind") in ("finite_width", "theory") and len(r.get("steps", []))]
    # stable order: theory first, then by task, width and seed (the shell's glob sorts N=1024 before N=512)
    recs.sort(key=lambda r: (r.get("kind") != "theory", str(r["config"].get("task")), r["config"].get("outputs") or 0,
                             r["config"].get("width") if isinstance(r["config"].get("width"), (int, float)) else 0,
                             r["config"].get("seed") or 0))
    if recs:
        warn_mixed_data(recs)
        plot_loss(recs, args.out)
        plot_eos(recs, args.out)
        for layer in layers(recs):
            plot_outliers(recs, args.out, layer)
            plot_spectrum(recs, args.out, layer)
            plot_bulk(recs, args.out, layer)
    print(f"plots written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
