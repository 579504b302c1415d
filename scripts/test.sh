#!/usr/bin/env bash
# Builds and runs the whole test suite: the fast "unit" label and the long "statistical" label.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/build.sh
echo "build: $(( $(date +%s) - start )) s"
cd build
# both labels in one run, so that the long statistical checks and the unit tests share the cores
ctest -L "unit|statistical" --output-on-failure -j"$(nproc)"
echo "build + tests: $(( $(date +%s) - start )) s"
