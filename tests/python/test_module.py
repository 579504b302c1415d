"""The Python package (python/specdyn): same results as the command line, same validation, progress,
interrupt. Run by ctest with PYTHONPATH at the build's assembled package (tests/CMakeLists.txt)."""
import json
import os
import random
import signal
import subprocess
import threading

import numpy as np
import pytest

import specdyn

SMALL = dict(width=96, dim=8, samples=8, test_samples=4, steps=12, spectra_every=6)


def test_models_and_rules():
    names = specdyn.models()
    assert "mlp3_tanh" in names and "deep_linear3" in names and "resnet_tanh" in names
    rules = specdyn.rules()
    assert rules["mup"][0] == "feature_learning"
    assert rules["ntk"][0] == "kernel"
    assert rules["depth_mup"][1] == "feature_learning"


def test_train_is_the_command_line_bit_for_bit(tmp_path):
    r = specdyn.train("mlp3_tanh", seed=3, **SMALL)
    assert r["status"] == "completed"
    loss = r["train_loss"]
    assert isinstance(loss, np.ndarray) and loss.shape == (SMALL["steps"] + 1,)
    assert loss[-1] < loss[0]  # gradient descent on a small task lowers the training loss
    # the same flags through the program itself
    flags = []
    for k, v in dict(SMALL, seed=3).items():
        flags += ["--" + k.replace("_", "-"), str(v)]
    subprocess.run([specdyn.binary(), "train", "--model", "mlp3_tanh", "--out", str(tmp_path), "--quiet"] + flags, check=True)
    (path,) = [p for p in tmp_path.iterdir() if p.suffix == ".json"]
    ref = specdyn.load(str(path))
    for key in ("train_loss", "test_loss"):
        assert np.array_equal(r[key], ref[key], equal_nan=True), key
    with open(path) as f:
        raw = json.load(f)
    assert np.array_equal(loss, np.array(raw["train_loss"], dtype=float))


def test_out_keeps_the_record(tmp_path):
    r = specdyn.train("deep_linear3", out=tmp_path, **SMALL)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any(f.endswith(".json") for f in files)
    again = specdyn.load(r["_path"])
    assert np.array_equal(again["train_loss"], r["train_loss"])
    # a second run into the same directory returns its own record only
    r2 = specdyn.train("deep_linear3", out=tmp_path, seed=5, **SMALL)
    assert isinstance(r2, dict) and r2["_path"] != r["_path"]
    assert not np.array_equal(r2["train_loss"], r["train_loss"])


def test_weights_come_as_arrays():
    r = specdyn.train("mlp3_tanh", save_weights=True, **SMALL)
    w1 = r["weights"]["W1"]
    n = SMALL["width"]
    assert w1["initial"].shape == (n, n) and w1["final"].shape == (n, n)
    # the tracked spectrum is that of these matrices: the final top singular value agrees (two LAPACK
    # SVDs of the same matrix, ≈ 1e-15 apart; 1e-9 leaves room for the tracker's Krylov path)
    top = np.linalg.svd(w1["final"], compute_uv=False)[0]
    assert top == pytest.approx(r["spectra"]["W1"]["singular_values"][-1][0], rel=1e-9)
    assert not np.array_equal(w1["initial"], w1["final"])


def test_theory_and_equations():
    th = specdyn.theory("deep_linear3", dim=8, samples=8, test_samples=4, steps=6)
    assert th["train_loss"].shape == (7,)
    assert th["train_loss"][-1] < th["train_loss"][0]
    text = specdyn.equations("mlp3_tanh")
    assert "tanh" in text


@pytest.mark.parametrize("kwargs, words", [
    (dict(width=-3), "--width"),
    (dict(bogus=1), "--bogus"),
    (dict(lr=float("nan")), "--lr"),
    (dict(optimizer="rmsprop"), "--optimizer"),
    (dict(param="nope"), "nope"),
])
def test_bad_values_raise_value_error_and_write_nothing(tmp_path, kwargs, words):
    with pytest.raises(ValueError) as e:
        specdyn.train("mlp3_tanh", out=tmp_path, **dict(SMALL, **kwargs))
    assert words in str(e.value)
    assert "\n" not in str(e.value)  # the command line's one sentence
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_and_wrong_types():
    with pytest.raises(ValueError, match="unknown model"):
        specdyn.train("no_such_model", **SMALL)
    with pytest.raises(TypeError):
        specdyn.train("mlp3_tanh", width=object())
    with pytest.raises(TypeError):
        specdyn.train("mlp3_tanh", widths=[1, None])
    with pytest.raises(TypeError):
        specdyn.run(3)


def test_progress_callback():
    seen = []
    specdyn.train("mlp3_tanh", progress=lambda done, total, loss: seen.append((done, total, loss)), **dict(SMALL, steps=30))
    assert seen, "no progress reported"
    assert all(t == 30 for _, t, _ in seen)
    assert seen[-1][0] == 30
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert all(np.isfinite(l) for _, _, l in seen)


def test_missing_program_and_a_failing_callback(monkeypatch):
    with pytest.warns(RuntimeWarning, match="progress callback raised"):
        r = specdyn.train("mlp3_tanh", progress=lambda d, t, l: 1 / 0, **SMALL)
    assert r["status"] == "completed"
    monkeypatch.setenv("SPECDYN_BINARY", "/nonexistent/specdyn")
    with pytest.raises(RuntimeError, match="SPECDYN_BINARY"):
        specdyn.train("mlp3_tanh", **SMALL)


def test_keyboard_interrupt_returns_the_partial_record():
    # a run far longer than the timer; SIGINT to this process raises KeyboardInterrupt in the call,
    # which stops the child at its next step: the partial record comes back, marked interrupted
    steps = 200000
    started = threading.Event()

    def progress(done, total, loss):
        started.set()

    def interrupt():
        started.wait(30)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    r = specdyn.train("mlp3_tanh", progress=progress, width=64, dim=8, samples=8, test_samples=4, steps=steps, spectra_every=0,
                      hessian_every=0, ntk_every=0)
    assert r["status"] == "interrupted"
    assert 1 <= len(r["train_loss"]) < steps + 1


def test_fuzz_bad_calls_never_crash_the_interpreter():
    # random wrong values for real flags: each call raises ValueError or TypeError, or (where a value
    # happens to be valid) returns a record; the interpreter survives all of them
    rng = random.Random(7)
    flags = ["width", "dim", "samples", "steps", "lr", "gamma0", "sigma", "batch", "optimizer", "param", "task", "loss",
             "momentum", "beta1", "eps", "depth", "seed", "top_k", "spectra_every"]
    bad = [-1, 0, -0.5, "x", "", "1e999", "nan", "-inf", "3,4", " ", "0x10", 10**30, 1.5, "mup;rm", "../../etc"]
    outcomes = {"value": 0, "type": 0, "ok": 0}
    for _ in range(120):
        kw = dict(width=32, dim=4, samples=4, test_samples=2, steps=2, spectra_every=0, hessian_every=0)
        kw[rng.choice(flags)] = rng.choice(bad)
        try:
            r = specdyn.train("mlp3_tanh", **kw)
            assert r["status"] in ("completed", "diverged")
            outcomes["ok"] += 1
        except ValueError as e:
            assert str(e) and "\n" not in str(e)
            outcomes["value"] += 1
        except TypeError:
            outcomes["type"] += 1
    assert outcomes["value"] > 60
