#!/usr/bin/env bash
# Run on the development machine (Debian 12) before a GPU session: downloads the Debian packages run.sh unpacks
# into a private prefix on the GPU machine (its image has CUDA, PyTorch, CMake and g++, but not these), into
# .gpudeps/ (git-ignored; name it in the device tool's `carry`). About 8 MiB.
set -euo pipefail
mkdir -p .gpudeps
cd .gpudeps
apt-get download libdnnl-dev libdnnl2 ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-c-headers \
  nlohmann-json3-dev libre2-dev libre2-9 libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian \
  libcli11-dev pkgconf pkgconf-bin libpkgconf3
