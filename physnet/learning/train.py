"""The training loop: any rule, any optimizer, any hardware model, reproducible per seed.

One step: the rule estimates ``dC/dg`` on a mini-batch at the conductances
the devices really hold (with a hardware model: quantized, varied, read
with noise); the optimizer turns the estimate into an update of its float
"shadow" conductances; the hardware model applies that update (write noise,
bounds, BCGD / RVSM pulls — see :mod:`physnet.hardware`). After each
epoch the loss (and accuracy, for classification) is evaluated on the
training and test sets, optionally with the cosine between the rule's
estimate and the exact gradient.

Randomness (batch order, the rule's perturbations, device noise, alignment
checks) comes from independent streams of one ``numpy`` seed, so a seed
fixes the whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.learning.gradient import free_states
from physnet.learning.optimizers import Optimizer
from physnet.learning.problem import Problem, make_problem
from physnet.learning.rules import Adjoint, Rule, cosine, make_rule
from physnet.netlist import Netlist
from physnet.solvers.dc import NewtonOptions
from physnet.system import System

__all__ = ["Task", "Dataset", "DeviceModel", "EarlyStopping", "Decorrelation", "Callback", "TrainResult", "train",
           "source_inputs", "evaluate"]


class Task(Protocol):
    """What :func:`train` needs from a task: data plus the names of the input sources and output nodes.

    ``x_*`` has one column per input source (volts for voltage sources,
    amperes for current sources); ``y_*`` one column per output node. An
    optional boolean attribute ``classification`` turns on accuracy (the
    predicted class is the output with the highest potential).

    Examples
    --------
    Any object with these attributes will do (or :class:`Dataset`, or a
    :class:`physnet.tasks.Task`); teach a divider to output 0.25 V from 1 V:

    >>> from types import SimpleNamespace
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.optimizers import SGD
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 1.0])
    >>> data = SimpleNamespace(x_train=np.ones((1, 1)), y_train=np.full((1, 1), 0.25), x_test=None, y_test=None,
    ...                        inputs=("V1",), outputs=("out",))
    >>> train(net, "adjoint", data, optimizer=SGD(lr=5.0), epochs=2).history["loss"].round(6).tolist()
    [0.03125, 0.004395, 0.000364]
    """

    x_train: NDArray
    y_train: NDArray
    x_test: NDArray | None
    y_test: NDArray | None
    inputs: Sequence[str]
    outputs: Sequence[str]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Plain arrays as a :class:`Task`.

    Examples
    --------
    >>> import numpy as np
    >>> d = Dataset(np.zeros((4, 1)), np.zeros((4, 1)), inputs=("V1",), outputs=("out",))
    >>> d.x_test is None, d.classification
    (True, False)
    """

    x_train: NDArray
    y_train: NDArray
    x_test: NDArray | None = None
    y_test: NDArray | None = None
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()
    classification: bool = False


class DeviceModel(Protocol):
    """What :func:`train` needs from a hardware model (the protocol of :class:`physnet.hardware.Hardware`).

    ``init(g, rng)`` gives a state whose ``shadow`` attribute holds the float
    weights the optimizer moves; ``device(state)`` the conductances the
    devices realise; ``read(g, rng)`` one noisy read of them (what the rule
    sees); ``apply_update(state, delta, rng)`` the state after the
    optimizer's update ``delta`` (straight-through: computed at the read
    conductances, applied to the shadow); ``deployed(state)`` the final
    conductances.

    Examples
    --------
    A :class:`physnet.hardware.Hardware` with bounds: teaching a divider to
    output 0.25 V from 1 V drives ``R1`` to its lower bound.

    >>> from physnet.hardware import Bounds, Hardware
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.optimizers import SGD
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 1.0])
    >>> data = Dataset(np.ones((1, 1)), np.full((1, 1), 0.25), inputs=("V1",), outputs=("out",))
    >>> hardware = Hardware(bounds=Bounds(0.5, 1.5))
    >>> result = train(net, "adjoint", data, optimizer=SGD(lr=5.0), epochs=5, hardware=hardware)
    >>> result.g_device.round(3).tolist()
    [0.5, 1.427]
    """

    def init(self, g: NDArray, rng: np.random.Generator | None = None) -> Any: ...

    def device(self, state: Any) -> NDArray: ...

    def read(self, g: NDArray, rng: np.random.Generator | None = None) -> NDArray: ...

    def apply_update(self, state: Any, delta: NDArray, rng: np.random.Generator | None = None) -> Any: ...

    def deployed(self, state: Any) -> NDArray: ...


