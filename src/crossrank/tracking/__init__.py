"""What is remembered of a run: the loggers (W&B, CSV), ``run.json``, the training curves, reading runs and records
back, records in ``experiments/``, comparisons, and the tables the notebooks draw. It never imports training."""
