#!/usr/bin/env bash
# Builds specdyn and runs the main demo: mlp3_tanh on a single-index task, μP vs NTK at
# N = 256 and 1024 (same η, γ0 = 3) and the μP theory at N = ∞ with its predicted outliers;
# records and PNG plots land in runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh --target specdyn
./build/models/specdyn demo --out runs/demo "$@"
