#!/usr/bin/env bash
# Installs what qdit builds and tests with, from Debian's packages. Idempotent: packages already present are
# not touched, so `make` stays fast after the first run. CUDA is not installed here: the toolkit in
# /usr/local/cuda is used when it exists (see CMakeLists.txt).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libre2-dev libdnnl-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev   # libFuzzer and the sanitizer runtimes for the fuzz targets
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "install-deps: apt-get update failed; trying the cached package lists" >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
