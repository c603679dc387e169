"""The latest results of every benchmark, as the tables of bench/README.md, read from bench/results/*.json.

    python bench/summarize.py            # print the tables
    python bench/summarize.py --write    # put them into bench/README.md (between the results markers)

The tests check that bench/README.md holds exactly what this prints, so its figures are the results files'.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- results: python bench/summarize.py --write -->", "<!-- end of results -->"


def load() -> dict[str, list[tuple[str, dict]]]:
    """``{benchmark: [(file name, result), ...]}`` of its latest day's runs, oldest first."""
    runs: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for path in sorted((HERE / "results").glob("*.json")):
        result = json.loads(path.read_text())
        runs[result["benchmark"]].append((path.name, result))
    latest = {}
    for name, found in runs.items():
        day = max(r["date"][:10] for _, r in found)
        latest[name] = sorted(((f, r) for f, r in found if r["date"][:10] == day), key=lambda item: item[1]["date"])
    return latest


def where(runs: list[tuple[str, dict]]) -> str:
    first = runs[0][1]
    machine, versions = first["machine"], first["versions"]
    commits = [(r.get("git") or {}).get("commit", "?")[:7] + (" (dirty)" if (r.get("git") or {}).get("dirty") else "")
               for _, r in runs]
    commit = f"commit `{commits[0]}`" if len(set(commits)) == 1 else \
        "commits " + " / ".join(f"`{c}`" for c in commits)  # each run's own, in the runs' order
    links = ", ".join(f"[{i + 1}](results/{f})" for i, (f, _) in enumerate(runs))
    cpus = list(dict.fromkeys(r["machine"].get("cpu") or r["machine"].get("platform") for _, r in runs))
    cpu = cpus[0] if len(cpus) == 1 else " / ".join(
        r["machine"].get("cpu") or r["machine"].get("platform") for _, r in runs)  # each run's, in the runs' order
    return (f"{first['date'][:10]}, {commit}, {cpu} "
            f"({machine.get('cpus')} cores{', ' + ', '.join(machine['gpus']) if machine.get('gpus') else ''}), "
            f"torch {versions.get('torch')}, transformers {versions.get('transformers')}, sentence-transformers "
            f"{versions.get('sentence-transformers')}; runs {links}")


def each(runs: list[tuple[str, dict]], get: Callable[[dict], str]) -> str:
    """One cell: the figure of every run of the day, ``run 1 / run 2``."""
    return " / ".join(get(r["figures"]) for _, r in runs)


def rerank_table(runs: list[tuple[str, dict]]) -> list[str]:
    figures = runs[0][1]["figures"]
    lines = [f"Rerank: {figures['pairs']:,} {figures['source']}, max length {figures['max_length']}, "
             f"{figures['tokens_per_pair']['real']} real tokens a pair; {where(runs)}.", "",
             "| contender | pairs/s | vs peer default (batch 32) | vs peer best |", "|---|---:|---:|---:|"]
    for name in figures["pairs_per_second"]:
        rate = each(runs, lambda f, n=name: f"{f['pairs_per_second'][n]:,.1f}")
        if not name.startswith("crossrank"):
            lines.append(f"| {name} | {rate} | | |")
            continue
        default = each(runs, lambda f, n=name: f"{f['ratio_vs_peer_default'][n]:.2f}x")
        best = each(runs, lambda f, n=name: f"{f['ratio_vs_peer_best'][n]:.2f}x")
        lines.append(f"| {name} | {rate} | {default} | {best} |")
    return lines


def train_table(runs: list[tuple[str, dict]]) -> list[str]:
    figures = runs[0][1]["figures"]
    ours = each(runs, lambda f: f"{f['samples_per_second']['crossrank']:.1f}")
    peer = each(runs, lambda f: f"{f['samples_per_second']['sentence-transformers']:.1f}")
    ratio = each(runs, lambda f: f"{f['ratio']:.2f}x")
    gap = each(runs, lambda f: f"{f['mean_abs_loss_difference']:.3f}")
    return [f"Train: batch {figures['batch_size']}, max length {figures['max_length']}, {figures['pairs']}, steps "
            f"{figures['timed_steps']} timed (setup and warm-up excluded for both); {where(runs)}.", "",
            "| | crossrank | sentence-transformers `CrossEncoderTrainer` | ratio |", "|---|---:|---:|---:|",
            f"| samples/s | {ours} | {peer} | {ratio} |",
            f"| mean \\|loss difference\\| of the logged points | {gap} | | |"]


