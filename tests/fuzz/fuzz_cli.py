#!/usr/bin/env python3
"""Bad-input harness for the specdyn command line (a ctest, label "unit").

Generates several hundred invalid invocations and files: every numeric flag of every command with
non-numeric, negative, fractional, NaN/Inf and huge values; bad enumerations and lists; malformed,
truncated, wrong-dtype and wrong-shape .npy files; truncated and corrupt Fashion-MNIST idx files
and an empty text corpus; unwritable output paths. Each case must
  - exit with status 2,
  - print exactly one line on stderr, starting with "specdyn", and nothing that looks like a crash
    or a sanitizer report,
  - write nothing: its scratch directory (where --out points) stays empty.
Usage: fuzz_cli.py SPECDYN_BINARY [--list] [--only SUBSTRING]
Prints a summary line with the number of cases; exits 1 listing every case that failed.
"""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile

# The OpenBLAS core guard may announce a re-run once per process; it is not an error line.
GUARD = "specdyn: OpenBLAS chose"
CRASH_MARKS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "terminate called", "Segmentation", "Aborted",
               "std::bad_alloc", "what():")

UINT_BAD = ["-1", "abc", "1.5", "nan", "inf", "", "99999999999999999999999"]
FLOAT_BAD = ["abc", "nan", "inf", "-inf", "1e400", ""]
POSITIVE_FLOAT_BAD = FLOAT_BAD + ["-1", "0"]
LIST_BAD = ["", ",", "abc", "1,,2", "nan", "-1", "0", "1e400"]

# Cheap valid base invocations; each case changes one thing.
BASE = {
    "train": ["train", "--model", "mlp3_tanh", "--width", "16", "--dim", "4", "--samples", "4", "--test-samples", "4", "--steps", "2"],
    "theory": ["theory", "--model", "mlp3_tanh", "--dim", "4", "--samples", "2", "--test-samples", "2", "--steps", "2",
               "--particles", "200", "--replicas", "2"],
    "compare": ["compare", "--model", "mlp3_tanh", "--dim", "4", "--samples", "2", "--test-samples", "2", "--steps", "2",
                "--particles", "200", "--replicas", "2", "--widths", "16,32", "--seeds", "1"],
    "sweep": ["sweep", "--model", "deep_linear2", "--dim", "4", "--samples", "4", "--test-samples", "4", "--steps", "2",
              "--widths", "8,16", "--lrs", "0.1,0.2", "--seeds", "1", "--jobs", "1"],
    "proportional": ["proportional", "--dims", "16", "--steps", "2", "--seeds", "1"],
    "outliers": ["outliers", "--model", "mlp3_tanh", "--dim", "4", "--samples", "2", "--test-samples", "2", "--steps", "2",
                 "--particles", "200", "--replicas", "2", "--widths", "16"],
    "equations": ["equations", "--model", "mlp3_tanh"],
    "many-outputs": ["many-outputs", "--model", "deep_linear3", "--widths", "8", "--kappas", "0,1", "--steps", "2"],
}

# flag → bad values, per command (flags shared by the run commands are listed once)
RUN_NUMERIC = {
    "--width": UINT_BAD + ["0", "100000000000"], "--dim": UINT_BAD + ["0"], "--samples": UINT_BAD + ["0"],
    "--outputs": UINT_BAD + ["0"], "--steps": UINT_BAD, "--batch": UINT_BAD + ["1000"], "--seed": UINT_BAD,
    "--gamma0": POSITIVE_FLOAT_BAD, "--sigma": POSITIVE_FLOAT_BAD, "--lr": POSITIVE_FLOAT_BAD,
    "--noise": FLOAT_BAD + ["-1"], "--covariance-decay": FLOAT_BAD + ["-1"],
}
RUN_ENUM = {"--param": ["bogus", ""], "--task": ["bogus"], "--teacher": ["bogus"], "--loss": ["bogus"], "--model": ["bogus", ""]}
TRAIN_ONLY = {"--spectra-every": UINT_BAD, "--top-k": UINT_BAD + ["0"], "--spectra-method": ["bogus"],
              "--ntk-every": ["abc", "-2", "1.5", "nan"], "--hessian-every": ["abc", "-2", "1.5"], "--eval-every": UINT_BAD + ["0"],
              "--test-samples": UINT_BAD}
