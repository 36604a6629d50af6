#!/usr/bin/env bash
# GPU checks: the CUDA parity tests (`pytest -m gpu`), the GPU example, the step benchmark
# on cuda with and without CUDA graphs, and one fast-preset PER run on cuda with
# and without them. Needs a python whose torch sees a CUDA device, pytest and
# softeq's runtime dependencies; uses the source tree (no install). Logs go to
# $OUT (default: gpu-check/). `python benchmarks/profile_step.py --device cuda`
# adds an operator profile.
#
#     bash scripts/gpu_check.sh            # or: PYTHON=python3 OUT=/tmp/x bash ...
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-gpu-check}
RUNS=${RUNS:-$OUT/runs}  # run folders
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA DEVICE")'
echo "== pytest -m gpu"
"$PYTHON" -m pytest -q -m gpu -p no:cacheprovider tests/gpu 2>&1 | tee "$OUT/gpu-tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "== examples/train_on_gpu.py --fast-dev-run"
"$PYTHON" examples/train_on_gpu.py --fast-dev-run 2>&1 | tee "$OUT/example-gpu.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
for graphs in "" "--cuda-graphs"; do
  echo "== bench_step --device cuda $graphs"
  "$PYTHON" benchmarks/bench_step.py --device cuda $graphs --blocks 9 --steps 20 \
    2>&1 | tee "$OUT/bench-step-cuda${graphs:+-graphs}.md"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
for graphs in "" "--cuda-graphs"; do
  echo "== softeq train --task inertia:o2z --model per --device cuda $graphs"
  SECONDS=0
  "$PYTHON" -m softeq.cli train --task inertia:o2z --model per --seed 0 --device cuda \
    $graphs --out "$RUNS/run-per-cuda${graphs:+-graphs}" 2>&1 \
    | tee "$OUT/train-per-cuda${graphs:+-graphs}.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  echo "wall seconds: $SECONDS"
done
exit $status
