"""specdyn from Python: the compiled models' commands as functions returning their run records.

    import specdyn
    specdyn.models()                                   # ['two_layer_linear', ..., 'mlp3_widths']
    r = specdyn.train("mlp3_tanh", width=512, steps=20)
    r["train_loss"][-1]                                # numpy arrays throughout
    th = specdyn.theory("mlp3_tanh", particles=4000, replicas=2)
    print(specdyn.equations("mlp3_tanh"))

Every keyword is the command line's flag of the same name (``test_samples=8`` is ``--test-samples 8``;
``True`` gives a bare flag such as ``quiet``, ``centre=False`` gives ``--no-centre``; a list or tuple
is joined with commas, as in ``widths=[256, 512]``), with the command line's defaults and its
validation: a bad value raises ValueError carrying the command line's one sentence, and nothing is
written. The result is the run record (README, "Run records") with every array a numpy array; ``out=DIR``
also keeps the record (and its .npy files) there, otherwise it is read from a scratch directory that
is then removed.

Each call runs the compiled ``specdyn`` program of the build this package belongs to as a child
process, so a crash inside C++ cannot take the interpreter down, the interpreter's lock is free
while it computes, and results are those of the command line bit for bit. ``progress=f`` calls
``f(done, total, loss)`` as the run advances (e.g. a tqdm bar's update). Ctrl-C (KeyboardInterrupt)
stops the run at its next step; the partial record comes back with ``status == "interrupted"``.
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import warnings

from . import _record

__all__ = ["models", "rules", "train", "theory", "compare", "sweep", "outliers", "coord_check", "equations",
           "many_outputs", "run", "binary", "load"]

load = _record.load


def binary():
    """The specdyn executable: $SPECDYN_BINARY, else the one next to this package's build."""
    exe = os.environ.get("SPECDYN_BINARY")
    if not exe:
        try:
            from ._paths import SPECDYN_BINARY as exe  # written by CMake into the build's copy
        except ImportError:
            exe = "specdyn"
    return exe


def _flags(kwargs):
    args = []
    for key, value in kwargs.items():
        if not isinstance(key, str) or not key.replace("_", "").isalnum():
            raise TypeError(f"specdyn: keyword {key!r} is not a flag name")
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                args.append(flag)
            elif key == "centre":
                args.append("--no-centre")
            continue
        if isinstance(value, (list, tuple)):
            if not all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value):
                raise TypeError(f"specdyn: {key} = {value!r}: give numbers or words")
            value = ",".join(str(v) for v in value)
        elif not isinstance(value, (int, float, str, os.PathLike)):
            raise TypeError(f"specdyn: {key} = {value!r}: give a number, a word, a bool or a list of them")
        args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


def _raise_for(rc, stderr, argv):
    lines = [l for l in stderr.splitlines() if l.strip()]
    message = lines[-1] if lines else f"{' '.join(argv)} exited with {rc}"
    if rc == 2:
        raise ValueError(message)
    raise RuntimeError("\n".join(lines[-20:]) if lines else message)


def _child(argv, progress, env):
    """Runs argv; returns (rc, stdout, stderr, interrupted). Streams progress lines to progress()."""
    read_fd = write_fd = None
    if progress is not None:
        read_fd, write_fd = os.pipe()
        env = dict(env, SPECDYN_PROGRESS_FD=str(write_fd))
    try:
        # its own session: a terminal's Ctrl-C reaches Python only, which passes one SIGINT on (below);
        # the program ends itself if this process dies (it watches its parent)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                                pass_fds=(write_fd,) if write_fd is not None else (), start_new_session=True)
    except OSError as e:
        if read_fd is not None:
            os.close(read_fd)
        raise RuntimeError(f"specdyn: cannot run {argv[0]} ({e.strerror}): build it, or point SPECDYN_BINARY at a specdyn program") from None
    finally:
        if write_fd is not None:
            os.close(write_fd)
    reader, failed = None, []
    if read_fd is not None:
        def pump():
            with os.fdopen(read_fd, "r") as f:
                for line in f:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) == 4 and not failed:
                        try:
                            progress(int(parts[1]), int(parts[2]), float(parts[3]))
                        except Exception as e:  # the run goes on; the error is reported when it ends
                            failed.append(e)
        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
    interrupted = False
    while True:
        try:
            out, err = proc.communicate()
            break
        except KeyboardInterrupt:
            # the run stops at its next step and writes its partial record; a second Ctrl-C still reaches it
            interrupted = True
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
    if reader is not None:
        reader.join(timeout=5)
    if failed:
        warnings.warn(f"specdyn: the progress callback raised {failed[0]!r}; it was not called again, the run went on", RuntimeWarning)
    return proc.returncode, out, err, interrupted


