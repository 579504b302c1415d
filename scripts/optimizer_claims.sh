#!/bin/bash
# Reproduces the measurements of docs/optimizers.md: the coordinate checks (§3), Adam's width
# transfer under μP and SP (§4), the step's cost against GD and PyTorch (§2), the theory against
# networks for every optimizer (§5.3) and the adaptive edge of stability (§6).
#   usage: scripts/optimizer_claims.sh [section ...]   (sections: coord transfer resnet bench theory eos spectra; default all)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
S="${SPECDYN:-$here/build/models/specdyn}"
OUT="${OUT:-runs/optimizers}"
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(coord transfer resnet bench theory eos spectra)
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
  resnet)  # §4: η* vs depth (depth-μP's L^{-1/2} block rate vs α_L = 0) and vs width (depth-μP vs SP) with Adam (≈ 10 min)
    lrs=0.000977,0.00195,0.0039,0.0078,0.0156,0.03125,0.0625,0.125,0.25,0.5,1,2,4
    for alpha in 1/2 0; do
      tag=$([ "$alpha" = 0 ] && echo plain || echo depth_mup)
      "$S" sweep --model resnet_relu --params depth_mup --depth-alpha "$alpha" --depths 2,4,8,16,32 --widths 256 --optimizer adam \
        --lrs "$lrs" --seeds 2 --samples 16 --test-samples 0 --steps 20 --jobs 2 --quiet --out "$OUT/resnet_depth_$tag"
    done
    "$S" sweep --model resnet_relu --params depth_mup,sp --depth 8 --widths 128,256,512,1024 --optimizer adam --lrs "$lrs" \
      --seeds 2 --samples 16 --test-samples 0 --steps 20 --jobs 2 --quiet --out "$OUT/resnet_width_L8"
    "$S" sweep --model resnet_relu --params sp --depth 8 --widths 128,256,512,1024 --optimizer adam \
      --lrs 0.00000000373,0.0000000149,0.0000000596,0.000000238,0.00000095,0.0000038,0.0000153,0.000061,0.000244,0.000977,0.0039 \
      --seeds 2 --samples 16 --test-samples 0 --steps 20 --jobs 2 --quiet --out "$OUT/resnet_width_L8_sp"
    "$S" sweep --model resnet_relu --params sp --depth 8 --widths 128,256,512,1024 --optimizer adam \
      --lrs 0.00000038,0.00000076,0.0000015,0.00000305,0.0000061,0.0000122,0.0000244,0.0000488,0.0000977,0.000195 \
      --seeds 2 --samples 16 --test-samples 0 --steps 20 --jobs 2 --quiet --out "$OUT/resnet_width_L8_sp_fine" ;;
  spectra)  # §7: hidden-weight spectra and the update's singular values, Adam vs SGD (≈ 3 min)
    /usr/bin/python3 "$here/scripts/adam_spectra.py" --specdyn "$S" --out "$OUT/spectra"
    /usr/bin/python3 "$here/scripts/adam_spectra.py" --specdyn "$S" --theory --samples 32 --steps 60 --adam-lr 0.02 --widths 256,512,1024,2048,4096 --out "$OUT/spectra_theory" ;;
  theory)  # §5.3: loss-curve error vs N for each optimizer (≈ 6 min)
    common=(--model mlp3_tanh --param mup --dim 8 --samples 8 --test-samples 4 --widths 256,512,1024,2048,4096 --seeds 16
            --replicas 4 --spectra-every 0 --quiet)
    for spec in "momentum --momentum 0.9 --lr 0.05 --steps 20 --particles 8000" "nesterov --momentum 0.9 --lr 0.05 --steps 20 --particles 8000" \
                "sgd --weight-decay 0.5 --lr 0.05 --steps 20 --particles 8000" "sgd --lr 0.05 --steps 20 --particles 8000" \
                "adam --lr 0.02 --steps 20 --particles 4000" "sign --lr 0.01 --steps 20 --particles 4000" \
                "adam --lr 0.05 --steps 30 --particles 4000" "sign --lr 0.03 --steps 30 --particles 4000"; do
      "$S" compare "${common[@]}" --optimizer $spec --out "$OUT/theory"
    done
    for spec in "mlp3_bias --param mup --optimizer adam" "resnet_tanh --param depth_mup --depth 4 --optimizer adam" \
                "preln_resnet --param depth_mup --depth 2 --optimizer adam" "resnet_tanh --param depth_mup --depth 4 --optimizer adamw --weight-decay 0.5"; do
      "$S" compare --model $spec --lr 0.05 --dim 8 --samples 8 --test-samples 4 --steps 20 \
        --widths 256,512,1024,2048 --seeds 8 --particles 2000 --replicas 4 --spectra-every 0 --quiet --out "$OUT/theory_blocks"
    done ;;
  eos)  # §6: Adam's preconditioned sharpness λ_max(P⁻¹H) against (2 + 2β1)/(1 − β1), full batch (≈ 4 min)
    for lr in 0.1 0.3 1; do
      "$S" train --model mlp3_tanh --param mup --optimizer adam --lr "$lr" --width 256 --dim 16 --samples 256 --test-samples 0 \
        --task random --steps 3000 --hessian-every 100 --spectra-every 0 --ntk-every 0 --eval-every 10 --quiet --force --out "$OUT/eos"
    done ;;
  *) echo "optimizer_claims.sh: unknown section $sec (use coord transfer resnet bench theory eos spectra)" >&2; exit 2 ;;
  esac
done