THEORY_ONLY = {"--particles": UINT_BAD + ["0", "1"], "--replicas": UINT_BAD + ["0"], "--solver": ["bogus"],
               "--scheme": ["bogus"], "--damping": POSITIVE_FLOAT_BAD + ["2"], "--max-iterations": UINT_BAD + ["0"],
               "--spectral-cut": ["abc", "nan", "inf"], "--spectra-every": UINT_BAD}
COMPARE_ONLY = {"--widths": LIST_BAD, "--seeds": UINT_BAD + ["0"]}
SWEEP_ONLY = {"--params": ["", "bogus", "mup,,ntk"], "--widths": LIST_BAD, "--lrs": LIST_BAD, "--gamma0s": LIST_BAD,
              "--seeds": UINT_BAD + ["0"], "--jobs": UINT_BAD, "--ntk-every": ["abc", "-2"], "--spectra-every": UINT_BAD}
PROPORTIONAL = {"--model": ["bogus", "mlp3_tanh"], "--dims": LIST_BAD + ["4"], "--ratio-samples": POSITIVE_FLOAT_BAD,
                "--ratio-width": POSITIVE_FLOAT_BAD, "--gamma0-tilde": POSITIVE_FLOAT_BAD, "--lr-over-p": POSITIVE_FLOAT_BAD,
                "--sigma": POSITIVE_FLOAT_BAD, "--noise": FLOAT_BAD + ["-1"], "--steps": UINT_BAD, "--seeds": UINT_BAD + ["0"],
                "--seed": UINT_BAD, "--spectra-every": UINT_BAD, "--scan-nus": LIST_BAD, "--scan-dim": UINT_BAD + ["0"],
                "--gamma0": POSITIVE_FLOAT_BAD, "--params": ["bogus", ""], "--ntk-lanczos": UINT_BAD + ["1001"]}
OUTLIERS_ONLY = {"--params": ["bogus", ""], "--gamma0s": LIST_BAD, "--sigmas": LIST_BAD, "--widths": LIST_BAD[1:] + ["1"],
                 "--seeds": UINT_BAD + ["0"]}
MANY_OUTPUTS = {"--model": ["bogus", "", "two_layer_linear"], "--kappas": ["", "abc", "-1", "0,,1", "nan", "inf"], "--widths": LIST_BAD,
                "--gamma0-tildes": LIST_BAD, "--lr-over-p": POSITIVE_FLOAT_BAD, "--dim-per-width": POSITIVE_FLOAT_BAD,
                "--samples-per-width": POSITIVE_FLOAT_BAD, "--layer": ["", "W", "W9", "X1", "W1a"], "--task": ["bogus", "single-index"],
                "--steps": UINT_BAD, "--seed": UINT_BAD, "--sigma": POSITIVE_FLOAT_BAD, "--param": ["bogus"]}
EQUATIONS = {"--model": ["bogus"], "--param": ["bogus"], "--gamma0": POSITIVE_FLOAT_BAD, "--width": UINT_BAD + ["0"]}


def with_flag(base, flag, value):
    """The base invocation with flag set to value (replacing it when present)."""
    args = list(base)
    if flag in args:
        i = args.index(flag)
        args[i + 1] = value
    else:
        args += [flag, value]
    return args


def npy_bytes(shape, descr="<f8", fortran=False, data=None, header=None, magic=b"\x93NUMPY", version=b"\x01\x00"):
    if header is None:
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
            descr, "True" if fortran else "False", ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    h = header.encode()
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    if data is None:
        n = 1
        for s in shape:
            n *= s
        data = struct.pack("<%dd" % n, *([0.5] * n)) if descr == "<f8" else b"\x00" * (n * 4)
    return magic + version + struct.pack("<H", len(h)) + h + data


