"""Training elastic tasks (spring networks, e.g. allostery) for experiment runs.

An elastic task (``task.domain == "elastic"``) trains the spring stiffnesses
``k``. Sample ``x`` drives the node forces ``x @ task.info["force_basis"]``
(``Σ_i x_i basis_i``) with the nodes ``task.info["pinned"]`` held; the cost
is the squared error ``C = ½‖y - y*‖²`` of the outputs ``task.outputs``
(:class:`~physnet.learning.elastic.ElasticOutputs` terms). Each rule
estimates ``dC/dk`` per sample; a step uses the batch mean, computed by one
batched call (every sample on one factorization of the stiffness matrix,
as multi-right-hand-side solves), and the optimizer moves ``k`` against it:

``"adjoint"``
    The exact gradient, :func:`~physnet.learning.elastic.elastic_gradient`.
``"fp"``
    Elastic frequency propagation,
    :func:`~physnet.learning.elastic.elastic_fp_update`: the estimate is its
    ``gradient.grad = ΔE^A ΔE^B / β`` (its update is ``-α`` times that).
    Exact at ``ω_A = ω_B = 0`` (the default, phasor solver); biased by
    ``O((ω/ω_min)²)`` for drives below the lowest eigenfrequency.
``"coupled"``
    Coupled learning,
    :func:`~physnet.learning.elastic.elastic_coupled_estimate`:
    ``½[(ΔE^C)² - (ΔE^F)²] / η`` with the outputs clamped at
    ``y^F + η(y* - y^F)``. As ``η → 0`` it tends to ``dC/dk / G`` for one
    output (``G`` its compliance): the adjoint direction, scaled by ``1/G``.

:func:`train_elastic` runs them through the loop of
:func:`~physnet.experiments.loop.train_loop` (as flow tasks are) and returns
the :class:`~physnet.learning.train.TrainResult` of electric training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError
from physnet.experiments.loop import train_loop
from physnet.hardware import Hardware
from physnet.learning.costs import SQUARED_ERROR
from physnet.learning.elastic import (
    ElasticOutputs,
    check_fp_args,
    elastic_coupled_estimate,
    elastic_fp_update,
    elastic_gradient,
)
from physnet.learning.gradient import GradientResult
from physnet.learning.optimizers import Optimizer
from physnet.learning.train import TrainResult
from physnet.solvers.elastic import solve_elastic
from physnet.system import System
from physnet.tasks import Task

__all__ = ["ELASTIC_DEFAULTS", "ElasticRule", "elastic_rule", "sample_forces", "elastic_outputs",
           "elastic_metrics", "batch_estimate", "train_elastic"]

ELASTIC_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "adjoint": {},
    "fp": {"beta": 1e-3, "omega_a": 0.0, "omega_b": 0.0, "solver": "phasor"},
    "coupled": {"eta": 1e-3},
})
"""The elastic rules and their parameters' defaults: FP's error-force amplitude per unit ``∂C/∂y`` (β, N/m),
drive frequencies (rad/s; 0 = static) and solver; coupled learning's nudge factor (η)."""

ElasticRule = Callable[..., GradientResult]
"""``rule(system, k, *, forces, pinned, outputs, targets) -> GradientResult``: the estimate of ``dC/dk`` of one
sample (forces (n_nodes, d), targets (n_outputs,)) or the mean over a batch (forces (batch, n_nodes, d), targets
(batch, n_outputs))."""


def _fp(system: System, k: NDArray, *, beta: float, omega_a: float, omega_b: float, solver: str,
        **sample: Any) -> GradientResult:
    return elastic_fp_update(system, k, **sample, alpha=1.0, beta=beta, omega_a=omega_a, omega_b=omega_b,
                             solver=solver).gradient