def _records(target):
    """{path: mtime} of the records under target (a directory, or a .json path)."""
    if os.path.isfile(target):
        return {target: os.stat(target).st_mtime_ns}
    paths = {}
    for root, _, files in os.walk(target):
        for f in files:
            if f.endswith(".json"):
                p = os.path.join(root, f)
                paths[p] = os.stat(p).st_mtime_ns
    return paths


def run(command, model=None, out=None, progress=None, **kwargs):
    """Runs `specdyn COMMAND [--model MODEL] --out OUT --quiet FLAGS...` and returns its record: a dict
    for one record, else {file name: record}. The named functions below are this with their command."""
    if not isinstance(command, str) or not command:
        raise TypeError("specdyn: command must be a word such as 'train'")
    flags = _flags(kwargs)
    env = dict(os.environ)
    scratch = None
    if out is None:
        scratch = tempfile.TemporaryDirectory(prefix="specdyn_")
        target = scratch.name
    else:
        target = os.fspath(out)
    try:
        argv = [binary(), command]
        if model is not None:
            argv += ["--model", str(model)]
        argv += ["--out", target, "--quiet"] + flags
        before = _records(target) if os.path.exists(target) else {}
        rc, stdout, stderr, interrupted = _child(argv, progress, env)
        if rc == 2:  # bad input: the command line's sentence; it wrote nothing
            _raise_for(rc, stderr, argv)
        # this run's records: new files, or files it rewrote
        found = sorted(p for p, t in (_records(target) if os.path.exists(target) else {}).items() if before.get(p) != t)
        if not found:
            if interrupted:
                raise KeyboardInterrupt
            _raise_for(rc, stderr, argv)
        recs = {os.path.basename(p): _record.load(p) for p in found}
        # exit 1 with records is a verdict (coord-check's fail) unless a record says the run failed
        if rc not in (0, 3, 130, 143) and (rc != 1 or any(isinstance(r, dict) and r.get("status") == "failed" for r in recs.values())):
            _raise_for(rc, stderr, argv)
        for r in recs.values():
            if isinstance(r, dict):
                r.setdefault("_exit_code", rc)
                r["_stdout"] = stdout
        if out is None:  # the scratch files go; nothing may point at them
            for r in recs.values():
                r.pop("_path", None)
        return next(iter(recs.values())) if len(recs) == 1 else recs
    finally:
        if scratch is not None:
            scratch.cleanup()


def train(model, **kwargs):
    """`specdyn train`: one finite-width run (spectra, NTK, sharpness) — its record."""
    return run("train", model, **kwargs)


def theory(model, **kwargs):
    """`specdyn theory`: the N = ∞ DMFT of the same run — its record."""
    return run("theory", model, **kwargs)


def compare(model, **kwargs):
    """`specdyn compare`: theory vs finite width per width, with the fitted exponent."""
    return run("compare", model, **kwargs)


def sweep(model, **kwargs):
    """`specdyn sweep`: rules × widths × learning rates × seeds; every record, by file name."""
    kwargs.setdefault("no_plot", True)
    return run("sweep", model, **kwargs)


def outliers(model, **kwargs):
    """`specdyn outliers`: outliers vs γ0, σ and time, theory and finite width."""
    kwargs.setdefault("no_plot", True)
    return run("outliers", model, **kwargs)


def coord_check(model, **kwargs):
    """`specdyn coord-check`: RMS of every layer's fields vs width, with the verdict."""
    kwargs.setdefault("no_plot", True)
    return run("coord-check", model, **kwargs)


def many_outputs(model, **kwargs):
    """`specdyn many-outputs`: the extensive-output toy model."""
    return run("many-outputs", model, **kwargs)


def equations(model, **kwargs):
    """`specdyn equations`: the closure equations the theory solves, as text."""
    argv = [binary(), "equations", "--model", str(model)] + _flags(kwargs)
    rc, stdout, stderr, _ = _child(argv, None, dict(os.environ))
    if rc != 0:
        _raise_for(rc, stderr, argv)
    return stdout


def _list():
    argv = [binary(), "list"]
    rc, stdout, stderr, _ = _child(argv, None, dict(os.environ))
    if rc != 0:
        _raise_for(rc, stderr, argv)
    return stdout


def models():
    """The models compiled into this build's specdyn (built-ins, a consumer's own, aliases)."""
    out = []
    for line in _list().splitlines()[1:]:  # after the header "model layers declaration"
        if not line.strip():
            break
        out.append(line.split()[0])
    return out


def rules():
    """The scaling rules --param accepts, with their verdicts: {name: (verdict, depth verdict)}."""
    out, on = {}, False
    for line in _list().splitlines():
        if line.startswith("scaling rules"):
            on = True
            continue
        if on and line.startswith(" ") and line.strip():
            parts = line.split()
            out[parts[0]] = (parts[1], parts[-1]) if len(parts) >= 3 else (parts[-1], "")
    return out
