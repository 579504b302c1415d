#!/usr/bin/env bash
# Builds and runs the whole test suite: the fast "unit" label, then the "statistical" label.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/build.sh
echo "build: $(( $(date +%s) - start )) s"
cd build
ctest -L unit --output-on-failure -j"$(nproc)"
ctest -L statistical --output-on-failure -j"$(nproc)"
echo "build + tests: $(( $(date +%s) - start )) s"
