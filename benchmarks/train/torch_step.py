#!/usr/bin/env python3
"""PyTorch eager reference for bench_step's many-output and optimizer steps (optional; needs python3-torch).

The same step as `bench_step --benchmark_filter=many`: mlp3_tanh (D -> N -> N -> C, tanh) in μP
form, float64, one mini-batch SGD step with softmax cross-entropy over C = 1000 outputs, batch 256,
D = 256: forward, autograd backward, in-place update of the three weights. Times are the median
of --reps steps after --warmup steps, on --threads intra-op threads (default: all cores, as
OpenBLAS uses them in bench_step).

    python3 benchmarks/train/torch_step.py            # N = 1024 and 2048
    build/benchmarks/bench_step --benchmark_filter=many

--optimizer adam|sgd|momentum: the step of bench_step's optim rows instead: mlp3_tanh in μP form,
D = 64, one scalar output, full batch of 64, squared loss, torch.optim's update (Adam with μP's
per-tensor rates as parameter groups), float64 and float32:

    python3 benchmarks/train/torch_step.py --optimizer adam --widths 256,1024,2048 --batch 64
    build/benchmarks/bench_step --benchmark_filter=optim/
"""
import argparse
import os
import statistics
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("torch_step.py: PyTorch is not installed (Debian: apt-get install python3-torch)")


def step_time(n, b, c, d, reps, warmup):
    g = torch.Generator().manual_seed(1)
    dt = torch.float64
    # μP reference form: effective weights s_l W_l with W ~ N(0, 1); s0 = 1/√D, s1 = 1/√N, s2 = 1/(γ0 N)
    w0 = torch.randn(n, d, generator=g, dtype=dt).requires_grad_()
    w1 = torch.randn(n, n, generator=g, dtype=dt).requires_grad_()
    w2 = torch.randn(c, n, generator=g, dtype=dt).requires_grad_()
    s0, s1, s2 = d ** -0.5, n ** -0.5, 1.0 / n
    lr = 0.05 * n  # raw rate η γ0² N, as the generated step's learning_rates()
    x_all = torch.randn(d, 4 * b, generator=g, dtype=dt)
    y_all = torch.randint(0, c, (4 * b,), generator=g)
    times = []
    for k in range(warmup + reps):
        cols = torch.arange(k * b, (k + 1) * b) % (4 * b)
        x, y = x_all[:, cols], y_all[cols]
        t0 = time.perf_counter()
        h1 = torch.tanh(s0 * (w0 @ x))
        h2 = torch.tanh(s1 * (w1 @ h1))
        f = s2 * (w2 @ h2)                       # [C, B]
        loss = torch.nn.functional.cross_entropy(f.t(), y)
        loss.backward()
        with torch.no_grad():
            for w in (w0, w1, w2):
                w.sub_(lr * w.grad)
                w.grad = None
        times.append(time.perf_counter() - t0)
    return statistics.median(times[warmup:])


def optim_step_time(n, b, d, kind, dt, reps, warmup):
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(n, d, generator=g, dtype=dt).requires_grad_()
    w1 = torch.randn(n, n, generator=g, dtype=dt).requires_grad_()
    w2 = torch.randn(1, n, generator=g, dtype=dt).requires_grad_()
    s0, s1, s2 = d ** -0.5, n ** -0.5, 1.0 / n
    x = torch.randn(d, b, generator=g, dtype=dt)
    y = torch.randn(1, b, generator=g, dtype=dt)
    eta = 0.05
    if kind == "adam":  # μP's Adam table on these scaled weights: the update of s_l W_l is η/fan_in-like
        groups = [{"params": [w0], "lr": eta / s0 / d ** 0.5}, {"params": [w1], "lr": eta / s1 / n},
                  {"params": [w2], "lr": eta / s2 / n}]
        opt = torch.optim.Adam(groups, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD([w0, w1, w2], lr=eta * n, momentum=0.9 if kind == "momentum" else 0.0)
    times = []
    for k in range(warmup + reps):
        t0 = time.perf_counter()
        h1 = torch.tanh(s0 * (w0 @ x))
        h2 = torch.tanh(s1 * (w1 @ h1))
        f = s2 * (w2 @ h2)
        loss = 0.5 * ((f - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[warmup:])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="1024,2048")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--outputs", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--optimizer", choices=["adam", "sgd", "momentum"], default=None,
                    help="time bench_step's optim step (mlp3_tanh, D = 64, one output) with this torch.optim update")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.optimizer:
        d = 64
        print(f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} threads; mlp3_tanh μP, D = {d}, "
              f"full batch {a.batch}, one output, squared loss, torch.optim {a.optimizer} step (foreach default)")
        print(f"{'N':>6} {'float64 ms':>11} {'float32 ms':>11}")
        for n in (int(v) for v in a.widths.split(",")):
            t64 = optim_step_time(n, a.batch, d, a.optimizer, torch.float64, a.reps, a.warmup)
            t32 = optim_step_time(n, a.batch, d, a.optimizer, torch.float32, a.reps, a.warmup)
            print(f"{n:>6} {1e3 * t64:>11.3f} {1e3 * t32:>11.3f}")
        return
    print(f"PyTorch {torch.__version__} eager, float64, {torch.get_num_threads()} threads; "
          f"mlp3_tanh, D = {a.dim}, batch {a.batch}, C = {a.outputs}, softmax cross-entropy SGD step")
    print(f"{'N':>6} {'ms/step':>10} {'samples/s':>10}")
    for n in (int(v) for v in a.widths.split(",")):
        t = step_time(n, a.batch, a.outputs, a.dim, a.reps, a.warmup)
        print(f"{n:>6} {1e3 * t:>10.1f} {a.batch / t:>10.0f}")


if __name__ == "__main__":
    main()
