"""How far each low-precision backend moves a model's ranking: nDCG@10 on TREC DL 2019's BM25 top 30 (from
../shared/irdata) per backend, for a few models (a MiniLM classifier trained 40 and 100 steps on DL19's judged
pairs at 64 tokens, and the untrained packaged MiniLM through the segment-cosine head).

    python bench/backend_ndcg.py [--models classifier-100 classifier-40 segment-cosine]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import IRDATA, save_results  # noqa: E402

MODELS = {"classifier-100": (100, "1e-4"), "classifier-40": (40, "2e-4"), "segment-cosine": None}
BACKENDS = ("torch", "torch-bf16", "onnx-int8")


def model_folder(name: str, work: Path) -> str:
    """A trained classifier (the steps and learning rate of ``MODELS``) or the zero-shot segment-cosine folder."""
    from hydra import compose, initialize_config_dir

    from crossrank.cli.resolvers import register_resolvers
    from crossrank.models.export import export_model
    from crossrank.models.hub import packaged_minilm
    from crossrank.models.scorer import CrossEncoderScorer
    from crossrank.training.run import train

    if MODELS[name] is None:
        scorer = CrossEncoderScorer.from_pretrained(packaged_minilm(), max_length=64, head="segment_cosine")
        return str(export_model(scorer, work / name / "model"))
    steps, lr = MODELS[name]
    register_resolvers()
    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("train", ["+experiment=local_cpu", f"data.path={IRDATA}", "data.pairs.min_relevance=2",
                                "eval=none", "model.max_length=64", f"trainer.max_steps={steps}",
                                "data.pairs.val_queries=0", "model.head=classifier", "loss=bce", "data.group_size=null",
                                f"optimizer.lr={lr}", "logger=csv", "progress=false",
                                f"paths.output_dir={work / name}", f"data.cache_dir={work / 'cache'}"])
    train(cfg)
    return str(work / name / "model")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = ap.parse_args()
    if not IRDATA.is_dir():
        print(f"error: {IRDATA} is absent (TREC DL 2019 from ../shared/irdata)", file=sys.stderr)
        return 2
    from crossrank.evaluation.spec import EvalSet
    from crossrank.evaluation.stage import evaluate_set
    from crossrank.models.backends import apply
    from crossrank.models.scorer import CrossEncoderScorer

    work = Path(tempfile.mkdtemp())
    spec = EvalSet(name="dl19", path=str(IRDATA), relevance_level=2, depth=30)
    figures: dict[str, dict] = {}
    for name in args.models:
        start = time.perf_counter()
        base = CrossEncoderScorer.from_pretrained(model_folder(name, work), num_labels=None)
        ndcg = {b: round(evaluate_set(apply(base, b, cache_dir=work / "onnx"), spec, work / name / b,
                                      progress=False)["reranked"]["ndcg@10"], 4) for b in BACKENDS}
        figures[name] = {"ndcg@10": ndcg, "difference_from_torch": {b: round(ndcg[b] - ndcg["torch"], 4)
                                                                    for b in BACKENDS[1:]},
                         "seconds": round(time.perf_counter() - start, 1)}
        print(name, figures[name], flush=True)
    save_results("backend_ndcg", {"set": "TREC DL 2019, BM25 top 30, relevance level 2", "max_length": 64,
                                  "models": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