Callback = Callable[[int, Mapping[str, float], NDArray], "bool | None"]
"""``callback(epoch, record, g)`` after each epoch; returning ``True`` stops training."""


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when a metric stops improving or reaches a target.

    Parameters
    ----------
    patience : int, optional
        Epochs without an improvement larger than ``min_delta`` before stopping.
    min_delta : float, optional
    monitor : {"test_loss", "loss"}, optional
        ``"test_loss"`` falls back to ``"loss"`` without a test set.
    target : float, optional
        Stop as soon as the monitored loss is at or below this value.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.optimizers import SGD
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 1.0])
    >>> data = Dataset(np.ones((1, 1)), np.full((1, 1), 0.25), inputs=("V1",), outputs=("out",))
    >>> result = train(net, "adjoint", data, optimizer=SGD(lr=5.0), epochs=100,
    ...                early_stopping=EarlyStopping(monitor="loss", target=1e-6))
    >>> result.stopped, result.epochs, bool(result.history["loss"][-1] <= 1e-6)
    ('early stopping', 4, True)
    """

    patience: int = 5
    min_delta: float = 0.0
    monitor: str = "test_loss"
    target: float | None = None

    def __post_init__(self) -> None:
        if self.monitor not in ("test_loss", "loss"):
            raise NetlistError(f"early_stopping.monitor = {self.monitor!r} (allowed: test_loss, loss)")
        if int(self.patience) != self.patience or self.patience < 1:
            raise NetlistError(f"early_stopping.patience = {self.patience!r} must be an integer >= 1")


@dataclass(frozen=True)
class Decorrelation:
    """Input decorrelation (Dalm et al. 2023, after Ahmad et al.): the sources are driven by ``x̃ = R x``.

    ``R`` starts at the identity and learns, from the driven inputs of every
    mini-batch, to remove their correlations: ``R ← R - ε offdiag(⟨x̃ x̃ᵀ⟩) R``.
    Perturbative rules (node perturbation above all) learn much faster when
    the inputs they correlate with the noise are decorrelated.

    Parameters
    ----------
    rate : float
        Learning rate ``ε`` of ``R``.

    Examples
    --------
    >>> import numpy as np
    >>> d = Decorrelation(rate=0.5)
    >>> x = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, 0.0]])
    >>> d.step(d.init(2), x).round(3).tolist()
    [[1.0, -0.333], [-0.333, 1.0]]
    """

    rate: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.rate) and self.rate > 0):
            raise NetlistError(f"decorrelation rate = {self.rate!r} must be a finite number > 0")

    def init(self, n_inputs: int) -> NDArray[np.float64]:
        """The identity: inputs pass unchanged."""
        return np.eye(n_inputs)

    def step(self, R: NDArray, x_driven: NDArray) -> NDArray[np.float64]:
        """``R`` after one update from the driven inputs ``x̃`` (batch, n_inputs) of a mini-batch."""
        correlation = x_driven.T @ x_driven / len(x_driven)
        np.fill_diagonal(correlation, 0.0)
        return R - self.rate * correlation @ R


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    g : ndarray
        Final shadow (optimizer) conductances of the trainable edges (S).
    g_device : ndarray
        Final conductances of the devices, ``hardware.deployed`` (``g``
        without a hardware model).
    history : mapping of str to ndarray
        One entry per epoch, row 0 the initial state, measured at the
        devices' conductances (without read noise): ``epoch``, ``loss``,
        ``test_loss``, ``accuracy``, ``test_accuracy``, ``alignment`` (cosine
        with the exact gradient), ``power`` (mean dissipation per phase, W),
        ``energy`` (dissipation of all phases of the epoch, J per unit phase
        duration), ``phases`` (network states settled) and ``steps``. NaN
        where not measured.
    edges : tuple of str
        Trainable resistor names (the order of ``g``).
    rule : str
    seed : int
    stopped : str
        Why training ended: ``"completed"``, ``"early stopping"`` or
        ``"callback"``.
    input_transform : ndarray or None
        The learned decorrelation matrix ``R`` (sources driven by ``R x``),
        ``None`` without decorrelation.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.optimizers import SGD
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 1.0])
    >>> data = Dataset(np.ones((1, 1)), np.full((1, 1), 0.25), inputs=("V1",), outputs=("out",))
    >>> result = train(net, "fp", data, optimizer=SGD(lr=5.0), epochs=3)
    >>> result.epochs, result.stopped, result.edges, result.rule, result.history["loss"].shape
    (3, 'completed', ('R1', 'R2'), 'fp', (4,))
    """

    g: NDArray[np.float64]
    g_device: NDArray[np.float64]
    history: Mapping[str, NDArray[np.float64]]
    edges: tuple[str, ...]
    rule: str
    seed: int
    stopped: str
    input_transform: NDArray[np.float64] | None = None

    @property
    def epochs(self) -> int:
        """Epochs trained."""
        return len(self.history["epoch"]) - 1


