#!/bin/bash
# Reproduces the measurements of docs/residual.md (≈ 50 min on 2 cores): depth consistency and the
# depth limit, depth and width transfer under depth-μP against plain residual μP (α_L = 0), theory vs
# finite width at L = 4 and 16, branch-weight outliers across depth. Records and figures go to
# ${OUT:-runs/residual}; each section's summary is printed.
#   usage: scripts/residual_claims.sh [section ...]   (sections: consistency transfer width theory limit bulk sgd spectra blocks; default all)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
S="${SPECDYN:-$here/build/models/specdyn}"
OUT="${OUT:-runs/residual}"
export OPENBLAS_NUM_THREADS=1
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(consistency transfer width theory limit bulk sgd spectra blocks)
for sec in "${sections[@]}"; do
  case "$sec" in
  consistency)  # loss curves, kernels and outliers across L = 2 … 64 at N = 512 (networks) and N = ∞ (theory)
    for alpha in 1/2 0; do
      tag=$([ "$alpha" = 0 ] && echo plain || echo depth_mup)
      "$S" compare --model resnet_tanh --param depth_mup --depth-alpha "$alpha" --depths 2,4,8,16,32,64 --widths 512 --seeds 2 \
        --samples 8 --test-samples 4 --steps 10 --lr 1 --particles 4000 --replicas 2 --quiet --out "$OUT/consistency_$tag"
    done ;;
  transfer)  # η* vs L: depth-μP against α_L = 0, N = 256, 20 steps
    for alpha in 1/2 0; do
      tag=$([ "$alpha" = 0 ] && echo plain || echo depth_mup)
      "$S" sweep --model resnet_relu --params depth_mup --depth-alpha "$alpha" --depths 2,4,8,16,32 --widths 256 \
        --lrs 0.0625,0.125,0.25,0.5,1,2,4,8,16 --seeds 2 --samples 16 --test-samples 0 --steps 20 --jobs 2 --quiet \
        --theory --particles 2000 --replicas 2 --out "$OUT/transfer_$tag"
    done ;;
  width)  # η* vs N at fixed L = 8 under depth-μP
    "$S" sweep --model resnet_relu --params depth_mup --depth 8 --widths 128,256,512,1024 --lrs 0.0625,0.125,0.25,0.5,1,2,4,8,16 \
      --seeds 2 --samples 16 --test-samples 0 --steps 20 --jobs 2 --quiet --out "$OUT/width_L8" ;;
  theory)  # theory vs finite width at L = 4 and 16: loss curves, kernels, NTK top eigenvalue, every branch weight's outlier
    "$S" compare --model resnet_tanh --param depth_mup --depths 4,16 --widths 256,512,1024,2048 --seeds 3 --samples 8 --test-samples 4 \
      --steps 10 --lr 1 --particles 8000 --replicas 4 --quiet --out "$OUT/theory" ;;
  limit)  # the closure's depth limit: exact linear residual closure at L = 2 … 128 (P = 4, T = 10)
    for L in 2 4 8 16 32 64 128; do
      "$S" theory --model resnet_linear --param depth_mup --depth "$L" --samples 4 --test-samples 0 --steps 10 --lr 0.05 --gamma0 1.5 \
        --quiet --out "$OUT/limit"
    done ;;
  bulk)  # one block's update and bulk across depth at N = 1024 (first branch weight W1)
    for L in 2 4 8 16 32; do
      "$S" train --model resnet_tanh --param depth_mup --depth "$L" --dim 16 --samples 16 --test-samples 4 --gamma0 8 --lr 0.4 --steps 30 \
        --width 1024 --seed 1000 --spectra-every 30 --quiet --out "$OUT/bulk"
    done ;;
  blocks)  # layer norm, biases and width ratios: theory vs width (P = 8, T = 20, N = 256, 1024, 4096; ≈ 15 min)
    C=(--steps 20 --samples 8 --test-samples 4 --lr 1 --gamma0 1 --widths 256,1024,4096 --seeds 3 --particles 20000 --replicas 4 --quiet)
    "$S" compare --model preln_resnet --param depth_mup --depth 4 "${C[@]}" --out "$OUT/blocks_preln"
    "$S" compare --model mlp3_bias "${C[@]}" --out "$OUT/blocks_bias"
    "$S" compare --model mlp3_widths "${C[@]}" --out "$OUT/blocks_widths" ;;
  sgd)  # mini-batch SGD and cross-entropy on a residual network, theory vs width
    "$S" compare --model resnet_tanh --param depth_mup --depth 4 --samples 16 --batch 4 --steps 20 --lr 1 --widths 256,1024,4096 \
      --seeds 2 --particles 8000 --replicas 2 --quiet --out "$OUT/sgd"
    "$S" compare --model resnet_tanh --param depth_mup --depth 4 --task random --outputs 3 --loss xent --samples 8 --steps 20 --lr 1 \
      --widths 256,1024,4096 --seeds 2 --particles 8000 --replicas 2 --quiet --out "$OUT/xent" ;;
  spectra)  # branch weights' outliers across depth (γ0 = 8: strong enough feature learning for them to leave the bulk)
    "$S" compare --model resnet_tanh --param depth_mup --depths 2,4,8,16 --widths 512,1024,2048 --seeds 2 --dim 16 --samples 16 \
      --test-samples 4 --gamma0 8 --lr 0.4 --steps 30 --particles 8000 --replicas 2 --quiet --out "$OUT/spectra" ;;
  *) echo "residual_claims.sh: unknown section '$sec' (use consistency, transfer, width, theory, limit, bulk, sgd, spectra, blocks)" >&2; exit 2 ;;
  esac
done