def elastic_rule(name: str, **params: Any) -> ElasticRule:
    """The estimator of the elastic rule ``name`` with ``params`` (defaults: :data:`ELASTIC_DEFAULTS`).

    Raises
    ------
    NetlistError
        An unknown rule or parameter, or FP settings
        :func:`~physnet.learning.elastic.elastic_fp_update` would reject.

    Examples
    --------
    >>> from physnet.tasks import allostery
    >>> task = allostery(seed=0)
    >>> sample = dict(forces=sample_forces(task, task.x_train[:1])[0], pinned=task.info["pinned"],
    ...               outputs=task.outputs, targets=task.y_train[0])
    >>> fp, exact = elastic_rule("fp", beta=1e-2)(task.network, None, **sample), elastic_rule("adjoint")(
    ...     task.network, None, **sample)
    >>> fp.method, bool(np.linalg.norm(fp.grad - exact.grad) < 1e-12 * np.linalg.norm(exact.grad))
    ('fp', True)
    >>> elastic_rule("ep")
    Traceback (most recent call last):
    ...
    physnet.errors.NetlistError: unknown elastic rule 'ep' (known: 'adjoint', 'fp', 'coupled')
    """
    if name not in ELASTIC_DEFAULTS:
        raise NetlistError(f"unknown elastic rule {name!r} (known: {', '.join(map(repr, ELASTIC_DEFAULTS))})")
    allowed = ELASTIC_DEFAULTS[name]
    unknown = [key for key in params if key not in allowed]
    if unknown:
        raise NetlistError(f"elastic rule {name!r} has no parameter {unknown[0]!r} (its parameters: "
                           f"{', '.join(allowed) or 'none'})")
    settings = {**allowed, **params}
    if name == "fp":
        check_fp_args(1.0, settings["beta"], settings["omega_a"], settings["omega_b"], settings["solver"])
        return partial(_fp, **settings)
    if name == "coupled":
        return partial(elastic_coupled_estimate, **settings)
    return partial(elastic_gradient, method="adjoint")


def sample_forces(task: Task, x: NDArray) -> NDArray[np.float64]:
    """The node forces of the samples ``x`` (n, n_inputs): ``x @ force_basis``, shape (n, n_nodes, d).

    Examples
    --------
    >>> from physnet.tasks import allostery
    >>> task = allostery(seed=0)
    >>> f = sample_forces(task, task.x_train)
    >>> f.shape, float(np.abs(f[0]).sum() / np.abs(f[1]).sum())
    ((2, 37, 2), 1.0)
    """
    return np.tensordot(np.asarray(x, dtype=np.float64), task.info["force_basis"], 1)


