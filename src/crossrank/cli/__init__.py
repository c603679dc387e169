"""What the entry points share: checks before any heavy import (:mod:`~crossrank.cli.preflight`), one-line errors
(:mod:`~crossrank.cli.errors`), quiet libraries, Hydra resolvers, the run dispatch of ``train.py`` and
``evaluate.py`` (:mod:`~crossrank.cli.app`) and the ``crossrank`` command (:mod:`~crossrank.cli.main`). Nothing
else in crossrank imports this package."""
