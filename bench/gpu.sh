#!/usr/bin/env bash
# Both throughput benchmarks on a lent GPU (H100), bf16 and fp32, one summary at the end, in about 6 minutes.
# Prepare with bench/gpu_prepare.sh here; run there with bench/.gpu carried (see gpu_prepare.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --target /tmp/crossrank-deps bench/.gpu/wheels/*.whl
export PYTHONPATH="$PWD/src:/tmp/crossrank-deps" CROSSRANK_BENCH_MINILM="$PWD/bench/.gpu/minilm"
export CROSSRANK_CACHE=/tmp/crossrank-cache HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, sentence_transformers as st; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', st.__version__)"
log="${OUT:-/tmp}/gpu-bench.log"; : > "$log"   # in $OUT as it goes: a run cut short still returns it
run() { echo "== $*" | tee -a "$log"; timeout "$1" "${@:2}" 2>&1 | grep --line-buffered -v -E "Loading weights|Warning|warn" | tee -a "$log" | tail -40; }
# rerank: 20,000 MS MARCO-shaped pairs (DL19 when ../shared is carried), bf16 and fp32, batches of 256 and 1024
run 130 python3 bench/rerank_throughput.py --device cuda --pairs 20000 --rounds 2 --backends torch torch-bf16 \
  --batch-size 256 1024
# train: 300 steps of batch 16 in bf16 (both peers)
run 110 python3 bench/train_throughput.py --device cuda --precision bf16 --steps 300
# the GPU tests (tests/test_scorer.py: attention kernels, bf16 training with workers, fused AdamW and clipping)
run 60 python3 -m pytest -q -p no:cacheprovider --noconftest tests/test_scorer.py -k cuda
# train in fp32, for reference
run 60 python3 bench/train_throughput.py --device cuda --precision 32 --steps 100
echo; echo "== summary"; grep -E "pairs/s|samples/s|ratio|tokens per pair|machine:|passed|failed" "$log"
