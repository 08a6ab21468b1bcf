"""Experiments: validated TOML configs, single runs, sweeps (local pool or Dask) and reports.

Examples
--------
>>> from physnet.experiments import resolve, run_id
>>> config = resolve({"task": {"name": "linear_regression"}, "rule": {"name": "adjoint"},
...                   "optimizer": {"name": "sgd", "lr": 1.0}})
>>> run_id(config).startswith("linear_regression-adjoint-")
True
"""

from physnet.experiments_cli import add_commands
from physnet.experiments.config import Point, expand, load, resolve, run_id
from physnet.experiments.report import report
from physnet.experiments.run import run_config
from physnet.experiments.schema import ConfigError
from physnet.experiments.sweep import sweep

__all__ = ["ConfigError", "Point", "load", "resolve", "expand", "run_id", "run_config", "sweep", "report",
           "add_commands"]
