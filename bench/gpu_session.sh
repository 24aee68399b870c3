#!/usr/bin/env bash
# One call on a GPU machine (the device tool's `run`): build, run the CUDA tests, run the GPU benchmarks,
# and leave logs and bench/results files under $OUT (default ./gpu_out). Uses the machine's python3 with
# torch, pybind11 and scikit-build-core (no network): pip install --no-build-isolation.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python3 -m pip install --no-build-isolation -q . > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
python3 -c "import homotopt; print(homotopt.build_info(), homotopt._core.cuda_device_count())" | tee "$OUT/info.txt"
python3 -m pytest -q -m cuda tests 2>&1 | tee "$OUT/cuda_tests.log" | tail -20
for b in cuda_power_gradient o2nc_cuda cuda_runner; do
  [ -f "bench/$b.py" ] && timeout 900 python3 "bench/$b.py" 2>&1 | tee "$OUT/$b.log" | tail -15
done
cp bench/results/*cuda* "$OUT/" 2>/dev/null || true
