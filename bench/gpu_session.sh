#!/usr/bin/env bash
# One call on a GPU machine (the device tool's `run`): build, run the CUDA tests, profile the fused
# estimator (host cProfile, Nsight Compute), run the GPU benchmarks (the cuda_* scripts and the
# installed `homotopt bench --device cuda`, whose files land in logs/bench_cuda),
# then the whole test suite, each stage under a share of one deadline so the call always returns.
# Logs and bench/results files come back as one archive, $OUT/gpu_session.tar.gz (default OUT=./gpu_out).
# Uses the machine's python3 with torch, pybind11 and scikit-build-core (no network):
# pip install --no-build-isolation.
#   bench/gpu_session.sh [quick|full] [deadline seconds, default 570]
#   quick: the CUDA tests and short benchmarks (o2nc --quick, runner --steps 6000, homotopt bench
#   --quick); full: all sizes; sanitize: the CUDA tests under compute-sanitizer (memcheck, then
#   racecheck), nothing else.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-full}
DEADLINE=$((SECONDS + ${2:-570}))
OUT=${OUT:-gpu_out}
LOGS="$OUT/logs"
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1 CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)

pack() {
  cp bench/results/*cuda* "$LOGS/" 2>/dev/null
  tar -czf "$OUT/gpu_session.tar.gz" -C "$OUT" logs && rm -rf "$LOGS"
}
trap pack EXIT

# stage NAME LIMIT CMD...: runs CMD under min(LIMIT, time left), log in $LOGS/NAME.log, prints its tail.
stage() {
  local name=$1 limit=$2 left=$((DEADLINE - SECONDS)) t0=$SECONDS rc
  shift 2
  ((left < limit)) && limit=$left
  if ((limit < 10)); then echo "== $name: skipped (no time left)"; return 1; fi
  timeout "$limit" "$@" > "$LOGS/$name.log" 2>&1
  rc=$?
  echo "== $name: rc=$rc in $((SECONDS - t0)) s (limit $limit s)"
  tail -n "${TAIL:-12}" "$LOGS/$name.log" | cut -c1-240
  return $rc
}

nvidia-smi > "$LOGS/nvidia-smi.log" 2>&1
stage build 300 python3 -m pip install --no-build-isolation -v . || exit 1
# Which libraries the module loads (the H100 image once gave it its own libstdc++: none listed here).
ldd "$(python3 -c 'import homotopt._core as c; print(c.__file__)')" > "$LOGS/linkage.log" 2>&1
stage info 60 python3 -c "import homotopt, torch; print(homotopt.build_info(), homotopt._core.cuda_device_count(), torch.__version__, torch.cuda.get_device_name())"
if [ "$MODE" = sanitize ]; then
  # One process (no xdist): compute-sanitizer follows the interpreter's CUDA calls; any error fails the stage.
  for tool in memcheck racecheck; do
    TAIL=40 stage "sanitizer_$tool" 240 compute-sanitizer --tool "$tool" --error-exitcode 99 \
      --target-processes all python3 -m pytest -q -p no:cacheprovider -m cuda -x -p no:benchmark tests
  done
  exit 0
fi
# A C++ exception must reach Python as ValueError, with torch (and its own translators) loaded first.
THROW='import torch, numpy as np, homotopt
try: homotopt.power_gradient(np.array([np.nan]), np.zeros((1, 2)), 1.0)
except ValueError as e: print("ValueError:", e)'
stage exceptions 60 python3 -c "$THROW" ||
  stage exceptions_bt 120 cuda-gdb -q -batch -ex run -ex bt --args python3 -c "$THROW"
# xdist: a crashing test takes down one worker, not the session.
stage cuda_tests 240 python3 -m pytest -q -p no:cacheprovider -m cuda -n 4 -p no:benchmark --timeout 120 tests
# Where the estimator's time goes: the host side of a small call, the kernel's limits at a large shape.
TAIL=30 stage estimator_host 60 python3 bench/cuda_estimator_profile.py --n 400 --d 100 --K 10 --host
TAIL=60 stage estimator_ncu 120 ncu --kernel-name regex:rows_kernel --launch-skip 1 --launch-count 1 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats \
  python3 bench/cuda_estimator_profile.py
if [ "$MODE" = quick ]; then
  stage o2nc_cuda 120 python3 bench/o2nc_cuda.py --quick
  stage cuda_runner 120 python3 bench/cuda_runner.py --steps 6000
  stage cuda_power_gradient 180 python3 bench/cuda_power_gradient.py
  TAIL=40 stage homotopt_bench 120 python3 -m homotopt bench all --device cuda --quick --no-progress --out "$LOGS/bench_cuda"
else
  stage cuda_runner 150 python3 bench/cuda_runner.py
  stage cuda_power_gradient 180 python3 bench/cuda_power_gradient.py
  stage o2nc_cuda 240 python3 bench/o2nc_cuda.py
  TAIL=60 stage homotopt_bench 300 python3 -m homotopt bench all --device cuda --no-progress --out "$LOGS/bench_cuda"
fi
TAIL=4 stage all_tests 240 python3 -m pytest -q -p no:cacheprovider -n 8 -p no:benchmark --timeout 120 tests
