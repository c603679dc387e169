"""W&B sweeps over ``train.py``: check a sweep file offline, show an agent's command, create the sweep.

    crossrank sweep check conf/sweep/quickstart.yaml
    crossrank sweep command conf/sweep/quickstart.yaml optimizer.lr=1e-4 loss.pos_weight=4
    crossrank sweep create conf/sweep/quickstart.yaml [--project P] [--entity E]

``check`` composes the experiment the sweep's ``command`` names with a value of every parameter (so each is
a config key) and checks that ``metric.name`` is a metric the run logs. ``command`` builds the command line
exactly as ``wandb agent`` does, with wandb's own templating code. ``create`` checks, then registers the
sweep with W&B and prints the ``wandb agent`` line. Errors are one line and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crossrank.errors import ConfigError

MACRO = "${"


def load(path: str | Path) -> dict[str, Any]:
    """A W&B sweep file, with the keys crossrank relies on."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such sweep file")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: expected a W&B sweep mapping (program, method, metric, parameters, command)")
    for key in ("method", "metric", "parameters", "command"):
        if key not in spec:
            raise ConfigError(f"{path}: missing key {key!r}")
    if "${args_no_hyphens}" not in spec["command"]:
        raise ConfigError(f"{path}: command must pass the parameters as Hydra overrides with ${{args_no_hyphens}}")
    return spec


def sample_value(param: dict[str, Any]) -> Any:
    """One value W&B could choose for a parameter (the first of ``values``, or ``value``/``min``)."""
    for key in ("values", "value", "min"):
        if key in param:
            return param[key][0] if key == "values" else param[key]
    raise ConfigError(f"parameter spec {param!r}: no values, value or min")


def agent_command(spec: dict[str, Any], values: dict[str, Any], program: str | None = None) -> list[str]:
    """The command line ``wandb agent`` runs for these parameter values (wandb's own macro expansion)."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    command = sweep_utils.create_sweep_command(list(spec["command"]))
    macros = sweep_utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in values.items()}})
    macros.update(interpreter=["python"], program=[program or spec.get("program", "train.py")], env=["/usr/bin/env"])
    out: list[str] = []
    for chunk in command:
        chunk = str(chunk)
        if chunk.startswith(MACRO) and chunk.endswith("}"):
            out += macros.get(chunk[2:-1]) or []
        else:
            out.append(chunk)
    return out


def fixed_overrides(spec: dict[str, Any]) -> list[str]:
    """The Hydra overrides the sweep's command always passes (e.g. ``+experiment=quickstart``)."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    command = [str(c) for c in sweep_utils.create_sweep_command(list(spec["command"]))]
    start = command.index("${program}") + 1 if "${program}" in command else 0
    return [c for c in command[start:] if not c.startswith(MACRO) and "=" in c]


def check(path: str | Path, config_dir: str | Path = "conf") -> list[str]:
    """Compose the sweep's experiment with every parameter (configs from ``config_dir``, the folder ``train.py``
    reads); check ``metric.name``. Returns what it checked."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from crossrank.cli.preflight import check_metric
    from crossrank.cli.resolvers import register_resolvers

    spec = load(path)
    conf = Path(config_dir).expanduser().resolve()
    if not (conf / "train.yaml").is_file():
        raise ConfigError(f"--config-dir: {config_dir} has no train.yaml (run from the crossrank checkout, or give the "
                          "folder train.py reads its configs from)")
    register_resolvers()
    fixed = fixed_overrides(spec)
    lines = []
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        for name, param in spec["parameters"].items():
            override = f"{name}={sample_value(param)}"
            try:
                cfg = compose("train", [*fixed, override])
            except (HydraException, OmegaConfBaseException) as e:
                raise ConfigError(f"{path}: sweep parameter {name!r} is not a config key of "
                                  f"{' '.join(fixed)} ({str(e).splitlines()[0]})") from None
            lines.append(f"parameter {name}: ok ({override})")
        cfg = compose("train", fixed)
    metric = spec["metric"]["name"]
    sets = []
    if metric.startswith("eval/"):
        from crossrank.evaluation.spec import eval_sets

        sets = eval_sets(cfg)
    check_metric(cfg, sets, metric, f"{path}: metric.name")
    lines.append(f"metric {metric}: logged by {' '.join(fixed)}")
    return lines
