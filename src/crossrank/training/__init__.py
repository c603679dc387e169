"""How a model is trained: the LightningModule, the losses and their registry, optimizer schedules, checkpoints,
callbacks, one training run as named steps (:mod:`~crossrank.training.run`), k-fold cross-validation and teacher
scores for distillation."""