def _check_stiffness(system: System, k: NDArray) -> None:
    bad = ~(np.isfinite(k) & (k > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise NetlistError(f"stiffness k of spring {system['spring'].names[i]!r} = {float(k[i])!r} is invalid (must "
                           "be finite and > 0): keep stiffnesses positive with hardware.bounds or a smaller "
                           "learning rate")


def elastic_outputs(task: Task, k: NDArray, x: NDArray) -> NDArray[np.float64]:
    """The outputs (n, n_outputs) of the samples ``x`` at stiffnesses ``k``, by superposition.

    The network is linear, so the static responses to the force patterns of
    the basis (one multi-right-hand-side solve on the cached factorization
    at ``k``) serve every sample.

    Examples
    --------
    The initial network misses the allostery target:

    >>> from physnet.tasks import allostery
    >>> task = allostery(seed=0)
    >>> y = elastic_outputs(task, task.network["spring"]["k"], task.x_train)
    >>> y.shape, bool(np.allclose(y[0], -y[1])), bool(np.allclose(y, task.y_train))
    ((2, 1), True, False)
    """
    system = task.network
    k = np.asarray(k, dtype=np.float64)
    _check_stiffness(system, k)
    readout = ElasticOutputs.parse(task.outputs).readout(system)
    basis = np.asarray(task.info["force_basis"], dtype=np.float64)
    u = solve_elastic(system, basis, task.info["pinned"], k).u  # (n_basis, n_nodes, d)
    responses = (readout @ u.reshape(len(basis), -1).T).T
    return np.asarray(x, dtype=np.float64) @ responses


def elastic_metrics(task: Task, k: NDArray, x: NDArray, y: NDArray, labels: NDArray | None) -> tuple[float, float]:
    """Mean cost ``½‖y_out - y‖²`` over the samples and accuracy (NaN for regression) at stiffnesses ``k``.

    Examples
    --------
    >>> from physnet.tasks import allostery
    >>> task = allostery(seed=0)
    >>> loss, accuracy = elastic_metrics(task, task.network["spring"]["k"], task.x_train, task.y_train, None)
    >>> bool(loss > 0), accuracy
    (True, nan)
    """
    out = elastic_outputs(task, k, x)
    loss = float(np.mean(SQUARED_ERROR.value(out, y)))
    return loss, (task.accuracy(out, labels) if task.classification else float("nan"))


def batch_estimate(task: Task, rule: ElasticRule, k: NDArray, x: NDArray, y: NDArray) -> NDArray[np.float64]:
    """The mean over the samples ``x`` (n, n_inputs), targets ``y`` (n, n_outputs) of ``rule``'s ``dC/dk``.

    One batched call of ``rule`` (forces (n, n_nodes, d)): one numeric
    factorization at ``k`` for the whole batch.

    Examples
    --------
    Both training samples of allostery (forces ±F) have the same gradient:

    >>> from physnet.tasks import allostery
    >>> task = allostery(seed=0)
    >>> k = task.network["spring"]["k"]
    >>> both = batch_estimate(task, elastic_rule("adjoint"), k, task.x_train, task.y_train)
    >>> one = batch_estimate(task, elastic_rule("adjoint"), k, task.x_train[:1], task.y_train[:1])
    >>> both.shape, bool(np.allclose(both, one, rtol=1e-12, atol=0))
    ((85,), True)
    """
    return rule(task.network, k, forces=sample_forces(task, x), pinned=task.info["pinned"], outputs=task.outputs,
                targets=np.asarray(y, dtype=np.float64)).grad


def train_elastic(task: Task, *, rule: str, optimizer: Optimizer, epochs: int, batch_size: int | None = None,
                  seed: int = 0, shuffle: bool = True, hardware: Hardware | None = None,
                  **rule_params: Any) -> TrainResult:
    """Train an elastic task's spring stiffnesses by ``rule``; history as in :func:`physnet.learning.train.train`.

    Parameters
    ----------
    task : Task
        An elastic task (``task.domain == "elastic"``).
    rule : {"adjoint", "fp", "coupled"}
        The gradient estimate (module docstring), with ``rule_params``
        (:data:`ELASTIC_DEFAULTS`).
    optimizer : Optimizer
        Steps the stiffnesses (N/m) with the batch-mean estimate.
    epochs, batch_size, seed, shuffle, hardware
        As in :func:`~physnet.experiments.loop.train_loop`.

    Returns
    -------
    TrainResult
        ``g`` / ``g_device`` the stiffnesses, ``edges`` the spring names;
        ``history`` has ``epoch``, ``loss``, ``test_loss``, ``accuracy``,
        ``test_accuracy`` (NaN for regression) and ``steps`` (row 0: the
        initial network).

    Raises
    ------
    NetlistError
        A task of another domain, an unknown rule or parameter; a
        stiffness that training drives to ``<= 0``.

    Examples
    --------
    >>> from physnet.hardware import Bounds
    >>> from physnet.learning.optimizers import Adam
    >>> from physnet.tasks import allostery
    >>> task = allostery(seed=0, size=(5, 4))
    >>> result = train_elastic(task, rule="coupled", eta=1e-3, optimizer=Adam(lr=0.1), epochs=60,
    ...                        hardware=Hardware(bounds=Bounds(0.01, 10.0)))
    >>> bool(result.history["loss"][-1] < 1e-2 * result.history["loss"][0]), result.rule
    (True, 'coupled')
    """
    if task.domain != "elastic":
        raise NetlistError(f"task {task.name!r} is a {task.domain} task: train_elastic trains spring networks")
    estimator = elastic_rule(rule, **rule_params)
    springs = task.network["spring"]

    def estimate(k: NDArray, index: NDArray) -> NDArray:
        return batch_estimate(task, estimator, k, task.x_train[index], task.y_train[index])

    return train_loop(task, springs["k"], springs.names, rule, estimate=estimate,
                      metrics=partial(elastic_metrics, task), optimizer=optimizer, epochs=epochs,
                      batch_size=batch_size, seed=seed, shuffle=shuffle, hardware=hardware)