def npy_cases():
    """(name, x bytes, y bytes): --task npy with x [P, D] = [8, 4] and y [8] unless broken."""
    good_x, good_y = npy_bytes((8, 4)), npy_bytes((8,))
    bad = [
        ("bad magic", npy_bytes((8, 4), magic=b"\x93NUMPX"), good_y),
        ("empty file", b"", good_y),
        ("truncated header", npy_bytes((8, 4))[:20], good_y),
        ("truncated data", npy_bytes((8, 4))[:-8], good_y),
        ("extra data", npy_bytes((8, 4)) + b"\x00" * 8, good_y),
        ("int32 dtype", npy_bytes((8, 4), descr="<i4"), good_y),
        ("float32 dtype, float64 byte count", npy_bytes((8, 4), descr="<f4", data=b"\x00" * 256), good_y),
        ("float32 truncated", npy_bytes((8, 4), descr="<f4", data=b"\x00" * 100), good_y),
        ("big-endian", npy_bytes((8, 4), descr=">f8"), good_y),
        ("object dtype", npy_bytes((8, 4), descr="|O", data=b""), good_y),
        ("fortran order, wrong shape", npy_bytes((4, 8), fortran=True), good_y),
        ("3-d shape", npy_bytes((2, 4, 4)), good_y),
        ("0-d shape", npy_bytes((), data=struct.pack("<d", 1.0)), good_y),
        ("zero samples", npy_bytes((0, 4), data=b""), npy_bytes((0,), data=b"")),
        ("header not a dict", npy_bytes((8, 4), header="hello"), good_y),
        ("header missing shape", npy_bytes((8, 4), header="{'descr': '<f8', 'fortran_order': False, }"), good_y),
        ("negative shape", npy_bytes((8, 4), header="{'descr': '<f8', 'fortran_order': False, 'shape': (-8, 4), }"), good_y),
        ("huge shape", npy_bytes((8, 4), header="{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"), good_y),
        ("header length past the end", b"\x93NUMPY\x01\x00\xff\xff{'descr'", good_y),
        ("version 9", npy_bytes((8, 4), version=b"\x09\x00"), good_y),
        ("NaN inputs", npy_bytes((8, 4), data=struct.pack("<32d", *([float("nan")] * 32))), good_y),
        ("Inf targets", good_x, npy_bytes((8,), data=struct.pack("<8d", *([float("inf")] * 8)))),
        ("P mismatch", good_x, npy_bytes((7,))),
        ("y 3-d", good_x, npy_bytes((8, 1, 1))),
        ("y truncated", good_x, npy_bytes((8,))[:-3]),
        ("y bad magic", good_x, b"not a numpy file at all"),
    ]
    return bad


