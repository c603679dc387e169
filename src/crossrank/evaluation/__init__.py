"""How a model is judged, and never by importing training: what an evaluation set is, streamed and resumable
reranking, ranx metrics with trec_eval's conventions, fusion with the first stage and a teacher, reports with
paired significance tests, one set end to end, and ``evaluate.py``'s stage."""
