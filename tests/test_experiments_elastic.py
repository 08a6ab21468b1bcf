"""Elastic tasks in experiment runs: each rule's batch gradient against exact references, training from configs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from physnet.errors import NetlistError
from physnet.experiments.__main__ import main
from physnet.experiments.config import resolve
from physnet.experiments.elastic import (
    ELASTIC_DEFAULTS,
    batch_estimate,
    elastic_metrics,
    elastic_rule,
    sample_forces,
    train_elastic,
)
from physnet.experiments.report import report
from physnet.experiments.run import execute
from physnet.experiments.schema import ELASTIC_RULE_PARAMS, ELASTIC_RULES, ConfigError
from physnet.learning.elastic import ElasticOutputs, elastic_gradient
from physnet.learning.gradient import central_differences
from physnet.learning.optimizers import SGD
from physnet.solvers.elastic import solve_elastic
from physnet.tasks import allostery, flow_regression

EXAMPLE = Path(__file__).parents[1] / "experiments" / "allostery_coupled.toml"
CONFIG = {"task": {"name": "allostery"}, "rule": {"name": "coupled"}, "optimizer": {"name": "adam", "lr": 0.05},
          "hardware": {"bounds": [0.01, 10.0]}, "train": {"epochs": 80}}


@pytest.fixture(scope="module")
def task():
    return allostery(seed=0)


@pytest.fixture(scope="module")
def k(task):
    """Stiffnesses away from the builder's, so that nothing relies on the initial network."""
    return task.network["spring"]["k"] * np.random.default_rng(7).uniform(0.5, 2.0, len(task.network["spring"]))


@pytest.fixture(scope="module")
def adjoint(task, k):
    return batch_estimate(task, elastic_rule("adjoint"), k, task.x_train, task.y_train)


