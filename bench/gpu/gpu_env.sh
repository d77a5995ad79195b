# Sourced by bench/gpu/run.sh and bench/gpu/scenarios.sh (from the repository root, on a lent GPU machine): the
# Debian build dependencies the GPU image lacks (.gpudeps/*.deb, bench/gpu/fetch-deps.sh) unpacked into a private
# prefix, never into /; library paths that put the PyTorch image's NVIDIA wheels (cuBLAS(Lt), cuDNN: the libraries
# PyTorch itself loads) first; and configure_gpu_build LOG, which configures build-gpu against all of them.
DEPS=/tmp/qdit-deps
if [ ! -d "$DEPS/usr" ] && ls .gpudeps/*.deb >/dev/null 2>&1; then
  mkdir -p "$DEPS"
  for f in .gpudeps/*.deb; do dpkg-deb -x "$f" "$DEPS" 2>/dev/null || dpkg -x "$f" "$DEPS"; done
fi
ARCHLIB=$DEPS/usr/lib/x86_64-linux-gnu
# `nvidia` is a namespace package (no __file__): its folder comes from __path__.
NV=$(python3 -c "import nvidia; print(next(iter(nvidia.__path__)))" 2>/dev/null || true)
NVLIBS=$(find "$NV" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$ARCHLIB:${NVLIBS}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export PKG_CONFIG_SYSROOT_DIR=$DEPS PKG_CONFIG_LIBDIR="$ARCHLIB/pkgconfig:$DEPS/usr/share/pkgconfig"
PKGCONF=$(command -v pkg-config || echo "$DEPS/usr/bin/pkgconf")

# Configures build-gpu (Release, CUDA on, sm_90a from CMakeLists.txt); the log goes to $1, its tail to the
# terminal on failure.
configure_gpu_build() {
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DQDIT_CUDA=ON \
    -DCMAKE_PREFIX_PATH="$DEPS/usr;$ARCHLIB/cmake" -DPKG_CONFIG_EXECUTABLE="$PKGCONF" \
    -DGTest_DIR="$ARCHLIB/cmake/GTest" -Dbenchmark_DIR="$ARCHLIB/cmake/benchmark" -Ddnnl_DIR="$ARCHLIB/cmake/dnnl" \
    -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" >"$1" 2>&1 || {
    tail -30 "$1"; return 1; }
}
