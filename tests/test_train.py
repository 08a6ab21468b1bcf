"""The training loop: convergence, reproducibility, hardware hook, early stopping, callbacks, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError
from physnet.hardware import Bounds, Hardware, Noise, Quantization
from physnet.learning.optimizers import SGD, Adam
from physnet.learning.problem import make_problem
from physnet.learning.rules import CoupledLearning, EquilibriumPropagation, NodePerturbation, make_rule
from physnet.learning.train import Dataset, Decorrelation, EarlyStopping, evaluate, source_inputs, train
from physnet.tasks import coupled_learning_example


def _regression(seed: int = 0, n: int = 10, samples: int = 24, classification: bool = False):
    """Linear regression from a random teacher: same topology, other conductances."""
    rng = np.random.default_rng(seed)
    graph = nx.connected_watts_strogatz_graph(n, 4, 0.4, seed=seed)
    edges = list(graph.edges)
    net = pn.Netlist()
    net.resistors([f"R{k}" for k in range(len(edges))], [f"n{u}" for u, _ in edges], [f"n{v}" for _, v in edges],
                  g=rng.uniform(0.5, 2.0, len(edges)))
    net.vsource("V1", "n0", "0", dc=0.0)
    net.vsource("V2", "n1", "0", dc=0.0)
    net.resistor("Gload", f"n{n - 1}", "0", r=1.0)
    system = net.compile()
    teacher = np.append(rng.uniform(0.5, 2.0, len(edges)), 1.0)
    x = rng.uniform(-1.0, 1.0, (2 * samples, 2))
    outputs = (f"n{n - 2}", f"n{n - 3}")
    y = pn.solve_dc(system, teacher, v_sources=x).v[:, system.node_indices(outputs)]
    if classification:  # random one-hot labels: only the accuracy metric is under test
        y = np.eye(2)[rng.integers(0, 2, len(y))]
    return system, Dataset(x[:samples], y[:samples], x[samples:], y[samples:], ("V1", "V2"), outputs,
                           classification)


@pytest.mark.parametrize("rule", ["adjoint", "fp"])
def test_linear_regression_loss_falls_by_orders_of_magnitude(rule):
    system, data = _regression()
    result = train(system, rule, data, optimizer=Adam(lr=0.05), epochs=150, trainable="R")
    loss, test_loss = result.history["loss"], result.history["test_loss"]
    assert loss[0] / loss[-1] > 1e4
    assert test_loss[0] / test_loss[-1] > 1e4
    assert result.stopped == "completed" and result.epochs == 150
    assert result.edges == tuple(f"R{k}" for k in range(len(result.g)))


def test_fp_phasor_and_adjoint_train_identically():
    system, data = _regression(seed=1)
    runs = [train(system, rule, data, optimizer=SGD(lr=1.0), epochs=10, trainable="R").history["loss"]
            for rule in ("adjoint", "fp")]
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-10)


@pytest.mark.parametrize(("name", "options"), [
    ("adjoint", {}), ("fp", {}), ("ep", {}), ("ep-centered", {}), ("coupled", {"eta": 0.01}),
    ("node_perturbation", {"sigma": 1e-3, "samples": 32}), ("weight_perturbation", {"sigma": 1e-3, "samples": 32}),
    ("mgd", {"code": "fdma", "tau_theta": 73}),
])
def test_every_registered_rule_trains(name, options):
    system, data = _regression()
    result = train(system, make_rule(name, **options), data, optimizer=Adam(lr=0.02), epochs=10, trainable="R")
    assert result.rule == name.removesuffix("-centered")
    assert result.history["loss"][-1] < 0.2 * result.history["loss"][0]


def test_training_is_reproducible_per_seed():
    system, data = _regression(seed=2)

    def run(seed):
        return train(system, NodePerturbation(sigma=1e-3, samples=8), data, optimizer=SGD(lr=0.5), epochs=4,
                     batch_size=8, trainable="R", seed=seed, alignment_every=2)

    first, again, other = run(3), run(3), run(4)
    for key, values in first.history.items():
        np.testing.assert_array_equal(values, again.history[key], err_msg=key)
    np.testing.assert_array_equal(first.g, again.g)
    assert not np.array_equal(first.g, other.g)


def test_history_accounting():
    system, data = _regression(seed=3)
    result = train(system, EquilibriumPropagation(beta=1e-3, centered=True), data, optimizer=SGD(lr=0.5), epochs=3,
                   batch_size=10, trainable="R", alignment_every=2)
    h = result.history
    np.testing.assert_array_equal(h["epoch"], [0, 1, 2, 3])
    np.testing.assert_array_equal(h["steps"], [0, 3, 3, 3])  # 24 samples in batches of 10, 10, 4
    np.testing.assert_array_equal(h["phases"], [0, 72, 72, 72])  # 3 phases per sample
    assert np.all(h["energy"][1:] > 0)
    np.testing.assert_allclose(h["power"][1:], h["energy"][1:] / h["phases"][1:])
    assert np.isnan(h["alignment"][[1, 3]]).all()
    assert np.all(h["alignment"][[0, 2]] >= 0.999)
    assert np.isnan(h["accuracy"]).all()


def test_accuracy_is_the_argmax_of_the_output_potentials():
    system, data = _regression(seed=4, classification=True)
    result = train(system, "adjoint", data, optimizer=SGD(lr=0.1), epochs=0, trainable="R")
    v = pn.solve_dc(system, v_sources=data.x_test).v
    predicted = np.argmax(v[:, system.node_indices(data.outputs)], axis=1)
    expected = np.mean(predicted == np.argmax(data.y_test, axis=1))
    assert result.history["test_accuracy"][0] == pytest.approx(expected)
    assert 0.0 < expected < 1.0  # a non-trivial check


def test_early_stopping_on_target_and_patience():
    system, data = _regression()
    reached = train(system, "adjoint", data, optimizer=Adam(lr=0.05), epochs=150, trainable="R",
                    early_stopping=EarlyStopping(target=1e-5, monitor="loss", patience=1000))
    assert reached.stopped == "early stopping"
    assert reached.epochs < 150
    assert reached.history["loss"][-1] <= 1e-5 < reached.history["loss"][-2]
    stalled = train(system, "adjoint", data, optimizer=SGD(lr=1e-3), epochs=50, trainable="R",
                    early_stopping=EarlyStopping(patience=2, min_delta=1.0))
    assert stalled.stopped == "early stopping"
    assert stalled.epochs == 3  # epoch 1 improves on +inf, epochs 2 and 3 do not by min_delta


def test_callbacks_see_every_epoch_and_can_stop():
    system, data = _regression()
    seen = []

    def log(epoch, record, g):
        seen.append((epoch, record["loss"]))
        with pytest.raises(ValueError):
            g[0] = 0.0  # the parameters handed out are read-only
        return epoch == 2

    later = []
    result = train(system, "fp", data, optimizer=SGD(lr=1.0), epochs=10, trainable="R",
                   callbacks=[log, lambda epoch, record, g: later.append(epoch)])
    assert [e for e, _ in seen] == [1, 2]
    assert later == [1, 2]  # a stopping callback does not silence the others
    assert result.stopped == "callback" and result.epochs == 2
    assert seen[1][1] == result.history["loss"][2]


@dataclass(frozen=True)
class Chip:
    shadow: np.ndarray


@dataclass
class Quantized:
    """A minimal device model: conductances on a grid of ``step`` siemens, straight-through updates."""

    step: float = 0.05
    calls: dict = field(default_factory=lambda: {"read": 0, "update": 0})

    def init(self, g, rng=None):
        return Chip(np.array(g, dtype=float))

    def device(self, chip):
        return np.round(chip.shadow / self.step) * self.step

    def read(self, g, rng=None):
        self.calls["read"] += 1
        return g

    def apply_update(self, chip, delta, rng=None):
        self.calls["update"] += 1
        return Chip(chip.shadow + delta)

    def deployed(self, chip):
        return self.device(chip)


def test_device_model_sits_between_optimizer_and_physics():
    system, data = _regression()
    device = Quantized()
    result = train(system, "fp", data, optimizer=Adam(lr=0.05), epochs=20, batch_size=12, trainable="R",
                   hardware=device)
    assert device.calls == {"read": 20 * 2, "update": 20 * 2}
    np.testing.assert_allclose(result.g_device, np.round(result.g / 0.05) * 0.05)
    assert not np.allclose(result.g, result.g_device)  # the optimizer keeps its float shadow copy
    assert result.history["loss"][-1] < 0.1 * result.history["loss"][0]
    # The metrics are those of the quantized devices, not of the shadow.
    loss = evaluate(make_problem(system, data.outputs, data.y_train, inputs={"v_sources": data.x_train},
                                 trainable="R"), result.g_device)[0]
    assert result.history["loss"][-1] == pytest.approx(loss, rel=1e-12)


def test_physnet_hardware_model_trains_on_its_grid_and_reproducibly():
    system, data = _regression()
    device = Hardware(bounds=Bounds(0.1, 3.0), quantization=Quantization(30), read_noise=Noise(relative=0.01),
                      write_noise=Noise(relative=0.05))

    def run(seed):
        return train(system, "fp", data, optimizer=Adam(lr=0.05), epochs=10, trainable="R", hardware=device,
                     seed=seed)

    result, again = run(1), run(1)
    grid = np.linspace(0.1, 3.0, 30)
    assert np.min(np.abs(result.g_device[:, None] - grid[None, :]), axis=1).max() < 1e-12
    assert np.all((0.1 <= result.g) & (result.g <= 3.0))
    np.testing.assert_array_equal(result.history["loss"], again.history["loss"])
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_coupled_learning_reproduces_the_maguzj_trajectory():
    """Rule + SGD + bounds through train() give maguzj/coupled_learning's conductances to <= 1e-10.

    Their flow network is rebuilt with resistors (``g = k``): the physics is the same Laplacian.
    """
    ex = coupled_learning_example(Path(__file__).parent / "data" / "coupled_learning")
    names, pipes, sources = ex.network.node_names, ex.network["pipe"], ex.network["vsource"]
    net = pn.Netlist()
    net.resistors(list(pipes.names), [names[i] for i in pipes.a], [names[i] for i in pipes.b], g=pipes["k"])
    for name, a, b, dc in zip(sources.names, sources.a, sources.b, sources["dc"]):
        net.vsource(name, names[a], names[b], dc=float(dc))
    steps = ex.steps_per_epoch  # one sample repeated: `steps` single-sample steps per epoch, in order
    data = Dataset(np.tile(ex.v_sources, (steps, 1)), np.tile(ex.targets, (steps, 1)), inputs=sources.names,
                   outputs=ex.outputs)
    worst = []
    result = train(net, CoupledLearning(eta=ex.nudge), data, optimizer=SGD(lr=ex.learning_rate), epochs=ex.epochs,
                   batch_size=1, shuffle=False, g0=ex.trajectory[0],
                   hardware=Hardware(bounds=Bounds(ex.k_min, ex.k_max)),
                   callbacks=[lambda epoch, record, g: worst.append(np.max(np.abs(g - ex.trajectory[epoch])))])
    assert len(worst) == ex.epochs
    assert max(worst) <= 1e-10
    np.testing.assert_allclose(result.g_device, ex.trajectory[-1], rtol=0, atol=1e-10)


def test_input_decorrelation_learns_to_whiten_correlated_inputs():
    system, data = _regression(seed=5)
    rng = np.random.default_rng(0)
    x = data.x_train.copy()
    x[:, 1] = 0.8 * x[:, 0] + 0.2 * rng.uniform(-1.0, 1.0, len(x))  # strongly correlated sources
    data = Dataset(x, data.y_train, inputs=data.inputs, outputs=data.outputs)

    def correlation(inputs):
        c = inputs.T @ inputs
        return abs(c[0, 1]) / np.sqrt(c[0, 0] * c[1, 1])

    plain = train(system, NodePerturbation(sigma=1e-3, samples=8), data, optimizer=SGD(lr=0.2), epochs=20,
                  batch_size=8, trainable="R")
    result = train(system, NodePerturbation(sigma=1e-3, samples=8), data, optimizer=SGD(lr=0.2), epochs=20,
                   batch_size=8, trainable="R", decorrelation=Decorrelation(rate=1.0))
    assert plain.input_transform is None
    assert correlation(x) > 0.9
    assert correlation(x @ result.input_transform.T) < 0.05
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_source_inputs_and_argument_checks():
    system, data = _regression()
    with pytest.raises(NetlistError, match="input 'V9' is not a voltage or current source"):
        source_inputs(system, ["V1", "V9"], data.x_train)
    with pytest.raises(NetlistError, match=r"shape \(samples, 1\)"):
        source_inputs(system, ["V1"], data.x_train)
    with pytest.raises(NetlistError, match="batch_size"):
        train(system, "fp", data, optimizer=SGD(lr=1.0), batch_size=0)
    with pytest.raises(NetlistError, match="unknown learning rule"):
        train(system, "hebbian", data, optimizer=SGD(lr=1.0))
    with pytest.raises(NetlistError, match="monitor"):
        EarlyStopping(monitor="accuracy")
    with pytest.raises(NetlistError, match="decorrelation rate"):
        Decorrelation(rate=0.0)
    with pytest.raises(NetlistError, match="x_train has 24 samples but y_train has 23"):
        train(system, "fp", Dataset(data.x_train, data.y_train[:-1], inputs=data.inputs, outputs=data.outputs),
              optimizer=SGD(lr=1.0))


@pytest.mark.parametrize("task, trainer", [("allostery", "train_elastic"), ("flow_regression", "train_chemical")])
def test_train_points_other_domains_to_their_trainer(task, trainer):
    from physnet.tasks import make_task

    data = make_task(task, 0)
    with pytest.raises(NetlistError, match=f"is a {data.domain} task.*{trainer}"):
        pn.train(data.network, "adjoint", data, optimizer=SGD(lr=1.0), epochs=1)
