#!/usr/bin/env bash
# ASan + UBSan: builds the core, its C++ tests (tests/cpp) and the Python module with
# -fsanitize=address,undefined (CPU only), runs the C++ tests (ctest) and then the pytest suite against
# that build, the sanitizer runtime preloaded into the interpreter.
# Any report fails the run: UBSan does not recover, ASan aborts on its first error. Leak checking is
# off for the interpreter (it and torch "leak" by design at exit), on for the C++ tests.
#
# usage: .ci/sanitizers.sh [pytest args]      (default: the whole suite, tests/)
# Needs: a C++ compiler with libasan/libubsan, cmake >= 3.24, and a Python environment with the test
# dependencies and pybind11 (the CI venv, or the dev venv: source /work/venv/bin/activate).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${HOMOTOPT_SANITIZER_DIR:-$(mktemp -d)}
mkdir -p "$work"

python -c "import pybind11" 2>/dev/null || pip install "pybind11>=2.12"
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
start=$SECONDS
cmake -S . -B "$work/build" -DHOMOTOPT_PYTHON=ON -DHOMOTOPT_TESTS=ON -DHOMOTOPT_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python)" >/dev/null
cmake --build "$work/build" --parallel "$(nproc)"
echo "== sanitizer build: $((SECONDS - start)) s"

# The C++ tests (no interpreter: leak checking stays on for them).
start=$SECONDS
ASAN_OPTIONS="abort_on_error=1:halt_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ctest --test-dir "$work/build" --output-on-failure
echo "== C++ tests under ASan + UBSan: $((SECONDS - start)) s"

# The package from the source tree, with the sanitized module in it (no install, no checkout edits).
rm -rf "$work/py" && mkdir -p "$work/py"
cp -r python/homotopt "$work/py/"
rm -f "$work/py/homotopt"/_core*.so
cp "$work/build"/_core*.so "$work/py/homotopt/"

start=$SECONDS
# libasan must come first in the process; libstdc++ next, so that ASan intercepts its operator new.
export LD_PRELOAD="$(c++ -print-file-name=libasan.so):$(c++ -print-file-name=libstdc++.so)"
# allocator_may_return_null: an allocation too large for ASan fails as in a normal process (MemoryError,
# std::bad_alloc), which the tests of sizes that cannot be allocated rely on.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export HOMOTOPT_TEST_SEED=${HOMOTOPT_TEST_SEED:-0}
# From the checkout's root (tests read examples/ and bench/ from there); homotopt comes from $work/py.
PYTHONPATH="$work/py" python -m pytest -q -p no:cacheprovider "${@:-tests}"
echo "== tests under ASan + UBSan: $((SECONDS - start)) s"