def relative(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


def test_adjoint_batch_gradient_is_the_finite_difference_gradient_of_the_batch_loss(task, k, adjoint):
    x, y = task.x_train, task.y_train
    pinned = task.info["pinned"]
    per_sample = np.mean([elastic_gradient(task.network, k, forces=f, pinned=pinned, outputs=task.outputs,
                                           targets=t, method="fd").grad for f, t in zip(sample_forces(task, x), y)],
                         axis=0)
    # the loss the run reports (mean cost over the batch), differentiated numerically
    loss = central_differences(lambda kk: elastic_metrics(task, kk, x, y, None)[0], k, range(len(k)), 1e-6)
    assert relative(adjoint, per_sample) < 1e-6
    assert relative(adjoint, loss) < 1e-6


@pytest.mark.parametrize("beta", [1e-3, 1.0])
def test_fp_at_zero_frequency_is_the_adjoint_gradient(task, k, adjoint, beta):
    fp = batch_estimate(task, elastic_rule("fp", beta=beta), k, task.x_train, task.y_train)
    assert relative(fp, adjoint) < 1e-12


def test_coupled_tends_to_the_adjoint_gradient_over_the_output_compliance(task, k, adjoint):
    """One output: ``½[(ΔE^C)² - (ΔE^F)²]/η → (dC/dk)/G``; the remainder is exactly linear in η (linear network)."""
    R = ElasticOutputs.parse(task.outputs).readout(task.network)
    unit = R.toarray().reshape(task.network.n_nodes, 2)  # a unit force on the output pair
    G = float((R @ solve_elastic(task.network, unit, task.info["pinned"], k).u.reshape(-1))[0])
    errors, cosines = {}, {}
    for eta in (1e-3, 1e-4, 1e-5):
        coupled = batch_estimate(task, elastic_rule("coupled", eta=eta), k, task.x_train, task.y_train)
        errors[eta] = relative(G * coupled, adjoint)
        cosines[eta] = coupled @ adjoint / np.linalg.norm(coupled) / np.linalg.norm(adjoint)
    assert errors[1e-3] / errors[1e-4] == pytest.approx(10.0, rel=1e-3)
    assert errors[1e-4] / errors[1e-5] == pytest.approx(10.0, rel=1e-2)
    assert errors[1e-5] < 1e-3
    assert cosines[1e-3] < cosines[1e-4] < cosines[1e-5] and cosines[1e-5] > 1 - 1e-6
    assert abs(G - 1.0) > 0.1  # so the 1/G scale is really there


@pytest.mark.parametrize("rule", ELASTIC_RULES)
def test_training_from_a_config_lowers_the_loss_a_hundredfold(rule):
    result = execute(resolve({**CONFIG, "rule": {"name": rule}}))
    history = result.history
    assert result.rule == rule and len(result.edges) == len(result.g) == 85
    assert list(history["steps"]) == [0] + [1] * 80 and np.isnan(history["accuracy"]).all()
    assert history["loss"][-1] < 1e-2 * history["loss"][0]
    assert history["test_loss"][-1] < 1e-2 * history["test_loss"][0]
    assert result.g_device.min() >= 0.01 and result.g_device.max() <= 10.0


def test_training_is_deterministic_for_a_seed():
    noisy = copy.deepcopy(CONFIG)
    noisy["hardware"].update({"read_noise": {"relative": 0.01}, "write_noise": {"relative": 0.01}})
    noisy["train"] = {"epochs": 5, "batch_size": 1}
    runs = [execute(resolve(noisy)) for _ in range(2)]
    noisy["train"]["seed"] = 1
    other = execute(resolve(noisy))
    for key in runs[0].history:
        np.testing.assert_array_equal(runs[0].history[key], runs[1].history[key])
    np.testing.assert_array_equal(runs[0].g, runs[1].g)
    assert not np.array_equal(runs[0].g, other.g)  # the seed does drive the noise and the order


def _with(rule: dict, train: dict | None = None) -> dict:
    return {**CONFIG, "rule": rule, "train": {**CONFIG["train"], **(train or {})}}


BAD = [
    (_with({"name": "ep"}), ["rule.name = 'ep'", "task 'allostery' (an elastic network)",
                             "allowed rules are 'adjoint', 'fp', 'coupled'"]),
    (_with({"name": "chemical"}), ["rule.name = 'chemical'", "'adjoint', 'fp', 'coupled'"]),
    (_with({"name": "coupled", "tol": 1e-9}), ["unknown key rule.tol", "allowed: name, eta"]),
    (_with({"name": "fp", "omga_a": 1.0}), ["unknown key rule.omga_a", "did you mean 'rule.omega_a'",
                                           "allowed: name, beta, omega_a, omega_b, solver"]),
    (_with({"name": "fp", "solver": "hb"}), ["rule.solver = 'hb'", "one of 'phasor', 'transient'"]),
    (_with({"name": "fp", "solver": "transient"}), ["[rule]", "omega_a = omega_b = 0.0", "must differ"]),
    (_with({"name": "fp", "omega_b": -1.0}), ["rule.omega_b = -1.0", "a number >= 0"]),
    (_with({"name": "coupled", "eta": 2.0}), ["rule.eta = 2.0", "a number > 0 and <= 1"]),
    (_with({"name": "adjoint"}, {"trainable": "S1"}), ["train.trainable = 'S1'", "electric tasks only",
                                                       "every spring"]),
    ({**CONFIG, "task": {"name": "allostery", "hidden": 4}}, ["unknown key task.hidden",
                                                              "allowed: name, seed, size, k_range, ratio, force"]),
    ({**CONFIG, "task": {"name": "allostery", "size": [6]}}, ["task.size = [6]", "a list of 2 integers >= (3, 4) entry by entry"]),
    ({**CONFIG, "task": {"name": "allostery", "size": [3, 3]}},
     ["task.size = [3, 3]", "a list of 2 integers >= (3, 4) entry by entry"]),
    ({**CONFIG, "task": {"name": "xor"}, "rule": {"name": "fp", "omega_a": 0.0}},
     ["unknown key rule.omega_a", "allowed: name, beta, solver"]),
]


@pytest.mark.parametrize(("config", "fragments"), BAD, ids=[f[0] for _, f in BAD])
def test_bad_elastic_config_names_the_key_and_the_allowed_values(config, fragments):
    with pytest.raises(ConfigError) as info:
        resolve(config)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_resolved_rules_carry_every_default_and_match_the_schema():
    assert set(ELASTIC_DEFAULTS) == set(ELASTIC_RULES) == set(ELASTIC_RULE_PARAMS)
    for rule in ELASTIC_RULES:
        assert set(ELASTIC_DEFAULTS[rule]) == set(ELASTIC_RULE_PARAMS[rule])
        assert resolve({**CONFIG, "rule": {"name": rule}})["rule"] == {"name": rule, **ELASTIC_DEFAULTS[rule]}
    assert resolve(CONFIG)["task"] == {"name": "allostery", "seed": 0, "size": [6, 6], "k_range": [0.5, 1.5],
                                       "ratio": 1.0, "force": 0.01}


def test_direct_calls_reject_other_domains_and_unknown_parameters():
    with pytest.raises(NetlistError, match="task 'flow_regression' is a flow task"):
        train_elastic(flow_regression(seed=0), rule="adjoint", optimizer=SGD(lr=1.0), epochs=1)
    with pytest.raises(NetlistError, match="elastic rule 'coupled' has no parameter 'beta' \\(its parameters: eta\\)"):
        elastic_rule("coupled", beta=1e-3)


def test_a_step_that_makes_a_stiffness_negative_is_reported_with_the_fix():
    with pytest.raises(NetlistError, match=r"stiffness k of spring 'S\d+' = -.* hardware.bounds"):
        train_elastic(allostery(seed=0), rule="adjoint", optimizer=SGD(lr=1e7), epochs=1)


def test_physnet_run_and_report_the_example_config(tmp_path, capsys):
    assert main(["run", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    folder = tmp_path / summary["run_id"]
    metrics = np.genfromtxt(folder / "metrics.csv", delimiter=",", names=True)
    assert summary["run_id"].startswith("allostery-coupled-") and summary["steps"] == 80
    assert summary["train_loss"] == pytest.approx(metrics["loss"][-1]) and summary["test_accuracy"] is None
    assert metrics["loss"][-1] < 1e-4 * metrics["loss"][0]
    params = np.load(folder / "params.npz")
    assert params["edges"][0] == "S0" and params["g_device"].shape == (85,)
    figures = [p.name for p in report(folder)]
    assert figures == ["learning_curves.png", "conductances.png", "summary.md"]
    assert "FP spectrum skipped" in (folder / "summary.md").read_text()
