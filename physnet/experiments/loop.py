"""The mini-batch training loop of the tasks :func:`physnet.learning.train.train` does not cover (flow, elastic).

:func:`train_loop` is what :func:`~physnet.experiments.flow.train_chemical`
and :func:`~physnet.experiments.elastic.train_elastic` share: mini-batches
in a seeded order, any optimizer, any hardware model, and the history of
:func:`physnet.learning.train.train` (``epoch``, ``loss``, ``test_loss``,
``accuracy``, ``test_accuracy``, ``steps``; row 0 the initial network). The
domain supplies two functions: the rule's gradient estimate on a batch and
the metrics of a parameter vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from physnet.hardware import Hardware
from physnet.learning.optimizers import Optimizer
from physnet.learning.train import TrainResult
from physnet.tasks import Task

__all__ = ["Estimator", "Metrics", "train_loop"]

Estimator = Callable[[NDArray, NDArray], NDArray]
"""``estimate(params, index) -> dC/dparams``: the rule's batch-mean estimate at ``params`` (as the
devices are read) on the training samples ``index``."""

Metrics = Callable[[NDArray, NDArray, NDArray, NDArray | None], tuple[float, float]]
"""``metrics(params, x, y, labels) -> (mean cost, accuracy)`` (accuracy NaN for regression)."""


def train_loop(task: Task, initial: NDArray, edges: Sequence[str], rule: str, *, estimate: Estimator,
               metrics: Metrics, optimizer: Optimizer, epochs: int, batch_size: int | None = None, seed: int = 0,
               shuffle: bool = True, hardware: Hardware | None = None) -> TrainResult:
    """Train the parameters ``initial`` (one per name in ``edges``) of ``task`` by a rule's gradient estimates.

    Two independent random streams come from ``seed``: the order of the
    samples, and the devices (variation, read and write noise). Each step
    reads the devices (``hardware.read``), asks ``estimate`` for the
    gradient on the batch, lets ``optimizer`` step the float shadow copy
    and writes the change to the devices (``hardware.apply_update``).
    Metrics are measured at the devices' values without read noise.

    Returns
    -------
    TrainResult
        ``g`` the shadow parameters, ``g_device`` the deployed ones,
        ``history`` as in :func:`physnet.learning.train.train` (the columns
        listed in the module docstring), ``stopped = "completed"``.

    Examples
    --------
    Any estimate plugs in; here the exact gradient of ``‖k - k*‖²``:

    >>> from physnet.learning.optimizers import SGD
    >>> from physnet.tasks import flow_regression
    >>> task = flow_regression(seed=0, n_train=4, n_test=2)
    >>> k0, target = task.network["pipe"]["k"], task.info["teacher"]
    >>> result = train_loop(task, k0, task.network["pipe"].names, "toy",
    ...                     estimate=lambda k, index: 2.0 * (k - target),
    ...                     metrics=lambda k, x, y, labels: (float(np.sum((k - target) ** 2)), float("nan")),
    ...                     optimizer=SGD(lr=0.5), epochs=2, batch_size=2)
    >>> result.history["steps"].tolist(), bool(np.allclose(result.g, target))
    ([0.0, 2.0, 2.0], True)
    """
    order_rng, device_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    hardware = hardware or Hardware()
    chip = hardware.init(initial, device_rng)
    state = optimizer.init(chip.shadow)
    x, y = np.asarray(task.x_train), np.asarray(task.y_train)

    def record(epoch: int, steps: int) -> dict[str, float]:
        params = hardware.device(chip)
        loss, accuracy = metrics(params, x, y, task.train_labels)
        test_loss, test_accuracy = metrics(params, np.asarray(task.x_test), np.asarray(task.y_test),
                                           task.test_labels)
        return {"epoch": epoch, "loss": loss, "test_loss": test_loss, "accuracy": accuracy,
                "test_accuracy": test_accuracy, "steps": steps}

    history = [record(0, 0)]
    size = len(x) if batch_size is None else batch_size
    for epoch in range(1, epochs + 1):
        order = order_rng.permutation(len(x)) if shuffle else np.arange(len(x))
        batches = [order[i:i + size] for i in range(0, len(x), size)]
        for index in batches:
            seen = hardware.read(hardware.device(chip), device_rng)
            stepped, state = optimizer.step(chip.shadow, estimate(seen, index), state)
            chip = hardware.apply_update(chip, stepped - chip.shadow, device_rng)
        history.append(record(epoch, len(batches)))
    table = {key: np.array([row[key] for row in history], dtype=np.float64) for key in history[0]}
    return TrainResult(chip.shadow, np.asarray(hardware.deployed(chip)), table, tuple(edges), rule, seed,
                       "completed")