def memory_table(runs: list[tuple[str, dict]]) -> list[str]:
    figures = runs[0][1]["figures"]

    def first_last(f: dict) -> str:
        values = list(f["rss_mib_after_pairs"].values())
        return f"{values[0]} -> {values[-1]}"

    return [f"Memory of the evaluation stage: {figures['pairs']:,} generated pairs through rerank and metrics "
            f"(the tiny model, shards of {figures['shard_size']:,}); {where(runs)}.", "",
            "| | value |", "|---|---:|",
            f"| peak RSS, GiB (target <= {figures['target_peak_gib']}) | "
            f"{each(runs, lambda f: str(f['peak_rss_gib']))} |",
            f"| RSS after the first and the last shard, MiB | {each(runs, first_last)} |"]


def scale_table(runs: list[tuple[str, dict]]) -> list[str]:
    figures = runs[0][1]["figures"]
    lines = [f"Data pipeline at MS MARCO's size (generated data); {where(runs)}.", "", "| stage | seconds | note |",
             "|---|---:|---|"]
    for stage, value in figures["stages"].items():
        lines.append(f"| {stage} | {each(runs, lambda f, s=stage: str(f['stages'][s]['seconds']))} | {value['note']} |")
    return lines


def backend_table(runs: list[tuple[str, dict]]) -> list[str]:
    figures = runs[0][1]["figures"]
    lines = [f"Backends: nDCG@10 on {figures['set']}, max length {figures['max_length']}; {where(runs)}.", "",
             "| model | torch (fp32) | torch-bf16 | onnx-int8 |", "|---|---:|---:|---:|"]
    for name in figures["models"]:
        cells = [each(runs, lambda f, n=name, b=b: f"{f['models'][n]['ndcg@10'][b]:.4f}")
                 for b in ("torch", "torch-bf16", "onnx-int8")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def nanobeir_table(runs: list[tuple[str, dict]]) -> list[str]:
    f = runs[0][1]["figures"]
    lines = [f"NanoBEIR-shaped evaluation: {f['sets']} generated sets, {f['queries']} queries, {f['passages']:,} "
             f"passages, top {f['depth']} reranked ({f['pairs']:,} pairs), max length {f['max_length']}; "
             f"{where(runs)}.",
             "", "| what | figure |", "|---|---:|"]
    rows = [("BM25 over all sets (s)", lambda g: f"{g['bm25_seconds_all_sets']:.1f}"),
            ("crossrank eval stage, all sets (s)", lambda g: f"{g['crossrank_stage_seconds']:.1f}"),
            ("crossrank reranking (pairs/s)", lambda g: f"{g['crossrank_pairs_per_second']:.1f}"),
            ("sentence-transformers CrossEncoderRerankingEvaluator (pairs/s)",
             lambda g: f"{g['peer_pairs_per_second']:.1f}"),
            ("reranking vs peer", lambda g: f"{g['ratio_rerank_vs_peer']:.2f}x"),
            ("whole stage (BM25, metrics, reports included) vs peer's reranking, pairs/s",
             lambda g: f"{g['ratio_stage_vs_peer']:.2f}x"),
            ("the 13 sets at depth 100, estimated (s)", lambda g: f"{g['full_protocol_estimate_seconds']:,.0f}")]
    return lines + [f"| {what} | {each(runs, get)} |" for what, get in rows]


def bm25_table(runs: list[tuple[str, dict]]) -> list[str]:
    f = runs[0][1]["figures"]
    build, peer = f["build"], f["peer"]
    lines = [f"BM25 over a generated MS MARCO-sized collection ({build['passages']:,} passages, {build['postings']:,} "
             f"postings, {build['vocabulary']:,} terms) read through ir_datasets; peak RSS of each stage's process; "
             f"{where(runs)}.", "", "| what | figure |", "|---|---:|"]
    rows = [("index build, empty cache (s)", lambda g: f"{g['build']['seconds']:,.0f}"),
            ("index build, peak RSS (GB)", lambda g: f"{g['build']['peak_rss_gb']:.2f}"),
            ("index on disk (GB)", lambda g: f"{g['build']['index_gb']:.2f}"),
            ("official candidates ordered by BM25 (pairs/s)", lambda g: f"{g['order']['pairs_per_second']:,}"),
            ("ordering, peak RSS (GB)", lambda g: f"{g['order']['peak_rss_gb']:.2f}"),
            ("retrieval, top 1,000 of the collection (queries/s)", lambda g: f"{g['retrieve']['queries_per_second']}"),
            (f"vs bm25s' own indexer on {peer['passages']:,} passages: time", lambda g: f"{g['vs_peer']['time']}x"),
            ("vs bm25s' own indexer: peak memory", lambda g: f"{g['vs_peer']['peak_memory']}x")]
    return lines + [f"| {what} | {each(runs, get)} |" for what, get in rows]


def distill_table(runs: list[tuple[str, dict]]) -> list[str]:
    f = runs[0][1]["figures"]
    lines = [f"distill_baseline at MS MARCO's size (generated stand-in read through ir_datasets; {f['pairs']}): "
             f"train.py to its first step on 2 CPU cores, peak RSS of the whole process tree; {where(runs)}.", "",
             "| run | minutes | peak RSS (GB) | target |", "|---|---:|---:|---|"]
    for name in ("fresh", "cached"):
        target = f["targets"][name]
        minutes = each(runs, lambda g, n=name: format(g[n]["minutes"], ".2f"))
        peak = each(runs, lambda g, n=name: format(g[n]["peak_tree_gb"], ".2f"))
        lines.append(f"| {name} | {minutes} | {peak} | <= {target['minutes']} min, <= {target['peak_gb']} GB |")
    return lines


def mine_table(runs: list[tuple[str, dict]]) -> list[str]:
    f = runs[0][1]["figures"]
    sizes = [k for k in f if k.isdigit()]
    lines = [f"crossrank mine over a generated {f['passages']:,}-passage collection (tiny bi-encoder teacher: the "
             f"pipeline's speed); {where(runs)}.", "", "| queries | pairs | pairs/s | peak RSS (GB) |",
             "|---:|---:|---:|---:|"]
    for k in sizes:
        speed = each(runs, lambda g, k=k: format(g[k]["pairs_per_second"], ","))
        peak = each(runs, lambda g, k=k: format(g[k]["peak_rss_gb"], ".2f"))
        lines.append(f"| {int(k):,} | {f[k]['pairs']:,} | {speed} | {peak} |")
    lines.append(f"| growth | | | {each(runs, lambda g: str(g['memory_growth_gb_per_million_pairs']))} GB per "
                 "million pairs |")
    return lines


def transcribed_table(runs: list[tuple[str, dict]]) -> list[str]:
    lines = []
    for name, result in runs:
        lines += [f"{result['note']} ([results/{name}](results/{name}))", "", "| what | crossrank | peer | ratio |",
                  "|---|---:|---:|---:|"]
        for row in result["figures"]["rows"]:
            lines.append(f"| {row['what']} | {row['crossrank']} | {row['peer']} | {row['ratio']} |")
    return lines


TABLES = {"rerank_throughput-cpu": rerank_table, "train_throughput-cpu-32": train_table,
          "rerank_memory": memory_table, "data_scale": scale_table, "backend_ndcg": backend_table,
          "nanobeir_eval-cpu": nanobeir_table, "bm25_scale": bm25_table, "distill_scale": distill_table,
          "mine_scale": mine_table,
          "gpu_h100_transcribed": transcribed_table}


def summary() -> str:
    latest = load()
    parts = [BEGIN]
    for name, table in TABLES.items():
        if name in latest:
            parts += [f"### {name}", "", *table(latest[name]), ""]
    return "\n".join([*parts, END])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="put the tables into bench/README.md")
    args = ap.parse_args()
    text = summary()
    if not args.write:
        print(text)
        return 0
    readme = HERE / "README.md"
    old = readme.read_text()
    start, end = old.index(BEGIN), old.index(END) + len(END)
    readme.write_text(old[:start] + text + old[end:])
    print(f"wrote the results into {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
