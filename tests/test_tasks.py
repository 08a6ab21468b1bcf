"""Tasks: deterministic per seed, shapes and conventions, stratified splits, reachable teacher targets."""

from __future__ import annotations

import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError
from physnet.experiments.schema import TASK_DOMAINS
from physnet.learning.elastic import elastic_gradient
from physnet.learning.flow import chemical_update
from physnet.tasks import TASKS, Task, make_task

ALL = sorted(TASKS)


def _same(a: Task, b: Task) -> bool:
    arrays = ("x_train", "y_train", "x_test", "y_test")
    if not all(np.array_equal(getattr(a, n), getattr(b, n)) for n in arrays):
        return False
    return all(np.array_equal(a.network[kind]["g" if kind == "resistor" else "k"],
                              b.network[kind]["g" if kind == "resistor" else "k"])
               for kind in ("resistor", "pipe", "spring"))


@pytest.fixture(scope="module")
def built() -> dict[str, Task]:
    return {name: make_task(name, seed=0) for name in ALL}


@pytest.mark.parametrize("name", ALL)
def test_deterministic_per_seed(name, built):
    assert _same(built[name], make_task(name, seed=0))
    assert not _same(built[name], make_task(name, seed=1))  # another network (and split or samples)


@pytest.mark.parametrize("name", ALL)
def test_shapes_and_conventions(name, built):
    task = built[name]
    assert task.kind in ("regression", "classification") and task.domain in ("electric", "flow", "elastic")
    assert TASK_DOMAINS[name] == task.domain  # experiment configs pick the task's rules by it
    assert task.x_train.shape[1] == task.x_test.shape[1] == len(task.inputs)
    assert task.y_train.shape == (len(task.x_train), len(task.outputs))
    assert task.y_test.shape == (len(task.x_test), len(task.outputs))
    if task.domain != "elastic":
        assert task.inputs == task.network["vsource"].names  # x columns are the sources, in table order
        task.network.node_indices(task.outputs)  # outputs are nodes
    with pytest.raises(ValueError):
        task.x_train[0, 0] = 1.0  # read-only data
    assert task.classification == (task.kind == "classification")
    if task.classification:
        assert len(task.classes) == len(task.outputs)
        np.testing.assert_array_equal(np.argmax(task.y_train, axis=1), task.train_labels)
        assert task.accuracy(task.y_test, task.test_labels) == 1.0


@pytest.mark.parametrize("name, n_classes, n_total", [("iris", 3, 150), ("digits", 10, 1797), ("flow_iris", 3, 150)])
def test_split_is_stratified(name, n_classes, n_total, built):
    task = built[name]
    assert len(task.train_labels) + len(task.test_labels) == n_total
    total = np.bincount(np.concatenate([task.train_labels, task.test_labels]), minlength=n_classes)
    test = np.bincount(task.test_labels, minlength=n_classes)
    expected = total * len(task.test_labels) / n_total
    assert np.all(np.abs(test - expected) <= 1.0)


def test_inputs_scaled_and_mirrored(built):
    task = built["iris"]
    v = task.x_train[:, :4]
    np.testing.assert_allclose(v.min(axis=0), -3.0)  # each feature's training range maps onto v_range
    np.testing.assert_allclose(v.max(axis=0), 3.0)
    np.testing.assert_array_equal(task.x_train[:, 4:8], -v)  # mirror v_lo + v_hi - v
    np.testing.assert_array_equal(task.x_train[:, 8:], np.broadcast_to([-3.0, 3.0], (len(v), 2)))


@pytest.mark.parametrize("name, param", [("linear_regression", "g"), ("diode_regression", "g"),
                                         ("flow_regression", "k")])
def test_teacher_reproduces_its_targets(name, param, built):
    """Solving the network with the teacher's conductances gives the targets exactly (reachable)."""
    task = built[name]
    out = task.network.node_indices(task.outputs)
    for x, y in ((task.x_train, task.y_train), (task.x_test, task.y_test)):
        v = pn.solve_dc(task.network, **{param: task.info["teacher"]}, v_sources=x).v
        np.testing.assert_allclose(v[:, out], y, rtol=0, atol=1e-12)
        student = pn.solve_dc(task.network, v_sources=x).v  # the initial network does not solve it
        assert np.max(np.abs(student[:, out] - y)) > 1e-3


def test_diode_regression_is_nonlinear(built):
    task = built["diode_regression"]
    x = task.x_train[:2]
    v = pn.solve_dc(task.network, task.info["teacher"], v_sources=np.stack([x[0], 2 * x[0]])).v
    out = task.network.node_indices(task.outputs)
    assert abs(v[1, out[0]] - 2 * v[0, out[0]]) > 1e-3  # doubling the inputs does not double the output


def test_xor_data(built):
    task = built["xor"]
    assert task.train_labels.tolist() == [0, 1, 1, 0] and len(task.network["diode"]) == 16
    np.testing.assert_array_equal(task.x_train, task.x_test)


def test_electric_tasks_feed_the_gradient(built):
    task = built["iris"]
    r = pn.gradient(task.network, inputs={"v_sources": task.x_train[:8]}, outputs=task.outputs,
                    targets=task.y_train[:8])
    assert r.grad.shape == (len(task.network["resistor"]),) and np.isfinite(r.grad).all()


def test_flow_iris_feeds_chemical_learning(built):
    task = built["flow_iris"]
    step = chemical_update(task.network, inputs={"v_sources": task.x_train[:8]}, outputs=task.outputs,
                           targets=task.y_train[:8], alpha=0.1, beta=1e-2)
    assert step.delta_g.shape == (len(task.network["pipe"]),) and np.isfinite(step.delta_g).all()


def test_allostery_targets_follow_the_source_strain(built):
    task = built["allostery"]
    basis, pinned = task.info["force_basis"], task.info["pinned"]
    source, target = task.info["source"], task.info["target"]
    for x, y, ext in zip(task.x_train, task.y_train, task.info["source_extension"]):
        forces = np.tensordot(x, basis, 1)
        r = elastic_gradient(task.network, forces=forces, pinned=pinned,
                             outputs=[("pair", *source), ("pair", *target)], targets=[0.0, 0.0])
        u, pos = r.states, task.network.positions
        ia, ib = task.network.node_indices(source)
        unit = (pos[ia] - pos[ib]) / np.linalg.norm(pos[ia] - pos[ib])
        assert np.isclose(unit @ (u[ia] - u[ib]), ext, rtol=1e-12)
        assert np.isclose(y[0], task.info["ratio"] * ext, rtol=1e-12)
    assert task.info["source_extension"][0] > 0  # pulling apart extends the pair


def test_task_options_and_errors():
    assert not make_task("iris", seed=0, hidden=()).network.has("diode")
    assert make_task("linear_regression", seed=0, sizes=(2, 3), n_train=5).x_train.shape == (5, 2)
    with pytest.raises(NetlistError, match="unknown task 'mnist'"):
        make_task("mnist")
    with pytest.raises(NetlistError, match="v_range"):
        make_task("iris", v_range=(1.0, -1.0))
    with pytest.raises(NetlistError, match="hidden"):
        make_task("diode_regression", sizes=(2, 1))
