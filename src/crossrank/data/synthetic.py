"""The quickstart's generated sample: a small, SYNTHETIC passage-ranking set in the irdata TSV format.

It is made up, not real data. Each query asks for one fact about an invented country; the one
relevant passage states that fact in other words, and "trap" passages repeat the query's words
without answering, so BM25 ranks them high. A cross-encoder can learn the difference in a minute
on a CPU, which makes the quickstart show a real, if easy, reranking gain. Train and test splits use
disjoint countries. The files carry no ``run.tsv``: the first stage is BM25 (bm25s).
"""

from __future__ import annotations

import random
from pathlib import Path

from crossrank.files import atomic_path

_SYLLABLES = ["ka", "lor", "vin", "dra", "mel", "tos", "bre", "lun", "zor", "via", "pel", "qua",
              "rin", "sor", "tal", "men", "gor", "fia", "nel", "dun", "bar", "ost", "ely", "cam"]

# (topic words used by traps, query forms, answer forms); {e} country, {v} value, {w} second value
_ATTRIBUTES: list[tuple[str, list[str], list[str]]] = [
    ("capital city", ["what is the capital of {e}", "capital city of {e}"],
     ["The seat of government of {e} is {v}, a port on the river {w}.",
      "{v} hosts the parliament and ministries of {e}."]),
    ("population", ["how many people live in {e}", "population of {e}"],
     ["Around {n} million residents call {e} home, according to the last census.",
      "The census counted roughly {n} million inhabitants across {e}."]),
    ("language spoken", ["what language is spoken in {e}", "official language of {e}"],
     ["Most inhabitants of {e} talk in {v}, which every school teaches.",
      "Street signs and newspapers in {e} are printed in {v}."]),
    ("currency", ["what currency does {e} use", "money used in {e}"],
     ["Shops in {e} price their goods in the {v}, issued by its central bank.",
      "Wages in {e} are paid in {v} notes and coins."]),
    ("founded", ["who founded {e}", "founder of {e}"],
     ["{e} was established by {v} after the northern wars.",
      "The nation of {e} traces its origin to the chieftain {v}."]),
    ("weather climate", ["what is the weather like in {e}", "climate of {e}"],
     ["Summers in {e} are hot and dry, while winters bring heavy rain from the sea.",
      "{e} has long frosty winters and short mild summers."]),
]

_TRAPS = [
    "Travellers often ask about the {t} of {e}. This page about {e} lists {x} festivals instead.",
    "{e} {t}: {e} {t} questions and {e} {t} links for visitors to {e}.",
    "What is {e} known for? Not only its {t}: the {x} markets of {e} draw crowds every spring.",
]


def _word(rng: random.Random, syllables: int = 3) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()


def _write_split(root: Path, countries: list[str], rng: random.Random, prefix: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    queries: list[tuple[str, str]] = []
    passages: list[tuple[str, str]] = []
    qrels: list[tuple[str, str, int]] = []
    for ci, e in enumerate(countries):
        for ai, (topic, qforms, aforms) in enumerate(_ATTRIBUTES):
            qid, pid = f"{prefix}q{ci}_{ai}", f"{prefix}p{ci}_{ai}"
            queries.append((qid, rng.choice(qforms).format(e=e)))
            answer = rng.choice(aforms).format(e=e, v=_word(rng), w=_word(rng, 2), n=rng.randint(2, 90))
            passages.append((pid, answer))
            qrels.append((qid, pid, 1))
            trap = rng.choice(_TRAPS).format(e=e, t=topic, x=_word(rng, 2).lower())
            passages.append((f"{prefix}t{ci}_{ai}", trap))
    rng.shuffle(passages)
    (root / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in queries), encoding="utf-8")
    (root / "collection.tsv").write_text("".join(f"{p}\t{t}\n" for p, t in passages), encoding="utf-8")
    (root / "qrels.tsv").write_text("".join(f"{q}\t0\t{p}\t{r}\n" for q, p, r in qrels), encoding="utf-8")


def make_synthetic(out_dir: str | Path, train_countries: int = 30, test_countries: int = 12,
                   val_countries: int = 6, seed: int = 0) -> dict[str, Path]:
    """Write ``out_dir/{train,val,test}`` (queries, collection, qrels); return ``{split: path}``.

    The three splits have disjoint countries. Deterministic for a given seed (the validation split comes
    from its own generator, so train and test are the same with or without it); an existing complete
    sample is reused as it is.
    """
    out = Path(out_dir)
    splits = {name: out / name for name in ("train", "val", "test")}
    if all((d / f).exists() for d in splits.values() for f in ("queries.tsv", "collection.tsv", "qrels.tsv")):
        return splits
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < train_countries + test_countries:
        name = _word(rng)
        if name not in names:
            names.append(name)
    val_rng = random.Random(seed + 1)
    val_names: list[str] = []
    with atomic_path(out, folder=True) as tmp:  # a sample cut short is never taken for a complete one
        _write_split(tmp / "train", names[:train_countries], rng, "tr")
        _write_split(tmp / "test", names[train_countries:], rng, "te")
        while len(val_names) < val_countries:
            name = _word(val_rng)
            if name not in names and name not in val_names:
                val_names.append(name)
        _write_split(tmp / "val", val_names, val_rng, "va")
    return splits
