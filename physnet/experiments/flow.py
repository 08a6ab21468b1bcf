"""Training flow tasks by chemical error signalling (Anisetti, Scellier & Schwarz 2023) for experiment runs.

:func:`physnet.learning.train.train` trains resistor networks; a flow task
(``flow_regression``, ``flow_iris``) trains pipe conductances, whose update
:func:`physnet.learning.flow.chemical_update` computes from the chemical's
concentration differences. :func:`train_chemical` is the same loop —
mini-batches, any optimizer, any hardware model, independent random streams
of one seed (:func:`~physnet.experiments.loop.train_loop`) — over that
update, and returns the same :class:`~physnet.learning.train.TrainResult`, so
experiment runs treat both domains alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physnet.experiments.loop import train_loop
from physnet.hardware import Hardware
from physnet.learning.costs import SQUARED_ERROR
from physnet.learning.flow import chemical_update
from physnet.learning.optimizers import Optimizer
from physnet.learning.train import TrainResult
from physnet.solvers.dc import solve_dc
from physnet.tasks import Task

__all__ = ["CHEMICAL_DEFAULTS", "train_chemical", "flow_metrics"]

CHEMICAL_DEFAULTS: Mapping[str, Any] = {"beta": 1e-3, "kappa": 1.0, "advection": False}
"""Parameters of the ``"chemical"`` rule: source per unit ``∂C/∂p`` (β), diffusivity per conductance (κ)."""


def flow_metrics(task: Task, k: NDArray, x: NDArray, y: NDArray, labels: NDArray | None) -> tuple[float, float]:
    """Mean cost and accuracy (NaN for regression) of the flow network with pipe conductances ``k``.

    Examples
    --------
    >>> from physnet.tasks import flow_regression
    >>> task = flow_regression(seed=0)
    >>> loss, accuracy = flow_metrics(task, task.info["teacher"], task.x_test, task.y_test, None)
    >>> bool(loss < 1e-20), accuracy
    (True, nan)
    """
    p = np.atleast_2d(solve_dc(task.network, k=k, v_sources=x).v)[:, task.network.node_indices(task.outputs)]
    loss = float(np.mean(SQUARED_ERROR.value(p, y)))
    return loss, (task.accuracy(p, labels) if task.classification else float("nan"))


def train_chemical(task: Task, *, optimizer: Optimizer, epochs: int, beta: float = 1e-3, kappa: float = 1.0,
                   advection: bool = False, batch_size: int | None = None, seed: int = 0, shuffle: bool = True,
                   hardware: Hardware | None = None) -> TrainResult:
    """Train a flow task's pipe conductances by the chemical update; history as in :func:`physnet.learning.train.train`.

    The optimizer receives ``dC/dk ≈ κ ⟨Δp Δc⟩ / β`` (exact without
    advection). ``history`` has ``epoch``, ``loss``, ``test_loss``,
    ``accuracy``, ``test_accuracy`` and ``steps`` per epoch (row 0: the
    initial network).

    Examples
    --------
    >>> from physnet.learning.optimizers import SGD
    >>> from physnet.tasks import flow_regression
    >>> task = flow_regression(seed=0, n_train=8, n_test=4)
    >>> result = train_chemical(task, optimizer=SGD(lr=50.0), epochs=20)
    >>> bool(result.history["loss"][-1] < 0.1 * result.history["loss"][0]), result.rule
    (True, 'chemical')
    """
    system = task.network

    def estimate(k: NDArray, index: NDArray) -> NDArray:
        return chemical_update(system, k, inputs={"v_sources": task.x_train[index]}, outputs=task.outputs,
                               targets=task.y_train[index], alpha=1.0, beta=beta, kappa=kappa,
                               advection=advection).gradient.grad

    return train_loop(task, system["pipe"]["k"], system["pipe"].names, "chemical", estimate=estimate,
                      metrics=partial(flow_metrics, task), optimizer=optimizer, epochs=epochs,
                      batch_size=batch_size, seed=seed, shuffle=shuffle, hardware=hardware)
