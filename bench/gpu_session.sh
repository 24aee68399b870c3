#!/usr/bin/env bash
# One call on a GPU machine (the device tool's `run`), at most 8 minutes: build, the CUDA tests, the
# CUDA tests of the changed paths under compute-sanitizer (memcheck, then racecheck), every cuda_*
# benchmark and bench/torch_powerhp.py's CUDA half, then (time permitting) the estimator's profiles,
# the installed `homotopt bench --device cuda` and the whole suite. Each stage runs under a cap and
# under one deadline (default 470 s), in this order of priority, so the call always returns and a late
# stage is what gets cut.
# Logs and bench/results files come back as one archive, $OUT/gpu_session.tar.gz (default OUT=./gpu_out).
# Uses the machine's python3 with torch, pybind11 and scikit-build-core (no network):
# pip install --no-build-isolation.
#   bench/gpu_session.sh [full|quick|sanitize] [deadline seconds, default 470]
#   With 15 minutes of device time a session (machine start included), run `quick` first: a full run
#   leaves no time to rerun after a fix.
#   full (default): everything above; the benchmarks at all their shapes except o2nc_cuda --quick and
#     cuda_runner --steps 6000 (their full runs are in bench/results already).
#   quick: the same stages up to the benchmarks, each benchmark in its quick form; no extras.
#   sanitize: only the sanitizers, over every CUDA test (-m cuda), with the whole deadline.
# Both full and quick include the sanitizers (over tests/test_cuda_workspace.py, tests/test_cuda.py and
# tests/test_o2nc_cuda.py without the runner tests; racecheck over the power-gradient and estimator
# tests, whose kernels share memory). A sanitizer stage passes only when every test passes and
# compute-sanitizer reports no error (--error-exitcode 99); its log ends with the ERROR SUMMARY line.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-full}
case "$MODE" in full | quick | sanitize) ;; *) echo "usage: bench/gpu_session.sh [full|quick|sanitize] [seconds]"; exit 2 ;; esac
DEADLINE=$((SECONDS + ${2:-470}))
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
# A stage that overruns gets SIGTERM, then SIGKILL 5 s later (a sanitizer's target process too).
stage() {
  local name=$1 limit=$2 left=$((DEADLINE - SECONDS)) t0=$SECONDS rc
  shift 2
  ((left < limit)) && limit=$left
  if ((limit < 10)); then echo "== $name: skipped (no time left)"; return 1; fi
  timeout -k 5 "$limit" "$@" > "$LOGS/$name.log" 2>&1
  rc=$?
  echo "== $name: rc=$rc in $((SECONDS - t0)) s (limit $limit s)"
  tail -n "${TAIL:-12}" "$LOGS/$name.log" | cut -c1-240
  return $rc
}

# sanitize TOOL LIMIT TEST_LIMIT PYTEST_ARGS...: the tests in one process (no xdist: compute-sanitizer
# follows the interpreter's CUDA calls), every test run (no -x), each under TEST_LIMIT seconds so that
# one slow test fails as a timeout instead of eating the stage; then the sanitizer's verdict line.
sanitize() {
  local tool=$1 limit=$2 test_limit=$3
  shift 3
  TAIL=25 stage "sanitizer_$tool" "$limit" compute-sanitizer --tool "$tool" --error-exitcode 99 \
    --target-processes all python3 -m pytest -q -p no:cacheprovider -p no:benchmark -m cuda \
    --timeout "$test_limit" "$@"
  local rc=$?
  grep -h "ERROR SUMMARY" "$LOGS/sanitizer_$tool.log" 2>/dev/null | tail -n 1
  return $rc
}

nvidia-smi > "$LOGS/nvidia-smi.log" 2>&1
stage build 180 python3 -m pip install --no-build-isolation -v . || exit 1
# Which libraries the module loads (the H100 image once gave it its own libstdc++: none listed here).
ldd "$(python3 -c 'import homotopt._core as c; print(c.__file__)')" > "$LOGS/linkage.log" 2>&1
stage info 30 python3 -c "import homotopt, torch; print(homotopt.build_info(), homotopt._core.cuda_device_count(), torch.__version__, torch.cuda.get_device_name())"

if [ "$MODE" = sanitize ]; then
  sanitize memcheck $(((DEADLINE - SECONDS) / 2)) 120 tests
  sanitize racecheck $((DEADLINE - SECONDS)) 120 tests
  exit 0
fi

# A C++ exception must reach Python as ValueError, with torch (and its own translators) loaded first.
THROW='import torch, numpy as np, homotopt
try: homotopt.power_gradient(np.array([np.nan]), np.zeros((1, 2)), 1.0)
except ValueError as e: print("ValueError:", e)'
stage exceptions 30 python3 -c "$THROW" ||
  stage exceptions_bt 60 cuda-gdb -q -batch -ex run -ex bt --args python3 -c "$THROW"
# xdist: a crashing test takes down one worker, not the session.
stage cuda_tests 90 python3 -m pytest -q -p no:cacheprovider -m cuda -n 4 -p no:benchmark --timeout 120 tests
# The per-call paths of issue 15 (workspace, one-sync reduce, device finalize, o2nc's sync path).
sanitize memcheck 90 40 tests/test_cuda_workspace.py tests/test_cuda.py tests/test_o2nc_cuda.py -k "not runner"
sanitize racecheck 60 40 tests/test_cuda_workspace.py tests/test_cuda.py \
  -k "(power_gradient or power_state or fused or one_shot) and not runner"

if [ "$MODE" = quick ]; then
  stage cuda_power_ops 60 python3 bench/cuda_power_ops.py --quick
  stage torch_powerhp 45 python3 bench/torch_powerhp.py --quick --device cuda
  stage cuda_power_gradient 75 python3 bench/cuda_power_gradient.py
  stage o2nc_cuda 45 python3 bench/o2nc_cuda.py --quick
  stage cuda_runner 45 python3 bench/cuda_runner.py --steps 6000
  exit 0
fi
stage cuda_power_ops 90 python3 bench/cuda_power_ops.py
stage torch_powerhp 60 python3 bench/torch_powerhp.py --device cuda
stage cuda_power_gradient 75 python3 bench/cuda_power_gradient.py
stage o2nc_cuda 45 python3 bench/o2nc_cuda.py --quick
stage cuda_runner 45 python3 bench/cuda_runner.py --steps 6000
# Extras, in the time left: where the estimator's time goes, the installed suites, the whole test suite.
TAIL=30 stage estimator_host 30 python3 bench/cuda_estimator_profile.py --n 400 --d 100 --K 10 --host
TAIL=60 stage estimator_ncu 60 ncu --kernel-name regex:rows_kernel --launch-skip 1 --launch-count 1 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats \
  python3 bench/cuda_estimator_profile.py
TAIL=40 stage homotopt_bench 60 python3 -m homotopt bench all --device cuda --quick --no-progress --out "$LOGS/bench_cuda"
TAIL=4 stage all_tests 240 python3 -m pytest -q -p no:cacheprovider -n 8 -p no:benchmark --timeout 120 tests
