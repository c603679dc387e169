"""A stand-in of Hofstätter et al.'s teacher file (same columns) over a NanoBEIR-shaped stand-in base, where
ir_datasets keeps the download of ``<base>/kd-docpairs``."""

from __future__ import annotations

from nanobeir import write_nanobeir_set

from crossrank.data.kd import HOFSTATTER_ENSEMBLE, folder


def write_triples(base: str, lines: list[str] | None = None) -> dict[tuple[str, str], float]:
    """The triples file where ir_datasets keeps its download; returns each pair's teacher score."""
    write_nanobeir_set(base.split("/")[1])
    name = base.split("/")[1]
    rows, scores = [], {}
    for i in range(10):
        qid, pos = f"{name}-q{i}", f"{name}-d{i}-hit"
        # query 0's negatives: 30 passages of the set (more than the validation depth the test sets, 10)
        negs = [f"{name}-d{k}-{j}" for k in range(10) for j in range(3)] * 4 if i == 0 else \
            [f"{name}-d{i}-{j}" for j in range(3)]
        for j, neg in enumerate(dict.fromkeys(negs)):
            rows.append(f"{8.5 + i / 10}\t{-2.0 + j / 50 - i / 7}\t{qid}\t{pos}\t{neg}\n")
            scores[(qid, pos)], scores[(qid, neg)] = 8.5 + i / 10, -2.0 + j / 50 - i / 7
    path = folder(base) / HOFSTATTER_ENSEMBLE.file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines if lines is not None else rows))
    return scores
