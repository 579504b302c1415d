#!/usr/bin/env python3
"""`mpirun -n 2 specdyn sweep|compare|theory` against the one-process run (ctest mpi_sweep_compare).

Checks, with one BLAS thread everywhere (the thread count is part of what makes runs bitwise equal):
  1. a sweep on 2 ranks writes every point record equal, value for value, to a one-process sweep
     (less where and when it ran), and the same summary (points, curves, η* fits);
  2. a compare on 2 ranks writes the same compare record as one process;
  3. SIGKILL of one rank mid-sweep loses at most the in-flight points: the re-run under mpirun
     skips every complete record and its summary equals the uninterrupted run's;
  4. a compare re-run redoes only a torn and a missing point record, with the same result;
  5. bad input under mpirun: exit 2, one line from rank 0; other commands refuse to run on 2 ranks;
  6. `mpirun -n 2 specdyn theory` spreads its replicas over the ranks and writes the one-process record.
Usage: test_mpi.py SPECDYN_CLI MPIEXEC
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

cli, mpiexec = sys.argv[1], sys.argv[2]
env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_btl_vader_single_copy_mechanism="none", OMPI_MCA_rmaps_base_oversubscribe="1")
mpi = [mpiexec, "-n", "2", "--bind-to", "none"]
work = tempfile.mkdtemp(prefix="specdyn_mpi_")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)


def load(path):
    with open(path) as f:
        return json.load(f)


def strip(rec):
    """A record less where, when and how long it ran."""
    for k in ("machine", "wall_seconds"):
        rec.pop(k, None)
    for k in ("out", "command_line"):
        rec.get("config", {}).pop(k, None)
    return rec


def summary(out):
    files = [f for f in glob.glob(os.path.join(out, "*_sweep_*.json"))]
    assert len(files) == 1, files
    return load(files[0])


def complete_records(points):
    n = 0
    for f in glob.glob(os.path.join(points, "*.json")):
        try:
            if load(f).get("status") in ("completed", "diverged"):
                n += 1
        except (ValueError, OSError):
            pass
    return n


SWEEP = ["sweep", "--model", "deep_linear2", "--task", "linear", "--dim", "16", "--samples", "32", "--test-samples", "16",
         "--steps", "150", "--params", "mup,ntk", "--widths", "64,128,256,512", "--lrs", "0.5,1,2", "--seeds", "1", "--quiet", "--no-plot"]
NPOINTS = 24

# 1. sweep: 1 process vs 2 ranks
one, two = os.path.join(work, "sweep1"), os.path.join(work, "sweep2")
t0 = time.time()
r1 = run([cli] + SWEEP + ["--jobs", "1", "--out", one])
t1 = time.time()
r2 = run(mpi + [cli] + SWEEP + ["--out", two])
t2 = time.time()
check(r1.returncode == 0, "one-process sweep exits 0 (%s)" % r1.stderr.strip()[-300:])
check(r2.returncode == 0, "2-rank sweep exits 0 (%s)" % r2.stderr.strip()[-300:])
print("     sweep of %d points: %.1f s on 1 process (--jobs 1), %.1f s on 2 ranks" % (NPOINTS, t1 - t0, t2 - t1))
s1, s2 = summary(one), summary(two)
check(s2["points_run"] == NPOINTS and s2["points_skipped"] == 0, "2 ranks ran every point once (points_run %s)" % s2["points_run"])
for key in ("points", "curves", "eta_star_fits", "status"):
    check(s1[key] == s2[key], "sweep summary '%s' equal on 1 and 2 ranks" % key)
same = 0
for p in s1["points"]:
    a = strip(load(os.path.join(one, "points", p["record"])))
    b = strip(load(os.path.join(two, "points", p["record"])))
    same += a == b
check(same == NPOINTS, "every point record equal on 1 and 2 ranks (%d of %d)" % (same, NPOINTS))

# 3. SIGKILL of one rank mid-sweep, then resume on 2 ranks
killed = os.path.join(work, "sweep_killed")
proc = subprocess.Popen(mpi + [cli] + SWEEP + ["--out", killed], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        start_new_session=True)
deadline = time.time() + 120
while complete_records(os.path.join(killed, "points")) < 4 and time.time() < deadline and proc.poll() is None:
    time.sleep(0.02)
ranks = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "sweep"], capture_output=True, text=True).stdout.split()
victim = None
for pid in ranks:  # the rank that is not rank 0
    try:
        with open("/proc/%s/environ" % pid, "rb") as f:
            if b"OMPI_COMM_WORLD_RANK=1" in f.read():
                victim = int(pid)
    except OSError:
        pass
check(victim is not None and proc.poll() is None, "found rank 1 of a running 2-rank sweep")
if victim is not None:
    os.kill(victim, signal.SIGKILL)
try:
    proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    check(False, "mpirun ends after a rank is killed")
# wait until no process of the killed sweep is left writing
while subprocess.run(["pgrep", "-f", killed], capture_output=True).returncode == 0 and time.time() < deadline + 60:
    time.sleep(0.05)
survived = complete_records(os.path.join(killed, "points"))
check(4 <= survived < NPOINTS, "the kill came mid-sweep (%d of %d records complete)" % (survived, NPOINTS))
r3 = run(mpi + [cli] + SWEEP + ["--out", killed])
check(r3.returncode == 0, "the resumed 2-rank sweep exits 0 (%s)" % r3.stderr.strip()[-300:])
s3 = summary(killed)
check(s3["points_skipped"] == survived and s3["points_run"] == NPOINTS - survived,
      "resume skipped the %d complete records and ran the rest (skipped %s, ran %s)" % (survived, s3["points_skipped"], s3["points_run"]))
check(s3["points"] == s1["points"] and s3["curves"] == s1["curves"], "the resumed summary equals the uninterrupted run's")

# 2. compare: 1 process vs 2 ranks
COMPARE = ["compare", "--model", "mlp3_tanh", "--dim", "8", "--samples", "8", "--test-samples", "0", "--steps", "20", "--param",
           "mup", "--gamma0", "2", "--lr", "0.5", "--widths", "64,128,256", "--seeds", "3", "--particles", "2000", "--replicas", "2",
           "--quiet"]
c1, c2 = os.path.join(work, "compare1"), os.path.join(work, "compare2")
r1 = run([cli] + COMPARE + ["--out", c1])
r2 = run(mpi + [cli] + COMPARE + ["--out", c2])
check(r1.returncode == 0 and r2.returncode == 0, "compare exits 0 on 1 process and 2 ranks (%s)" % (r1.stderr + r2.stderr).strip()[-300:])


def compare_record(out):
    files = glob.glob(os.path.join(out, "*_compare_*.json"))
    assert len(files) == 1, files
    return files[0]


a, b = strip(load(compare_record(c1))), strip(load(compare_record(c2)))
check(a["points_run"] == 9 and b["points_run"] == 9, "9 finite-width points run on 1 process and on 2 ranks")
check(a == b, "compare record equal on 1 and 2 ranks" + ("" if a == b else " (differs in %s)" % [k for k in a if a.get(k) != b.get(k)]))

# 4. compare resume: a torn and a missing point record are redone, nothing else
points = sorted(glob.glob(os.path.join(c2, "*_points", "*.json")))
check(len(points) == 9, "one record per finite-width point (%d)" % len(points))
with open(points[0], "r+") as f:
    f.truncate(os.path.getsize(points[0]) // 2)
os.remove(points[4])
r4 = run(mpi + [cli] + COMPARE + ["--out", c2])
check(r4.returncode == 0, "the re-run compare exits 0 (%s)" % r4.stderr.strip()[-300:])
c = strip(load(compare_record(c2)))
check(c["points_run"] == 2 and c["points_skipped"] == 7, "re-run redid 2 points, skipped 7 (ran %s)" % c["points_run"])
for k in ("points_run", "points_skipped"):
    c.pop(k), a.pop(k)
check(c == a, "the resumed compare record equals the uninterrupted one")

# 6. theory: replicas spread over 2 ranks (replica r on rank r mod 2, gathered on rank 0) give the
# record of the one-process solve; 5 replicas, so rank 0 holds 0, 2, 4 and rank 1 holds 1, 3
THEORY = ["theory", "--model", "mlp3_tanh", "--dim", "8", "--samples", "8", "--test-samples", "4", "--steps", "10", "--param",
          "mup", "--gamma0", "2", "--lr", "0.5", "--particles", "2000", "--replicas", "5", "--spectra-every", "5", "--quiet"]
t1, t2 = os.path.join(work, "theory1"), os.path.join(work, "theory2")
r1 = run([cli] + THEORY + ["--threads", "2", "--out", t1])
r2 = run(mpi + [cli] + THEORY + ["--out", t2])
check(r1.returncode == 0 and r2.returncode == 0, "theory exits 0 on 1 process and 2 ranks (%s)" % (r1.stderr + r2.stderr).strip()[-300:])


def theory_files(out):
    return sorted(os.path.relpath(f, out) for f in glob.glob(os.path.join(out, "**", "*"), recursive=True) if os.path.isfile(f))


def theory_record(out):
    rec = strip(load(os.path.join(out, [f for f in theory_files(out) if f.endswith(".json")][0])))
    for k in ("replica_threads", "spectra_seconds"):
        rec["solver"].pop(k, None)
    return rec


f1, f2 = theory_files(t1), theory_files(t2)
check(f1 == f2 and len([f for f in f1 if f.endswith(".json")]) == 1, "the same files, one record, from 1 process and 2 ranks (%s / %s)" % (f1, f2))
if f1 == f2:
    a, b = theory_record(t1), theory_record(t2)
    check(a["solver"]["replicas"] == 5 and b["solver"]["replicas"] == 5, "5 replicas in both records")
    check(a == b, "theory record equal on 1 process and 2 ranks" + ("" if a == b else " (differs in %s)" % [k for k in a if a.get(k) != b.get(k)]))
    same = all(open(os.path.join(t1, f), "rb").read() == open(os.path.join(t2, f), "rb").read() for f in f1 if f.endswith(".npy"))
    check(same, "every .npy array of the theory record is byte-identical")

# a single replica (the exact closure of a linear network) is solved on rank 0 alone: no gather to wait for
EXACT = ["theory", "--model", "deep_linear3", "--dim", "8", "--samples", "8", "--steps", "5", "--quiet"]
e1, e2 = os.path.join(work, "exact1"), os.path.join(work, "exact2")
r1 = run([cli] + EXACT + ["--out", e1])
try:
    r2 = run(mpi + [cli] + EXACT + ["--out", e2], timeout=120)
    finished = r2.returncode == 0
except subprocess.TimeoutExpired:
    finished = False
check(r1.returncode == 0 and finished, "the exact closure (one replica) on 2 ranks finishes and exits 0")
if finished:
    a, b = theory_record(e1), theory_record(e2)
    check(a == b, "exact-closure theory record equal on 1 process and 2 ranks")

# 5. bad input and one-rank commands under mpirun
bad_sweep = list(SWEEP)
bad_sweep[bad_sweep.index("--widths") + 1] = "64,0"
bad = run(mpi + [cli] + bad_sweep + ["--out", os.path.join(work, "bad")])
lines = [l for l in bad.stderr.splitlines() if l.startswith("specdyn")]
check(bad.returncode == 2 and len(lines) == 1 and "--widths" in lines[0], "bad --widths under mpirun: exit 2, one line (%s)" % lines)
check(not os.path.exists(os.path.join(work, "bad")), "bad input under mpirun writes nothing")
parse = run(mpi + [cli] + SWEEP + ["--no-such-flag", "--out", os.path.join(work, "bad")])
lines = [l for l in parse.stderr.splitlines() if l.startswith("specdyn")]
check(parse.returncode == 2 and len(lines) == 1, "unknown flag under mpirun: exit 2, one line (%s)" % lines)
one_rank = run(mpi + [cli, "train", "--model", "deep_linear2", "--out", os.path.join(work, "train")])
lines = [l for l in one_rank.stderr.splitlines() if l.startswith("specdyn")]
check(one_rank.returncode == 2 and len(lines) == 1 and "one rank" in lines[0], "train under mpirun -n 2 is refused (%s)" % lines)

shutil.rmtree(work, ignore_errors=True)
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
