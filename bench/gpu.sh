#!/usr/bin/env bash
# Both throughput benchmarks on a lent GPU (H100), bf16 and fp32, one summary at the end, in under 8 minutes.
# Prepare with bench/gpu_prepare.sh here; run there with bench/.gpu carried (see gpu_prepare.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --target /tmp/crossrank-deps bench/.gpu/wheels/*.whl
export PYTHONPATH="$PWD/src:/tmp/crossrank-deps" CROSSRANK_BENCH_MINILM="$PWD/bench/.gpu/minilm"
export CROSSRANK_CACHE=/tmp/crossrank-cache HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, sentence_transformers as st; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', st.__version__)"
log="${OUT:-/tmp}/gpu-bench.log"; : > "$log"   # in $OUT as it goes: a run cut short still returns it
run() { echo "== $*" | tee -a "$log"; timeout "$1" "${@:2}" 2>&1 | grep -v -E "Loading weights|Warning|warn" | tee -a "$log" | tail -40; }
# rerank: 40,000 MS MARCO-shaped pairs (DL19 when ../shared is carried), bf16 and fp32, batches of 256 and 1024
run 170 python3 bench/rerank_throughput.py --device cuda --pairs 40000 --rounds 2 --backends torch torch-bf16 \
  --batch-size 256 1024
# train: 300 steps of batch 16 in bf16 (both peers), then 100 in fp32 for reference; then where crossrank's
# bf16 steps spend their time (torch.profiler, 40 steps)
run 120 python3 bench/train_throughput.py --device cuda --precision bf16 --steps 300
run 80 python3 bench/train_throughput.py --device cuda --precision 32 --steps 100
run 90 python3 bench/train_throughput.py --device cuda --precision bf16 --steps 40 --profile
echo; echo "== summary"; grep -E "pairs/s|samples/s|ratio|tokens per pair|machine:" "$log"
