#!/bin/bash
# Reproduces the measurements of docs/optimizers.md: the coordinate checks (§3), Adam's width
# transfer under μP and SP (§4) and the step's cost against GD and PyTorch (§2).
#   usage: scripts/optimizer_claims.sh [section ...]   (sections: coord transfer bench; default all)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
S="${SPECDYN:-$here/build/models/specdyn}"
OUT="${OUT:-runs/optimizers}"
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(coord transfer bench)
for sec in "${sections[@]}"; do
  case "$sec" in
  coord)
    for spec in "mup sgd 0.1" "mup adam 0.1" "ntk adam 0.1" "sp adam 0.01" "sp sgd 0.1"; do
      set -- $spec
      "$S" coord-check --model mlp3_tanh --param "$1" --optimizer "$2" --lr "$3" --widths 128,256,512,1024,2048,4096 \
        --steps 5 --seeds 3 --out "$OUT/cc" --force || true   # exit 1 is the expected verdict for SP
    done ;;
  transfer)
    "$S" sweep --model mlp3_tanh --params mup,sp --optimizer adam --widths 128,256,512,1024,2048 \
      --lrs 0.00001,0.000022,0.000046,0.0001,0.00022,0.00046,0.001,0.0022,0.0046,0.01,0.022,0.046,0.1,0.22,0.46,1,2.2,4.6,10,22,46,100 \
      --seeds 2 --samples 128 --steps 50 --out "$OUT/adam_width_sweep" ;;
  bench)
    "$here/build/benchmarks/bench_step" --benchmark_filter='optim/' --benchmark_repetitions=5
    /usr/bin/python3 "$here/benchmarks/train/torch_step.py" --optimizer adam --widths 256,1024,2048 --batch 64 || true ;;
  *) echo "optimizer_claims.sh: unknown section $sec (use coord transfer bench)" >&2; exit 2 ;;
  esac
done