def source_inputs(system: System, names: Sequence[str], x: NDArray) -> dict[str, NDArray]:
    """Source values per sample with the columns of ``x`` driving the sources ``names``.

    Sources not named keep their netlist DC values.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.vsource("Vb", "b", "0", dc=0.5)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["0", "0"], r=[1.0, 1.0])
    >>> source_inputs(net.compile(), ["V1"], np.array([[2.0], [3.0]]))["v_sources"].tolist()
    [[2.0, 0.5], [3.0, 0.5]]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise NetlistError(f"inputs: expected an array of shape (samples, {len(names)}), got {x.shape}")
    tables = {kind: system[kind] for kind in ("vsource", "isource")}
    values = {kind: np.tile(table["dc"], (len(x), 1)) for kind, table in tables.items()}
    used = set()
    for column, name in enumerate(names):
        for kind, table in tables.items():
            if name in table.names:
                values[kind][:, table.names.index(name)] = x[:, column]
                used.add(kind)
                break
        else:
            raise NetlistError(f"input {name!r} is not a voltage or current source of the network "
                               f"(sources: {', '.join(tables['vsource'].names + tables['isource'].names)})")
    return {f"{'v' if kind == 'vsource' else 'i'}_sources": values[kind] for kind in used}


def evaluate(problem: Problem, g: NDArray, *, classification: bool = False,
             options: NewtonOptions = NewtonOptions()) -> tuple[float, float]:
    """Mean cost and accuracy (NaN unless ``classification``) of the free states at conductances ``g``.

    Examples
    --------
    The divider ``v_out = g1 / (g1 + g2)`` at ``g = (1, 3)`` S puts 1 V at ``in`` and 0.25 V at ``out``:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> g = np.array([1.0, 3.0])
    >>> evaluate(make_problem(net, ["out"], [0.0]), g)
    (0.03125, nan)
    >>> loss, accuracy = evaluate(make_problem(net, ["in", "out"], [0.2, -0.2]), g, classification=True)
    >>> round(loss, 6), accuracy
    (0.42125, 1.0)
    """
    v = free_states(problem, problem.conductances(g), options=options)
    loss = float(np.mean(problem.costs(v)))
    if not classification:
        return loss, float("nan")
    hits = np.argmax(v[:, problem.outputs], axis=1) == np.argmax(problem.targets, axis=1)
    return loss, float(np.mean(hits))


def _batches(n: int, size: int | None, rng: np.random.Generator, shuffle: bool) -> list[NDArray]:
    order = rng.permutation(n) if shuffle else np.arange(n)
    size = n if size is None else size
    return [order[i:i + size] for i in range(0, n, size)]


@dataclass
class _Stopper:
    """Book-keeping of :class:`EarlyStopping` inside one run."""

    rule: EarlyStopping
    best: float = np.inf
    waited: int = 0

    def should_stop(self, record: Mapping[str, float]) -> bool:
        value = record[self.rule.monitor]
        if np.isnan(value):
            value = record["loss"]
        if self.rule.target is not None and value <= self.rule.target:
            return True
        if value < self.best - self.rule.min_delta:
            self.best, self.waited = value, 0
            return False
        self.waited += 1
        return self.waited >= self.rule.patience


def _read_only(a: NDArray) -> NDArray:
    view = a.view()
    view.flags.writeable = False
    return view


_TRAINERS = {"flow": "physnet.experiments.flow.train_chemical", "elastic": "physnet.experiments.elastic.train_elastic"}
"""The trainers of the tasks whose networks have no resistors to train."""


def train(
    network: System | Netlist,
    rule: Rule | str,
    data: Task,
    *,
    optimizer: Optimizer,
    epochs: int = 10,
    batch_size: int | None = None,
    seed: int = 0,
    g0: NDArray | None = None,
    trainable=None,
    cost: Cost = SQUARED_ERROR,
    hardware: DeviceModel | None = None,
    callbacks: Sequence[Callback] = (),
    early_stopping: EarlyStopping | None = None,
    decorrelation: Decorrelation | None = None,
    alignment_every: int = 0,
    classification: bool | None = None,
    shuffle: bool = True,
    progress: bool = False,
    options: NewtonOptions = NewtonOptions(),
) -> TrainResult:
    """Train the trainable conductances of a network on a task with a learning rule.

    Parameters
    ----------
    network : System or Netlist
    rule : Rule or str
        A rule object or a registered name (default hyperparameters).
    data : Task
        Training / test arrays with input source and output node names
        (e.g. :class:`Dataset`).
    optimizer : Optimizer
        SGD, momentum or Adam from :mod:`physnet.learning.optimizers`.
    epochs : int, optional
    batch_size : int, optional
        Samples per step (default: the whole training set).
    seed : int, optional
        Seeds batch order, perturbations, device noise and alignment checks.
    g0 : ndarray, optional
        Initial trainable conductances (default the network's).
    trainable : None, str or array of int, optional
        Which resistors train (see :func:`physnet.learning.problem.make_problem`).
    cost : Cost, optional
    hardware : DeviceModel, optional
        Device model, e.g. :class:`physnet.hardware.Hardware` (bounds,
        quantization, sparsity, variation, noise); ``None`` is ideal.
    callbacks : sequence of callables, optional
        ``callback(epoch, record, g)`` after every epoch; ``True`` stops.
    early_stopping : EarlyStopping, optional
    decorrelation : Decorrelation, optional
        Learn a decorrelating transform of the inputs (applied to the test
        set too).
    alignment_every : int, optional
        Every this many epochs, record the cosine between the rule's
        estimate and the exact gradient on the training set (0: never).
    classification : bool, optional
        Record accuracy; default ``data.classification`` if present.
    shuffle : bool, optional
        Shuffle the training set every epoch.
    progress : bool, optional
        Show a tqdm progress bar.
    options : NewtonOptions, optional
        DC solver settings for evaluation.

    Returns
    -------
    TrainResult

    Examples
    --------
    Teach a divider to output 0.25 V from 1 V:

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.optimizers import SGD
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 1.0])
    >>> data = Dataset(np.ones((1, 1)), np.full((1, 1), 0.25), inputs=("V1",), outputs=("out",))
    >>> result = train(net, "fp", data, optimizer=SGD(lr=5.0), epochs=50)
    >>> round(float(pn.solve_dc(net, result.g)["out"]), 4), bool(result.history["loss"][-1] < 1e-8)
    (0.25, True)
    """
    domain = getattr(data, "domain", "electric")
    if domain in _TRAINERS:
        raise NetlistError(f"task {getattr(data, 'name', '')!r} is a {domain} task, and train() trains the resistors of "
                           f"electric networks: use {_TRAINERS[domain]} (or an experiment config)")
    system = network.compile() if isinstance(network, Netlist) else network
    rule = make_rule(rule) if isinstance(rule, str) else rule
    if int(epochs) != epochs or epochs < 0:
        raise NetlistError(f"epochs = {epochs!r} must be an integer >= 0")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise NetlistError(f"batch_size = {batch_size!r} must be an integer >= 1 or None")
    classify = bool(getattr(data, "classification", False)) if classification is None else classification

    x_train, y_train = np.asarray(data.x_train, dtype=np.float64), np.asarray(data.y_train, dtype=np.float64)
    if len(x_train) != len(y_train):
        raise NetlistError(f"x_train has {len(x_train)} samples but y_train has {len(y_train)}")
    R = None if decorrelation is None else decorrelation.init(len(data.inputs))

    def problem_for(x: NDArray, y: NDArray) -> Problem:
        x = np.asarray(x, dtype=np.float64)
        driven = x if R is None else x @ R.T
        return make_problem(system, data.outputs, y, inputs=source_inputs(system, data.inputs, driven),
                            trainable=trainable, cost=cost)

    trainable_index = problem_for(x_train[:1], y_train[:1]).trainable
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    order_rng, rule_rng, device_rng, check_rng = streams

    g = np.array(system["resistor"]["g"][trainable_index] if g0 is None else g0, dtype=np.float64)
    chip = None if hardware is None else hardware.init(g, device_rng)
    g = g if chip is None else chip.shadow
    state = optimizer.init(g)
    reference = Adjoint(options)
    stopper = None if early_stopping is None else _Stopper(early_stopping)
    history: list[dict[str, float]] = []

    def record(epoch: int, steps: int, energy: float, phases: float, power: float) -> dict[str, float]:
        train_set = problem_for(x_train, y_train)
        g_device = g if chip is None else hardware.device(chip)
        loss, accuracy = evaluate(train_set, g_device, classification=classify, options=options)
        test_loss = test_accuracy = alignment = np.nan
        if data.x_test is not None:
            test_loss, test_accuracy = evaluate(problem_for(data.x_test, data.y_test), g_device,
                                                classification=classify, options=options)
        if alignment_every and epoch % alignment_every == 0:
            alignment = cosine(rule.estimate(train_set, g_device, rng=check_rng).grad,
                               reference.estimate(train_set, g_device).grad)
        return {"epoch": epoch, "loss": loss, "test_loss": test_loss, "accuracy": accuracy,
                "test_accuracy": test_accuracy, "alignment": alignment, "power": power, "energy": energy,
                "phases": phases, "steps": steps}

    history.append(record(0, 0, 0.0, 0.0, np.nan))
    stopped = "completed"
    bar = tqdm(range(1, epochs + 1), desc=f"train ({rule.name})", disable=not progress)
    for epoch in bar:
        energy = phases = 0.0
        batches = _batches(len(x_train), batch_size, order_rng, shuffle)
        for index in batches:
            batch = problem_for(x_train[index], y_train[index])
            seen = g if chip is None else hardware.read(hardware.device(chip), device_rng)
            estimate = rule.estimate(batch, seen, rng=rule_rng)
            stepped, state = optimizer.step(g, estimate.grad, state)
            if chip is None:
                g = stepped
            else:
                chip = hardware.apply_update(chip, stepped - g, device_rng)
                g = chip.shadow
            if R is not None:
                R = decorrelation.step(R, x_train[index] @ R.T)
            energy += len(index) * estimate.energy
            phases += len(index) * estimate.phases
        history.append(record(epoch, len(batches), energy, phases, energy / phases if phases else np.nan))
        bar.set_postfix(loss=f"{history[-1]['loss']:.3g}")
        if any([callback(epoch, history[-1], _read_only(g)) for callback in callbacks]):  # every one is called
            stopped = "callback"
            break
        if stopper is not None and stopper.should_stop(history[-1]):
            stopped = "early stopping"
            break
    bar.close()
    table = {key: np.array([row[key] for row in history], dtype=np.float64) for key in history[0]}
    edges = tuple(system["resistor"].names[i] for i in trainable_index)
    g_device = g if chip is None else np.asarray(hardware.deployed(chip), dtype=np.float64)
    return TrainResult(g, g_device, table, edges, rule.name, seed, stopped, R)
