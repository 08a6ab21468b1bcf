"""Learning tasks: data sets plus the physical network that learns them, built deterministically from a seed.

A :class:`Task` bundles a compiled network (its default conductances are the
initial ones), the input and output conventions, and train/test data:

Electric and flow tasks
    ``x`` has one column per voltage source (pressure reservoir) of the
    network, in table order (``task.inputs`` names them): pass it as
    ``inputs={"v_sources": x}`` to :func:`physnet.gradient`,
    :func:`physnet.solve_dc` or :func:`physnet.learning.flow.chemical_update`.
    Constant bias sources are constant columns. ``y`` holds the target
    potentials of ``task.outputs`` (node names), V (Pa for flow).
Elastic tasks
    ``x`` has one column per input force pattern:
    ``forces = tensordot(x_row, task.info["force_basis"], 1)`` (shape
    ``(n_nodes, d)``) with ``task.info["pinned"]`` held;
    ``task.outputs`` are :class:`~physnet.learning.elastic.ElasticOutputs`
    terms and ``y`` their targets (m).
Trainable parameters
    Every resistor (electric), pipe (flow) or spring (elastic) of
    ``task.network``; its values there are the initial ones.
Classification
    One output node per class; ``y`` is ``target_high`` at the true class
    and ``target_low`` elsewhere, and ``train_labels`` / ``test_labels``
    hold the class indices: a sample is classified by the output with the
    highest potential (:meth:`Task.accuracy`).

Classification inputs are scaled to a voltage range with the *training*
set's minimum and maximum per feature, and each feature drives two sources, ``v`` and its
mirror ``v_low + v_high - v``: a passive network has only positive
conductances, and the mirrored input lets an output depend on a feature
with either sign. Two bias sources sit at ``v_low`` and ``v_high``.

Use :data:`TASKS` / :func:`make_task` to pick a task by name (experiment
configs do). :func:`coupled_learning_example` loads the reference data of
the coupled-learning example (maguzj/coupled_learning) for the
reproduction test.

Examples
--------
>>> task = make_task("linear_regression", seed=0)
>>> task.kind, task.x_train.shape, task.y_train.shape, task.outputs
('regression', (64, 3), (64, 2), ('l2_0', 'l2_1'))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.errors import NetlistError
from physnet.generators import layered, triangular_lattice
from physnet.netlist import GROUND, Netlist
from physnet.solvers.dc import solve_dc
from physnet.solvers.elastic import solve_elastic
from physnet.system import System

__all__ = [
    "Task",
    "TASKS",
    "make_task",
    "linear_regression",
    "diode_regression",
    "xor",
    "iris",
    "digits",
    "allostery",
    "flow_regression",
    "flow_iris",
    "CoupledLearningExample",
    "coupled_learning_example",
]

Kind = Literal["regression", "classification"]
Domain = Literal["electric", "flow", "elastic"]
Seed = int | np.random.Generator | None


@dataclass(frozen=True, eq=False)
class Task:
    """A supervised task on a physical network (see the module docstring for the conventions).

    Attributes
    ----------
    name : str
    kind : {"regression", "classification"}
    domain : {"electric", "flow", "elastic"}
    network : System
        The learning network; its conductances (stiffnesses) are the
        initial values.
    inputs : tuple of str
        Electric/flow: the voltage sources (reservoirs), one per column of
        ``x``. Elastic: names of the force patterns.
    outputs : tuple
        Output node names, or elastic output terms ``("pair", a, b)``.
    x_train, y_train, x_test, y_test : ndarray
        Inputs (n, n_inputs) and targets (n, n_outputs), read-only.
    classes : tuple of str
        Class names, output ``k`` for class ``k`` (empty for regression).
    train_labels, test_labels : ndarray of int or None
        Class index per sample (classification only).
    info : mapping
        Task-specific facts: the teacher's conductances, the input scaling,
        pinned nodes and force basis, ...

    Examples
    --------
    >>> task = make_task("xor")
    >>> task.kind, task.domain, task.classification, task.inputs[:2], task.classes
    ('classification', 'electric', True, ('Vl0_0', 'Vl0_1'), ('0', '1'))
    >>> task.x_train.flags.writeable  # the data are read-only
    False
    """

    name: str
    kind: Kind
    domain: Domain
    network: System
    inputs: tuple[str, ...]
    outputs: tuple
    x_train: NDArray[np.float64]
    y_train: NDArray[np.float64]
    x_test: NDArray[np.float64]
    y_test: NDArray[np.float64]
    classes: tuple[str, ...] = ()
    train_labels: NDArray[np.int64] | None = None
    test_labels: NDArray[np.int64] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("x_train", "y_train", "x_test", "y_test", "train_labels", "test_labels"):
            value = getattr(self, name)
            if value is not None:
                value = np.array(value)
                value.flags.writeable = False
                object.__setattr__(self, name, value)
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def classification(self) -> bool:
        """Whether outputs are read as classes (``kind == "classification"``)."""
        return self.kind == "classification"

    def accuracy(self, v_out: ArrayLike, labels: ArrayLike) -> float:
        """Fraction of samples whose highest output is their class (classification tasks).

        Examples
        --------
        >>> task = make_task("xor")
        >>> task.accuracy(task.y_train, task.train_labels)
        1.0
        """
        if self.kind != "classification":
            raise NetlistError(f"task {self.name!r} is a regression task: accuracy needs class outputs")
        return float(np.mean(np.argmax(np.asarray(v_out), axis=-1) == np.asarray(labels)))


# --------------------------------------------------------------- helpers
def _drive(net: Netlist, nodes: Sequence[str], prefix: str = "V") -> tuple[str, ...]:
    """Add a grounded voltage source (0 V placeholder) at each node; return their names, the columns of ``x``."""
    names = tuple(f"{prefix}{node}" for node in nodes)
    net.add_many("vsource", names, list(nodes), [GROUND] * len(nodes))
    return names


def _solve_targets(system: System, x: NDArray, outputs: Sequence[str], *, g: NDArray | None = None,
                   k: NDArray | None = None) -> NDArray[np.float64]:
    """Output potentials for every input row of ``x`` (one batched DC solve)."""
    v = solve_dc(system, g, k=k, v_sources=x).v
    return np.atleast_2d(v)[:, system.node_indices(outputs)]


def _encode(features: NDArray, low: NDArray, span: NDArray, v_range: tuple[float, float]) -> NDArray[np.float64]:
    """Source values: each feature scaled to ``v_range`` and its mirror, then the two bias sources."""
    v_lo, v_hi = v_range
    v = v_lo + (v_hi - v_lo) * (features - low) / span
    bias = np.broadcast_to([v_lo, v_hi], (len(features), 2))
    return np.concatenate([v, v_lo + v_hi - v, bias], axis=1)


def _one_hot(labels: NDArray, n_classes: int, low: float, high: float) -> NDArray[np.float64]:
    y = np.full((len(labels), n_classes), low)
    y[np.arange(len(labels)), labels] = high
    return y


def _check_range(v_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in v_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise NetlistError(f"v_range = {v_range!r} must be (low, high) with finite low < high")
    return lo, hi


def _teacher_task(name: str, kind_net: str, sizes: Sequence[int], *, diodes: bool, g_range: tuple[float, float],
                  n_train: int, n_test: int, v_range: tuple[float, float], seed: Seed) -> Task:
    """Regression whose targets a teacher of the same architecture produces exactly (so they are reachable)."""
    rng = np.random.default_rng(seed)
    v_range = _check_range(v_range)
    student = layered(sizes, kind=kind_net, g=g_range, seed=rng, diodes="shunt" if diodes else False)
    inputs = _drive(student, [f"l0_{j}" for j in range(sizes[0])])
    system = student.compile()
    table = "resistor" if kind_net == "resistor" else "pipe"
    param = "g" if kind_net == "resistor" else "k"
    teacher = rng.uniform(*g_range, size=len(system[table]))
    x = rng.uniform(*v_range, size=(n_train + n_test, sizes[0]))
    outputs = tuple(f"l{len(sizes) - 1}_{k}" for k in range(sizes[-1]))
    y = _solve_targets(system, x, outputs, **{param: teacher})
    domain = "electric" if kind_net == "resistor" else "flow"
    return Task(name, "regression", domain, system, inputs, outputs, x[:n_train], y[:n_train], x[n_train:],
                y[n_train:], info={"teacher": teacher, "teacher_parameter": param, "v_range": v_range})


# ----------------------------------------------------------------- tasks
def linear_regression(seed: Seed = 0, *, sizes: Sequence[int] = (3, 4, 2),
                      g_range: tuple[float, float] = (1e-4, 1e-3), n_train: int = 64, n_test: int = 32,
                      v_range: tuple[float, float] = (-1.0, 1.0)) -> Task:
    """Linear regression: targets from a random teacher resistor network of the same architecture.

    The student is a layered resistor network (:func:`physnet.generators.layered`)
    whose first layer is driven by voltage sources ``Vl0_j``; the teacher
    has the same topology with other random conductances (``info["teacher"]``,
    in the order of ``network["resistor"]``), and ``y`` is its output
    potentials, so zero cost is reachable.

    Parameters
    ----------
    seed : int, Generator or None
        Everything random (student and teacher conductances, inputs) comes from it.
    sizes : sequence of int
        Layer sizes: inputs, hidden layers, outputs.
    g_range : (float, float)
        Uniform range of the student's and the teacher's conductances (S).
    n_train, n_test : int
        Samples in each split.
    v_range : (float, float)
        Uniform range of the input voltages (V).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> task = linear_regression(seed=1)
    >>> v = pn.solve_dc(task.network, task.info["teacher"], v_sources=task.x_test).v
    >>> bool(np.allclose(v[:, task.network.node_indices(task.outputs)], task.y_test, atol=1e-12))
    True
    """
    return _teacher_task("linear_regression", "resistor", sizes, diodes=False, g_range=g_range, n_train=n_train,
                         n_test=n_test, v_range=v_range, seed=seed)


def diode_regression(seed: Seed = 0, *, sizes: Sequence[int] = (2, 6, 1),
                     g_range: tuple[float, float] = (1e-4, 1e-3), n_train: int = 64, n_test: int = 32,
                     v_range: tuple[float, float] = (-2.0, 2.0)) -> Task:
    """Nonlinear regression: a teacher layered network with shunt diodes at its hidden nodes.

    As :func:`linear_regression`, with antiparallel diodes to ground at
    every hidden node (``diodes="shunt"``), which clip hidden potentials
    softly at about ±0.6 V; inputs of ±2 V drive them well into the
    nonlinear range.

    Examples
    --------
    >>> task = diode_regression(seed=0)
    >>> len(task.network["diode"]), task.x_train.shape
    (12, (64, 2))
    """
    if len(sizes) < 3:
        raise NetlistError(f"sizes = {tuple(sizes)!r}: diode regression needs a hidden layer for its diodes")
    return _teacher_task("diode_regression", "resistor", sizes, diodes=True, g_range=g_range, n_train=n_train,
                         n_test=n_test, v_range=v_range, seed=seed)


def flow_regression(seed: Seed = 0, *, sizes: Sequence[int] = (3, 4, 2),
                    k_range: tuple[float, float] = (0.5, 1.5), n_train: int = 64, n_test: int = 32,
                    p_range: tuple[float, float] = (0.0, 1.0)) -> Task:
    """Pressure targets in a flow network: a teacher pipe network of the same topology.

    Pipes (``kind="flow"``) in a layered network; the first layer's nodes
    are pressure reservoirs (``Vl0_j``, pressures in ``p_range``, Pa), the
    targets are the teacher's pressures at the last layer
    (``info["teacher"]`` holds its pipe conductances).

    Examples
    --------
    >>> task = flow_regression(seed=0)
    >>> task.domain, len(task.network["pipe"]), task.inputs[:2]
    ('flow', 20, ('Vl0_0', 'Vl0_1'))
    """
    return _teacher_task("flow_regression", "flow", sizes, diodes=False, g_range=k_range, n_train=n_train,
                         n_test=n_test, v_range=p_range, seed=seed)


def _classification(name: str, features: NDArray, labels: NDArray, classes: Sequence[str], *, kind_net: str,
                    hidden: Sequence[int], g_range: tuple[float, float], test_size: float | int,
                    v_range: tuple[float, float], target_low: float, target_high: float, seed: Seed) -> Task:
    """Split (stratified, seeded), scale to sources, build the network with one output per class."""
    from sklearn.model_selection import train_test_split

    v_range = _check_range(v_range)
    rng = np.random.default_rng(seed)
    split_seed = int(rng.integers(2**31))
    f_train, f_test, l_train, l_test = train_test_split(features, labels, test_size=test_size, stratify=labels,
                                                        random_state=split_seed)
    low = f_train.min(axis=0)
    span = f_train.max(axis=0) - low
    span[span == 0] = 1.0  # a constant feature maps to v_low
    x_train, x_test = (_encode(f, low, span, v_range) for f in (f_train, f_test))
    n_classes = len(classes)
    sizes = [x_train.shape[1], *hidden, n_classes]
    diodes = "shunt" if hidden and kind_net == "resistor" else False
    net = layered(sizes, kind=kind_net, g=g_range, seed=rng, diodes=diodes)
    inputs = _drive(net, [f"l0_{j}" for j in range(sizes[0])])
    outputs = tuple(f"l{len(sizes) - 1}_{k}" for k in range(n_classes))
    y_train = _one_hot(l_train, n_classes, target_low, target_high)
    y_test = _one_hot(l_test, n_classes, target_low, target_high)
    domain = "electric" if kind_net == "resistor" else "flow"
    info = {"feature_low": low, "feature_span": span, "v_range": v_range, "split_seed": split_seed}
    return Task(name, "classification", domain, net.compile(), inputs, outputs, x_train, y_train, x_test, y_test,
                tuple(classes), np.asarray(l_train, dtype=np.int64), np.asarray(l_test, dtype=np.int64), info)


def _sklearn_data(loader: str) -> tuple[NDArray, NDArray, tuple[str, ...]]:
    try:
        import sklearn.datasets as datasets
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise ImportError(f"the {loader!r} task needs scikit-learn (pip install scikit-learn)") from None
    data = getattr(datasets, loader)()
    return np.asarray(data.data, dtype=np.float64), np.asarray(data.target), tuple(map(str, data.target_names))


def iris(seed: Seed = 0, *, hidden: Sequence[int] = (8,),
         g_range: tuple[float, float] = (1e-4, 1e-3), test_size: float | int = 0.3,
         v_range: tuple[float, float] = (-3.0, 3.0), target_low: float = -0.2, target_high: float = 0.2) -> Task:
    """Iris (scikit-learn's ``load_iris``, 150 samples, 3 classes) classified by output voltages.

    The 4 features drive 4 + 4 mirrored + 2 bias sources at ±3 V, well
    past the diodes' knee (about 0.6 V), through ``hidden`` layers with
    shunt diodes at every hidden node (default one layer of 8). With
    ``hidden=()`` the network is a linear crossbar: a least-squares linear
    classifier, which reaches only about 85 % on Iris (the middle class is
    masked). The split is stratified and seeded (``test_size`` fraction or
    count).

    Examples
    --------
    >>> task = iris(seed=0)
    >>> task.x_train.shape, task.x_test.shape, task.classes
    ((105, 10), (45, 10), ('setosa', 'versicolor', 'virginica'))
    >>> import numpy as np; np.bincount(task.test_labels).tolist()
    [15, 15, 15]
    """
    features, labels, classes = _sklearn_data("load_iris")
    return _classification("iris", features, labels, classes, kind_net="resistor", hidden=hidden, g_range=g_range,
                           test_size=test_size, v_range=v_range, target_low=target_low,
                           target_high=target_high, seed=seed)


def digits(seed: Seed = 0, *, hidden: Sequence[int] = (),
           g_range: tuple[float, float] = (1e-4, 1e-3), test_size: float | int = 0.3,
           v_range: tuple[float, float] = (-3.0, 3.0), target_low: float = -0.2, target_high: float = 0.2) -> Task:
    """The 8×8 digits (scikit-learn's ``load_digits``, 1797 samples, 10 classes) classified by output voltages.

    As :func:`iris` with the 64 pixel intensities (130 sources); the
    default network is the linear crossbar (``hidden=()``, 1300
    resistors), pass ``hidden`` for diode layers.

    Examples
    --------
    >>> task = digits(seed=0)
    >>> task.x_train.shape, len(task.outputs), len(task.network["resistor"])
    ((1257, 130), 10, 1300)
    """
    features, labels, classes = _sklearn_data("load_digits")
    return _classification("digits", features, labels, classes, kind_net="resistor", hidden=hidden,
                           g_range=g_range, test_size=test_size, v_range=v_range, target_low=target_low,
                           target_high=target_high, seed=seed)


def flow_iris(seed: Seed = 0, *, hidden: Sequence[int] = (),
              k_range: tuple[float, float] = (0.5, 1.5), test_size: float | int = 0.3,
              p_range: tuple[float, float] = (0.0, 1.0), target_low: float = 0.4, target_high: float = 0.6) -> Task:
    """Iris in a flow network: pressures in, one output pressure per class out.

    For learning by chemical error signalling
    (:func:`physnet.learning.flow.chemical_update`, Anisetti, Scellier &
    Schwarz 2023): the sources are pressure reservoirs (``p_range``, Pa),
    the network is pipes only (a layered network, ``hidden`` layers
    optional), so outputs are never held by a reservoir.

    Examples
    --------
    >>> task = flow_iris(seed=0)
    >>> task.domain, len(task.network["pipe"]), task.outputs
    ('flow', 30, ('l1_0', 'l1_1', 'l1_2'))
    """
    features, labels, classes = _sklearn_data("load_iris")
    return _classification("flow_iris", features, labels, classes, kind_net="flow", hidden=hidden,
                           g_range=k_range, test_size=test_size, v_range=p_range, target_low=target_low,
                           target_high=target_high, seed=seed)


def xor(seed: Seed = 0, *, hidden: int = 8,
        g_range: tuple[float, float] = (1e-4, 1e-3), v_range: tuple[float, float] = (-3.0, 3.0),
        target_low: float = -0.2, target_high: float = 0.2) -> Task:
    """XOR with diodes: two binary inputs, classes ``"0"`` and ``"1"``, one output node each.

    The four points are both the training and the test set. Inputs are
    encoded as for :func:`iris` (``0 → v_low``, ``1 → v_high``, mirrored,
    plus bias, ±3 V), through one hidden layer of ``hidden`` nodes with
    shunt diodes. An XOR network needs the nonlinearity *and* the bias:
    without bias the network is odd in its inputs, which XOR is not; and
    inputs of ±1 V leave the hidden potentials below the diodes' knee, so
    the network stays nearly linear.

    Examples
    --------
    >>> task = xor()
    >>> task.x_train.tolist()[1], task.train_labels.tolist()
    ([-3.0, 3.0, 3.0, -3.0, -3.0, 3.0], [0, 1, 1, 0])
    """
    if hidden < 1:
        raise NetlistError(f"hidden = {hidden!r}: XOR needs a hidden layer (its diodes are the nonlinearity)")
    v_range = _check_range(v_range)
    rng = np.random.default_rng(seed)
    points = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    x = _encode(points, np.zeros(2), np.ones(2), v_range)
    sizes = [x.shape[1], hidden, 2]
    net = layered(sizes, g=g_range, seed=rng, diodes="shunt")
    inputs = _drive(net, [f"l0_{j}" for j in range(sizes[0])])
    y = _one_hot(labels, 2, target_low, target_high)
    return Task("xor", "classification", "electric", net.compile(), inputs, ("l2_0", "l2_1"), x, y, x, y,
                ("0", "1"), labels, labels, {"v_range": v_range})


def allostery(seed: Seed = 0, *, size: tuple[int, int] = (6, 6),
              k_range: tuple[float, float] = (0.5, 1.5), ratio: float = 1.0, force: float = 0.01) -> Task:
    """Elastic allostery: the strain of a target pair follows that of a source pair.

    A triangular spring lattice (unit bonds, stiffnesses in ``k_range``)
    pinned at its two bottom corners. Equal and opposite forces along the
    bond pull the *source* pair (two neighbours at the middle of the left
    edge) apart; the output is the extension of the *target* pair (the
    neighbours at the middle of the right edge), and its target is
    ``ratio`` times the source pair's extension in the initial network
    (``info["source_extension"]`` per sample). Samples are force amplitudes
    (``x``, N): 1 and -1 times ``force`` for training, 0.5 and 2 for test;
    the network is linear, so one sample already fixes the task.

    Examples
    --------
    >>> task = allostery(seed=0)
    >>> task.outputs, task.info["pinned"], task.x_train.ravel().tolist()
    ((('pair', 'n5_2', 'n5_3'),), ('n0_0', 'n5_0'), [0.01, -0.01])
    """
    rng = np.random.default_rng(seed)
    nx_, ny = size
    if nx_ < 3 or ny < 4:
        raise NetlistError(f"size = {size!r} must be at least (3, 4) for distinct source and target pairs")
    system = triangular_lattice(nx_, ny, kind="elastic", g=k_range, seed=rng).compile()
    mid = ny // 2
    source = (f"n0_{mid - 1}", f"n0_{mid}")
    target = (f"n{nx_ - 1}_{mid - 1}", f"n{nx_ - 1}_{mid}")
    pinned = ("n0_0", f"n{nx_ - 1}_0")
    ia, ib = system.node_indices(source)
    unit = (system.positions[ia] - system.positions[ib]) / np.linalg.norm(system.positions[ia] - system.positions[ib])
    basis = np.zeros((1, system.n_nodes, system.positions.shape[1]))
    basis[0, ia], basis[0, ib] = unit, -unit  # pulls the pair apart for x > 0
    outputs = (("pair", *target),)
    x_train = force * np.array([[1.0], [-1.0]])
    x_test = force * np.array([[0.5], [2.0]])
    u = solve_elastic(system, basis[0], pinned).u  # linear: the source extension per newton
    source_per_newton = float(unit @ (u[ia] - u[ib]))
    y_train, y_test = ratio * source_per_newton * x_train, ratio * source_per_newton * x_test
    info = {"pinned": pinned, "force_basis": basis, "source": source, "target": target, "ratio": ratio,
            "source_extension": source_per_newton * np.concatenate([x_train, x_test]).ravel()}
    return Task("allostery", "regression", "elastic", system, ("source_dipole",), outputs, x_train, y_train, x_test,
                y_test, info=info)


TASKS: Mapping[str, Callable[..., Task]] = MappingProxyType({
    "linear_regression": linear_regression,
    "diode_regression": diode_regression,
    "xor": xor,
    "iris": iris,
    "digits": digits,
    "allostery": allostery,
    "flow_regression": flow_regression,
    "flow_iris": flow_iris,
})
"""Task builders by name; each takes ``seed`` and keyword options."""


def make_task(name: str, seed: Seed = 0, **options: Any) -> Task:
    """Build the task ``name`` (a key of :data:`TASKS`) from ``seed`` with builder ``options``.

    Examples
    --------
    >>> make_task("iris", seed=3).name
    'iris'
    >>> make_task("mnist")
    Traceback (most recent call last):
    ...
    physnet.errors.NetlistError: unknown task 'mnist' (known: linear_regression, diode_regression, xor, iris, digits, allostery, flow_regression, flow_iris)
    """
    if name not in TASKS:
        raise NetlistError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return TASKS[name](seed, **options)


# ------------------------------------------------- coupled-learning example
@dataclass(frozen=True, eq=False)
class CoupledLearningExample:
    """The coupled-learning example of maguzj/coupled_learning, as a physnet flow network.

    Their node ``i`` is node ``"n{i}"`` here, except the first source
    node, which is ground ``"0"`` (the reference holds it at 0). Pipe
    ``P{e}`` is their edge ``e`` (``edges[e]``), in their conductance order.

    Attributes
    ----------
    network : System
        Pipes with the initial conductances, reservoirs ``V{name}`` at the
        other sources (their pressures: ``v_sources``).
    clamped : System
        The same plus reservoirs ``C{name}`` at the outputs (the clamped
        phase): ``v_sources`` is ``[*v_sources, *clamp values]``.
    v_sources : ndarray
        Pressures of the source reservoirs.
    outputs : tuple of str
        Target nodes.
    targets : ndarray
        Their target pressures.
    edges : ndarray of int, shape (n_edges, 2)
        Their edge list (node ids).
    learning_rate, nudge, k_min, k_max : float
        α, η (from their code: 0.1) and the conductance bounds.
    steps_per_epoch, epochs : int
    trajectory : ndarray, shape (epochs + 1, n_edges)
        Conductances at the start and after every epoch.
    losses : ndarray, shape (epochs + 1,)
        Their losses (``losses[e]``, e >= 1, is the free state of the
        *last step* of epoch ``e``, before that step's update).

    Examples
    --------
    In a source checkout:

    >>> from pathlib import Path
    >>> import physnet
    >>> ex = coupled_learning_example(Path(physnet.__file__).parents[1] / "tests" / "data" / "coupled_learning")
    >>> ex.epochs, ex.steps_per_epoch, ex.nudge, ex.losses.shape, ex.clamped["vsource"].names
    (100, 10, 0.1, (101,), ('Vn49', 'Vn23', 'Cn15', 'Cn43'))
    """

    network: System
    clamped: System
    v_sources: NDArray[np.float64]
    outputs: tuple[str, ...]
    targets: NDArray[np.float64]
    edges: NDArray[np.int64]
    learning_rate: float
    nudge: float
    k_min: float
    k_max: float
    steps_per_epoch: int
    epochs: int
    trajectory: NDArray[np.float64]
    losses: NDArray[np.float64]


_CL_NUDGE = 0.1  # η of the reference run: set in its code (cl_utils), not written to its files


def coupled_learning_example(folder: str | Path) -> CoupledLearningExample:
    """Load the coupled-learning reference run (``example-network*.json`` / ``.csv`` in ``folder``).

    The files are not shipped with physnet (their repository has no
    license); the test suite has a copy in ``tests/data/coupled_learning``.

    Examples
    --------
    In a source checkout:

    >>> from pathlib import Path
    >>> import physnet
    >>> ex = coupled_learning_example(Path(physnet.__file__).parents[1] / "tests" / "data" / "coupled_learning")
    >>> ex.trajectory.shape, ex.outputs, ex.network["vsource"].names
    ((101, 225), ('n15', 'n43'), ('Vn49', 'Vn23'))
    """
    folder = Path(folder)
    graph = json.loads((folder / "example-network_graph.json").read_text())
    meta = json.loads((folder / "example-network_global.json").read_text())
    trajectory = np.loadtxt(folder / "example-network.csv", delimiter=",", ndmin=2)
    if meta.get("target_type") != "node":
        raise NetlistError(f"{folder}: target_type {meta.get('target_type')!r} is not supported (only 'node')")
    sources, values = list(meta["indices_source"]), np.asarray(meta["inputs_source"], dtype=np.float64)
    if values[0] != 0.0:
        raise NetlistError(f"{folder}: the first source (node {sources[0]}) must be held at 0 to serve as ground")
    names = [GROUND if i == sources[0] else f"n{i}" for i in graph["nodes"]]
    edges = np.asarray(graph["edges"], dtype=np.int64)
    outputs = tuple(names[i] for i in meta["indices_target"])

    def build(clamp: bool) -> System:
        net = Netlist("coupled_learning example-network")
        points = np.asarray(graph["pts"], dtype=np.float64)
        real = [i for i, n in enumerate(names) if n != GROUND]
        net.nodes([names[i] for i in real], points[real])
        net.add_many("pipe", [f"P{e}" for e in range(len(edges))], [names[a] for a in edges[:, 0]],
                     [names[b] for b in edges[:, 1]], k=trajectory[0])
        _drive(net, [names[i] for i in sources[1:]])
        if clamp:
            _drive(net, outputs, prefix="C")
        return net.compile()

    return CoupledLearningExample(
        network=build(False), clamped=build(True), v_sources=values[1:], outputs=outputs,
        targets=np.asarray(meta["outputs_target"], dtype=np.float64), edges=edges,
        learning_rate=float(meta["learning_rate"]), nudge=_CL_NUDGE, k_min=float(meta["min_k"]),
        k_max=float(meta["max_k"]), steps_per_epoch=int(meta["learning_step"]) // int(meta["epoch"]),
        epochs=int(meta["epoch"]), trajectory=trajectory, losses=np.asarray(meta["losses"], dtype=np.float64))
