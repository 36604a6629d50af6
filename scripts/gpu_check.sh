#!/usr/bin/env bash
# GPU checks: the CUDA parity tests (`pytest -m gpu`), the training-step benchmark
# and an operator profile on cuda, and one full fast-preset PER run on cuda. Needs a python with torch that
# sees a CUDA device, pytest and softeq's runtime dependencies; uses the source tree
# (no install). Writes logs under $OUT (default: gpu-check/).
#
#     bash scripts/gpu_check.sh            # or: PYTHON=python3 OUT=/tmp/x bash ...
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA DEVICE")'
echo "== pytest -m gpu"
"$PYTHON" -m pytest -q -m gpu -p no:cacheprovider tests/gpu 2>&1 | tee "$OUT/gpu-tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
for batch in 500 4096; do
  echo "== bench_step --device cuda --batch $batch"
  "$PYTHON" benchmarks/bench_step.py --device cuda --batch "$batch" --blocks 9 \
    --steps 20 2>&1 | tee "$OUT/bench-step-cuda-$batch.md"
done
echo "== profile_step --device cuda (SoftEMLP, no penalty)"
(cd benchmarks && "$PYTHON" profile_step.py --device cuda --steps 10 2>&1) \
  | tee "$OUT/profile-per-cuda.txt"
echo "== softeq train --task inertia:o2z --model per --device cuda (fast preset)"
SECONDS=0
"$PYTHON" -m softeq.cli train --task inertia:o2z --model per --seed 0 --device cuda \
  --out "$OUT/run-per-cuda" 2>&1 | tee "$OUT/train-per-cuda.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "wall seconds: $SECONDS"
exit $status