def idx_bytes(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def fashion_cases(src):
    """Directories of broken Fashion-MNIST files built from the real ones (None when not installed)."""
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    if src is None or not all(os.path.exists(os.path.join(src, n)) for n in names):
        return None
    raw = {n: gzip.open(os.path.join(src, n)).read() for n in names}
    cases = []
    def variant(name, changes):
        files = dict(raw)
        files.update(changes)
        cases.append((name, files))
    variant("truncated train images", {names[0]: raw[names[0]][: len(raw[names[0]]) // 2]})
    variant("truncated test labels", {names[3]: raw[names[3]][:100]})
    variant("bad image magic", {names[0]: struct.pack(">I", 0x0803 + 1) + raw[names[0]][4:]})
    variant("bad label magic", {names[1]: struct.pack(">I", 0x0801 + 7) + raw[names[1]][4:]})
    variant("label out of range", {names[1]: raw[names[1]][:8] + b"\x0b" + raw[names[1]][9:]})
    variant("image/label count mismatch", {names[1]: idx_bytes(0x0801, [59999], raw[names[1]][8:-1])})
    variant("wrong image size", {names[0]: idx_bytes(0x0803, [60000, 27, 28], raw[names[0]][16:16 + 60000 * 27 * 28])})
    variant("empty train images", {names[0]: b""})
    variant("header only", {names[2]: raw[names[2]][:16]})
    cases.append(("missing files", {}))
    return names, cases


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cli = os.path.abspath(sys.argv[1])
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    cases = []  # (name, args, files: {relative path: bytes}, env)

    def add(name, args, files=None, env=None):
        if only is None or only in name:
            cases.append((name, args, files or {}, env or {}))

    groups = {
        "train": {**RUN_NUMERIC, **RUN_ENUM, **TRAIN_ONLY},
        "theory": {**{k: v for k, v in RUN_NUMERIC.items() if k != "--width"}, **RUN_ENUM, **THEORY_ONLY},
        "compare": {**{k: v for k, v in RUN_NUMERIC.items() if k != "--width"}, **RUN_ENUM, **THEORY_ONLY, **COMPARE_ONLY},
        "sweep": {**{k: v for k, v in RUN_NUMERIC.items() if k not in ("--width", "--gamma0", "--lr")},
                  **{k: v for k, v in RUN_ENUM.items() if k != "--param"}, **SWEEP_ONLY},
        "proportional": PROPORTIONAL,
        "outliers": {**{k: v for k, v in RUN_NUMERIC.items() if k not in ("--width", "--gamma0", "--sigma")},
                     **{k: v for k, v in RUN_ENUM.items() if k != "--param"}, **OUTLIERS_ONLY,
                     **{k: v for k, v in THEORY_ONLY.items() if k != "--spectra-every"}},
        "equations": EQUATIONS,
        "many-outputs": MANY_OUTPUTS,
    }
    for cmd, flags in groups.items():
        for flag, values in flags.items():
            for v in values:
                add(f"{cmd} {flag}={v!r}", with_flag(BASE[cmd], flag, v))
        if cmd != "equations":
            add(f"{cmd} unknown flag", BASE[cmd] + ["--no-such-flag", "1"])
            add(f"{cmd} stray positional", BASE[cmd] + ["stray"])
    add("no command", [])
    add("unknown command", ["frobnicate"])
    add("plot missing record", ["plot", "{dir}/nope.json", "--out", "{dir}/plots"])
    add("plot not a record", ["plot", "{dir}/junk.json", "--out", "{dir}/plots"], {"junk.json": b"{not json"})
    add("plot json without schema", ["plot", "{dir}/junk.json", "--out", "{dir}/plots"], {"junk.json": b"{\"a\": 1}"})
    # train/theory inputs combined wrongly
    add("npy without files", BASE["train"] + ["--task", "npy"])
    add("x without npy task", BASE["train"] + ["--x", "{dir}/x.npy"], {"x.npy": npy_bytes((8, 4))})
    add("xent with one output", BASE["train"] + ["--loss", "xent"])
    add("batch larger than samples", with_flag(BASE["train"], "--batch", "5"))
    # unwritable outputs
    add("out under a file", BASE["train"] + ["--out", "{dir}/afile/sub"], {"afile": b"x"})
    add("out in /proc", BASE["train"] + ["--out", "/proc/specdyn_fuzz"])
    add("theory out under a file", BASE["theory"] + ["--out", "{dir}/afile/sub"], {"afile": b"x"})
    add("sweep out under a file", BASE["sweep"] + ["--out", "{dir}/afile/sub"], {"afile": b"x"})
    # memory: refused up front with the estimate
    add("train too wide", with_flag(BASE["train"], "--width", "50000000"))
    add("theory too many particles", with_flag(BASE["theory"], "--particles", "4000000000"))
    add("too many samples", with_flag(with_flag(BASE["train"], "--samples", "3000000000"), "--test-samples", "4"))
    # .npy files
    for name, x, y in npy_cases():
        for cmd in ("train", "theory"):
            args = with_flag(with_flag(BASE[cmd], "--dim", "4"), "--samples", "8") + ["--task", "npy", "--x", "{dir}/x.npy", "--y", "{dir}/y.npy"]
            add(f"{cmd} npy {name}", args, {"x.npy": x, "y.npy": y})
    # real-data files
    fm = fashion_cases("/usr/share/datasets/fashion-mnist")
    if fm is not None:
        names, fcases = fm
        gz = {}  # the unchanged files are the same bytes objects in every case: compress each once
        def packed_file(b):
            if id(b) not in gz:
                gz[id(b)] = (b, gzip.compress(b, compresslevel=1))
            return gz[id(b)][1]
        for name, files in fcases:
            packed = {f"fm/{n}": packed_file(b) for n, b in files.items()}
            packed["fm/.keep"] = b""
            add(f"fashion-mnist {name}", ["train", "--model", "mlp3_relu", "--task", "fashion-mnist", "--data-dir", "{dir}/fm",
                                          "--samples", "64", "--width", "16", "--steps", "1", "--loss", "xent"], packed)
        add("fashion-mnist not gzip", ["train", "--model", "mlp3_relu", "--task", "fashion-mnist", "--data-dir", "{dir}/fm",
                                       "--samples", "64", "--width", "16", "--steps", "1", "--loss", "xent"],
            {f"fm/{n}": b"\x1f\x8b\x08garbage" for n in names})
    for n_bad in ("0", "1", "-3", "abc"):
        add(f"text --vocab {n_bad}", ["train", "--model", "mlp3_relu", "--task", "text", "--vocab", n_bad, "--samples", "64",
                                       "--width", "16", "--steps", "1", "--loss", "xent"])
    for c_bad in ("0", "-1", "abc"):
        add(f"text --context {c_bad}", ["train", "--model", "mlp3_relu", "--task", "text", "--context", c_bad, "--samples", "64",
                                         "--width", "16", "--steps", "1", "--loss", "xent"])
    add("text empty corpus", ["train", "--model", "mlp3_relu", "--task", "text", "--data-dir", "{dir}/corpus", "--vocab", "50",
                              "--samples", "64", "--width", "16", "--steps", "1", "--loss", "xent"], {"corpus/empty": b""})
    add("sweep text missing dir", ["sweep", "--model", "mlp3_relu", "--task", "text", "--data-dir", "{dir}/nowhere", "--vocab", "50",
                                   "--samples", "16", "--test-samples", "8", "--steps", "1", "--widths", "16", "--lrs", "0.1"])
    add("text missing dir", ["train", "--model", "mlp3_relu", "--task", "text", "--data-dir", "{dir}/nowhere", "--vocab", "50",
                             "--samples", "64", "--width", "16", "--steps", "1", "--loss", "xent"])

    # the block vocabulary: depth lists, depth exponents, branch multipliers, bias scales
    res_train = ["train", "--model", "resnet_relu", "--param", "depth_mup", "--width", "16", "--dim", "4", "--samples", "4",
                 "--test-samples", "4", "--steps", "2"]
    res_compare = ["compare", "--model", "resnet_relu", "--param", "depth_mup", "--dim", "4", "--samples", "2", "--test-samples", "2",
                   "--steps", "2", "--particles", "200", "--replicas", "2", "--widths", "16", "--seeds", "1"]
    res_sweep = ["sweep", "--model", "resnet_relu", "--params", "depth_mup", "--dim", "4", "--samples", "4", "--test-samples", "4",
                 "--steps", "2", "--widths", "8", "--lrs", "0.1", "--seeds", "1", "--jobs", "1"]
    for v in LIST_BAD + ["5000"]:
        add(f"sweep --depths={v!r}", res_sweep + ["--depths", v])
        add(f"compare --depths={v!r}", res_compare + ["--depths", v])
    add("sweep --depths on a fixed-depth model", BASE["sweep"] + ["--depths", "2,4"])
    add("compare --depths on a fixed-depth model", BASE["compare"] + ["--depths", "2,4"])
    add("sweep --depth and --depths", res_sweep + ["--depth", "4", "--depths", "2,4"])
    add("compare --depth and --depths", res_compare + ["--depth", "4", "--depths", "2,4"])
    add("compare --depths too deep for memory", with_flag(res_compare, "--widths", "4096") + ["--depths", "2,4000"])
    add("sweep --depths too deep for memory", with_flag(res_sweep, "--widths", "4096") + ["--depths", "2,4000"])
    add("train too deep for memory", with_flag(res_train, "--width", "4096") + ["--depth", "4000"])
    for cmd, base in (("train", res_train), ("compare", res_compare), ("sweep", res_sweep)):
        for v in UINT_BAD + ["0"]:
            add(f"{cmd} resnet --depth={v!r}", base + ["--depth", v])
        for v in ["abc", "1/0", "-1", "nan", "inf", "1/", "/2", "1e400", "2/3/4", ""]:
            add(f"{cmd} --depth-alpha={v!r}", base + ["--depth-alpha", v])
        for v in POSITIVE_FLOAT_BAD:
            add(f"{cmd} --branch={v!r}", base + ["--branch", v])
        for v in FLOAT_BAD + ["-1"]:
            add(f"{cmd} --sigma-bias={v!r}", base + ["--sigma-bias", v])
    for cmd in ("train", "theory", "compare"):
        add(f"{cmd} --depth on a fixed-depth model", BASE[cmd] + ["--depth", "8"])
        add(f"{cmd} --depth-alpha on a rule without residual blocks", BASE[cmd] + ["--depth-alpha", "1/2"])
    for v in ("abc", "-1", "0", "1.5"):
        add(f"equations --depth={v!r}", ["equations", "--model", "resnet_relu", "--depth", v])
    # optimizers (docs/optimizers.md): bad names and hyper-parameters; Adam with an L2 decay; the theory refuses them
    for cmd in ("train", "sweep"):
        for v in ["bogus", "", "ADAM", "adam,sgd"]:
            add(f"{cmd} --optimizer={v!r}", BASE[cmd] + ["--optimizer", v])
        for flag in ("--beta1", "--beta2", "--momentum"):
            for v in FLOAT_BAD + ["1", "-0.1", "1.5"]:
                add(f"{cmd} adam {flag}={v!r}", BASE[cmd] + ["--optimizer", "adam", flag, v])
        for v in FLOAT_BAD + ["-1e-8"]:
            add(f"{cmd} adam --eps={v!r}", BASE[cmd] + ["--optimizer", "adam", "--eps", v])
        for v in FLOAT_BAD + ["-0.1"]:
            add(f"{cmd} adamw --weight-decay={v!r}", BASE[cmd] + ["--optimizer", "adamw", "--weight-decay", v])
        add(f"{cmd} adam with --weight-decay", BASE[cmd] + ["--optimizer", "adam", "--weight-decay", "0.1"])
    # the outlier theory is GD/SGD's; the loss theory of other optimizers is derived for chains only,
    # entrywise ones need the causal march of Gaussian particles, and the lazy limit knows GD and momentum
    for opt in ("adam", "momentum", "sign"):
        add(f"outliers --optimizer {opt} (no outlier theory)", BASE["outliers"] + ["--optimizer", opt])
    add("outliers sgd with weight decay (no outlier theory)", BASE["outliers"] + ["--weight-decay", "0.01"])
    for cmd in ("theory", "compare"):
        add(f"{cmd} sgd + weight decay on a block declaration in the lazy limit",
            with_flag(BASE[cmd], "--model", "resnet_tanh") + ["--weight-decay", "0.1", "--param", "ntk"])
        add(f"{cmd} adam --solver exact on a linear block declaration",
            with_flag(BASE[cmd], "--model", "resnet_linear") + ["--optimizer", "adam", "--solver", "exact"])
        for v in FLOAT_BAD + ["1", "-0.1"]:
            add(f"{cmd} momentum --momentum={v!r}", BASE[cmd] + ["--optimizer", "momentum", "--momentum", v])
        add(f"{cmd} adam with --weight-decay", BASE[cmd] + ["--optimizer", "adam", "--weight-decay", "0.1"])
        add(f"{cmd} adam --solver exact", with_flag(BASE[cmd], "--model", "deep_linear3") + ["--optimizer", "adam", "--solver", "exact"])
        add(f"{cmd} sign --scheme alternating", BASE[cmd] + ["--optimizer", "sign", "--scheme", "alternating"])
        add(f"{cmd} adam in the lazy limit", BASE[cmd] + ["--optimizer", "adam", "--param", "ntk"])
        add(f"{cmd} sgd + weight decay in the lazy limit", BASE[cmd] + ["--weight-decay", "0.1", "--param", "ntk"])
    cc = ["coord-check", "--model", "mlp3_tanh", "--dim", "4", "--samples", "4", "--test-samples", "4", "--steps", "2",
          "--seeds", "1", "--widths", "16,32,64", "--no-plot"]
    for v in LIST_BAD + ["16,32", "64,32,16", "16,16,32", "4,8,16", "16,32,100000000"]:
        add(f"coord-check --widths={v!r}", with_flag(cc, "--widths", v))
    for v in UINT_BAD + ["0", "101"]:
        add(f"coord-check --seeds={v!r}", with_flag(cc, "--seeds", v))
    for v in FLOAT_BAD + ["0", "-0.1", "2"]:
        add(f"coord-check --tolerance={v!r}", cc + ["--tolerance", v])
    for v in ["0", "1001", "abc"]:
        add(f"coord-check --steps={v!r}", with_flag(cc, "--steps", v))
    add("coord-check --optimizer bogus", cc + ["--optimizer", "bogus"])
    add("coord-check --model bogus", with_flag(cc, "--model", "bogus"))
    add("coord-check unknown flag", cc + ["--no-such-flag", "1"])
    add("coord-check out under a file", cc + ["--out", "{dir}/afile/sub"], {"afile": b"x"})
    add("outliers on non-square hidden weights", ["outliers", "--model", "mlp3_widths", "--dim", "4", "--samples", "2",
                                                  "--test-samples", "2", "--steps", "2", "--particles", "200", "--replicas", "2",
                                                  "--widths", "16"])
    add("theory two-time on blocks", ["theory", "--model", "resnet_relu", "--dim", "4", "--samples", "2", "--steps", "2",
                                      "--particles", "200", "--replicas", "2", "--two-time"])
    add("width multiplier gives a fractional width", ["train", "--model", "mlp3_widths", "--width", "15", "--dim", "4", "--samples", "4",
                                                      "--test-samples", "4", "--steps", "2"])

    if "--list" in sys.argv:
        for c in cases:
            print(c[0])
        return 0
    failures = []
    scratch = tempfile.mkdtemp(prefix="specdyn_fuzz_")
    try:
        for i, (name, args, files, env) in enumerate(cases):
            d = os.path.join(scratch, str(i))
            os.makedirs(d)
            for rel, data in files.items():
                p = os.path.join(d, rel)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "wb") as f:
                    f.write(data)
            before = set()
            for root, _, fs in os.walk(d):
                before |= {os.path.join(root, f) for f in fs}
            argv = [a.replace("{dir}", d) for a in args]
            if "--out" not in argv and argv and argv[0] not in ("plot",):
                argv += ["--out", os.path.join(d, "out")]
            try:
                r = subprocess.run([cli] + argv, cwd=d, capture_output=True, text=True, timeout=60,
                                   env={**os.environ, **env, "SPECDYN_MEMORY_LIMIT": os.environ.get("SPECDYN_MEMORY_LIMIT", "8e9")})
            except subprocess.TimeoutExpired:
                failures.append(f"{name}: timed out (60 s)")
                continue
            lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith(GUARD)]
            after = set()
            for root, _, fs in os.walk(d):
                after |= {os.path.join(root, f) for f in fs}
            problems = []
            if r.returncode != 2:
                problems.append(f"exit {r.returncode}")
            if len(lines) != 1 or not lines[0].startswith("specdyn"):
                problems.append(f"stderr has {len(lines)} lines: {lines[:3]}")
            if any(m in r.stderr for m in CRASH_MARKS):
                problems.append("crash or sanitizer report")
            if after - before:
                problems.append(f"wrote {sorted(os.path.relpath(p, d) for p in after - before)[:3]}")
            if problems:
                failures.append(f"{name}: {'; '.join(problems)}  [specdyn {' '.join(argv)}]")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"fuzz_cli: {len(cases)} bad invocations and files, {len(cases) - len(failures)} refused cleanly (exit 2, one line, nothing written)")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
