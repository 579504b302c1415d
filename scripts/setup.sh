#!/usr/bin/env bash
# Installs whatever specdyn needs from Debian's packages. Idempotent; silent when all is present.
set -euo pipefail
packages=(
  build-essential cmake git pkg-config
  libboost-dev                 # Boost.Hana
  libxtensor-dev xtl-dev libxsimd-dev libxtensor-blas-dev
  libopenblas-dev liblapack-dev
  catch2 libbenchmark-dev
  nlohmann-json3-dev libcli11-dev
  libeigen3-dev libspectra-dev # top-k singular values (Krylov)
  python3 python3-matplotlib python3-numpy  # plots and the Python module
  python3-pytest               # the Python module's tests
  zlib1g-dev                   # reads the gzipped Fashion-MNIST files
  libopenmpi-dev openmpi-bin   # mpirun -n K specdyn sweep/compare (run/mpi.hpp)
  dataset-fashion-mnist fortunes  # real data: --task fashion-mnist, --task text (docs/data.md)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "specdyn setup: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
