"""Experiment configs: schema errors name key, value and what is allowed; sweeps; run ids; example configs."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import tomllib
from pathlib import Path

import pytest

from physnet.errors import PhysnetError
from physnet.experiments.config import expand, load, resolve, run_id
from physnet.experiments.schema import RULE_PARAMS, TASK_OPTIONS, ConfigError
from physnet.experiments.toml_writer import dumps
from physnet.learning.rules import RULES
from physnet.tasks import TASKS

EXAMPLES = sorted((Path(__file__).parents[1] / "experiments").glob("*.toml"))
BASE = {"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "adam", "lr": 1e-5},
        "hardware": {"bounds": [1e-6, 1e-2]}}


def _with(path: str, value) -> dict:
    config = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return config


BAD = [  # (config, fragments the message must contain)
    (_with("rule.bta", 0.1), ["rule.bta", "0.1", "did you mean 'rule.beta'", "allowed: name, beta, solver"]),
    (_with("trian", {"epochs": 3}), ["trian", "did you mean 'train'"]),
    (_with("train.epoch", 3), ["train.epoch", "did you mean 'train.epochs'"]),
    (_with("train.epochs", -1), ["train.epochs = -1", "an integer >= 0"]),
    (_with("train.epochs", 2.5), ["train.epochs = 2.5", "an integer"]),
    (_with("train.epochs", "10"), ["train.epochs = '10'", "an integer"]),
    (_with("train.shuffle", 1), ["train.shuffle = 1", "true or false"]),
    (_with("rule.beta", 0), ["rule.beta = 0", "a number > 0"]),
    (_with("rule.beta", True), ["rule.beta = True", "a number > 0"]),
    (_with("rule.solver", "spice"), ["rule.solver = 'spice'", "one of 'phasor', 'hb', 'transient'"]),
    (_with("rule.name", "hebb"), ["rule.name = 'hebb'", "'fp'", "'coupled'"]),
    (_with("task.name", "mnist"), ["task.name = 'mnist'", "'iris'"]),
    (_with("task.hidden", 0), ["task.hidden = 0", "an integer >= 1"]),
    (_with("task.g_range", [1e-3, 1e-4]), ["task.g_range", "a list of 2 numbers > 0, increasing"]),
    (_with("task.g_range", [1e-4]), ["task.g_range = [0.0001]", "a list of 2 numbers"]),
    (_with("optimizer.lr", -1e-3), ["optimizer.lr = -0.001", "a number > 0"]),
    (_with("optimizer.beta1", 1.0), ["optimizer.beta1 = 1.0", ">= 0 and < 1"]),
    (_with("optimizer.momentum", 0.9), ["optimizer.momentum = 0.9", "allowed: name, lr, beta1, beta2, eps"]),
    ({**BASE, "optimizer": {"name": "sgd"}}, ["optimizer.lr is missing", "a number > 0"]),
    (_with("hardware.quantization", {"levels": 1}), ["hardware.quantization.levels = 1", "an integer >= 2"]),
    (_with("hardware.quantization", 8), ["hardware.quantization = 8", "must be a table"]),
    (_with("hardware.sparsity", {"penalty": "l2"}), ["hardware.sparsity.penalty = 'l2'", "'l1', 'l0', 'tl1'"]),
    (_with("hardware.read_noise", {"relative": -0.1}), ["hardware.read_noise.relative = -0.1", ">= 0"]),
    ({**{k: v for k, v in BASE.items() if k != "hardware"}, "hardware": {"quantization": {"levels": 8}}},
     ["[hardware]", "uniform levels need finite bounds"]),
    (_with("rule.name", "chemical"), ["rule.name = 'chemical'", "task 'xor'", "'fp'"]),
    (_with("task.name", "flow_iris"), ["rule.name = 'fp'", "task 'flow_iris'", "'chemical'"]),
    ({k: v for k, v in BASE.items() if k != "rule"}, ["[rule] is missing"]),
    (_with("sweep", {"rule.beta": [1e-3]}), ["has a [sweep]"]),
]


@pytest.mark.parametrize(("config", "fragments"), BAD, ids=[f[0] for _, f in BAD])
def test_bad_config_error_names_key_value_and_allowed(config, fragments):
    with pytest.raises(ConfigError) as info:
        resolve(config)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_config_error_is_a_physnet_value_error():
    assert issubclass(ConfigError, PhysnetError) and issubclass(ConfigError, ValueError)


BAD_SWEEPS = [
    ({"rule.beta": []}, ["sweep.rule.beta = []", "non-empty list"]),
    ({"rule.beta": 0.1}, ["sweep.rule.beta = 0.1", "non-empty list"]),
    ({"rul.beta": [0.1]}, ["sweep.rul.beta", "did you mean 'sweep.rule.beta'"]),
    ({"rule.bta": [0.1]}, ["sweep point rule.bta=0.1", "did you mean 'rule.beta'"]),
    ({"rule.beta": [0.1, -1.0]}, ["sweep point rule.beta=-1.0", "rule.beta = -1.0", "a number > 0"]),
    ({"seed": [0]}, ["sweep.seed = [0]", "dotted config keys"]),
    ({"rule.beta": [0.1], "zip": [["rule.beta", "train.seed"]]}, ["sweep.zip", "'train.seed' is not a swept key"]),
    ({"rule.beta": [0.1, 0.2], "train.seed": [0, 1, 2], "zip": [["rule.beta", "train.seed"]]},
     ["equal lengths", "'rule.beta': 2", "'train.seed': 3"]),
    ({"rule.beta": [0.1], "zip": "rule.beta"}, ["sweep.zip = 'rule.beta'", "list of lists"]),
    ({"rule.beta": [0.1], "train.seed": [1], "zip": [["rule.beta", "train.seed"], ["rule.beta"]]},
     ["'rule.beta' appears in more than one zip group"]),
    ({"train.seed": [0], "rule.name": ["fp", "adjoint"], "rule.beta": [1e-3]},
     ["rule.name='adjoint'", "unknown key rule.beta", "allowed: name"]),
]


@pytest.mark.parametrize(("sweep", "fragments"), BAD_SWEEPS, ids=[f[0] for _, f in BAD_SWEEPS])
def test_bad_sweep_error_names_the_key_or_point(sweep, fragments):
    with pytest.raises(ConfigError) as info:
        expand({**BASE, "sweep": sweep})
    for fragment in fragments:
        assert fragment in str(info.value)


def test_sweep_is_a_cartesian_grid_with_zipped_axes():
    sweep = {"rule.name": ["fp", "ep"], "task.seed": [0, 1, 2], "train.seed": [5, 6, 7],
             "zip": [["task.seed", "train.seed"]]}
    points = expand({**BASE, "sweep": sweep})
    pairs = {(p.swept["rule.name"], p.swept["task.seed"], p.swept["train.seed"]) for p in points}
    assert pairs == {(r, s, s + 5) for r in ("fp", "ep") for s in range(3)}
    assert len({p.run_id for p in points}) == 6
    for p in points:
        assert (p.config["rule"]["name"], p.config["task"]["seed"], p.config["train"]["seed"]) == (
            p.swept["rule.name"], p.swept["task.seed"], p.swept["train.seed"])


def test_nested_sweep_tables_are_dotted_keys():
    nested = expand({**BASE, "sweep": {"hardware": {"quantization": {"levels": [4, 8]}}}})
    dotted = expand({**BASE, "sweep": {"hardware.quantization.levels": [4, 8]}})
    assert [p.run_id for p in nested] == [p.run_id for p in dotted]
    assert [p.config["hardware"]["quantization"] for p in dotted] == [{"levels": 4, "blend": 0.0},
                                                                      {"levels": 8, "blend": 0.0}]


def test_resolve_fills_defaults_and_is_idempotent():
    resolved = resolve(BASE)
    assert resolved["task"] == {"name": "xor", "seed": 0, "hidden": 8, "g_range": [1e-4, 1e-3],
                                "v_range": [-3.0, 3.0], "target_low": -0.2, "target_high": 0.2}
    assert resolved["rule"] == {"name": "fp", "beta": 1e-3, "solver": "phasor"}
    assert resolved["optimizer"] == {"name": "adam", "lr": 1e-5, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert resolved["train"] == {"epochs": 10, "seed": 0, "shuffle": True, "alignment_every": 0}
    assert resolve(resolved) == resolved


def test_run_id_is_deterministic_and_tracks_the_experiment_only():
    a = resolve(BASE)
    same = resolve({key: BASE[key] for key in reversed(list(BASE))})  # key order does not matter
    moved = resolve({**BASE, "output": {"dir": "elsewhere"}})
    other = resolve(_with("rule.beta", 2e-3))
    assert run_id(a) == run_id(same) == run_id(moved)
    assert run_id(a) != run_id(other)
    assert run_id(a).startswith("xor-fp-") and len(run_id(a)) == len("xor-fp-") + 12
    assert run_id(resolve(_with("output.name", "mine"))).startswith("mine-")


def test_schema_matches_the_task_builders_and_rules():
    for name, options in TASK_OPTIONS.items():
        keywords = [p.name for p in inspect.signature(TASKS[name]).parameters.values()
                    if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert sorted(options) == sorted(keywords), name
    internal = {"options", "solver_options", "name"}
    for name, params in RULE_PARAMS.items():
        if name in RULES:
            fields = {f.name for f in dataclasses.fields(RULES[name])} - internal
            assert set(params) == fields, name


def test_toml_writer_round_trips_resolved_configs():
    for point in expand(load(EXAMPLES[0])) + expand({**BASE, "output": {"name": 'quote " and \\ back'}}):
        assert tomllib.loads(dumps(point.config)) == point.config


def test_every_example_config_validates():
    assert len(EXAMPLES) >= 6
    ids = []
    for path in EXAMPLES:
        points = expand(load(path))
        assert points, path
        ids += [p.run_id for p in points]
    assert len(ids) == len(set(ids))


def test_load_reports_toml_syntax_errors_with_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[task\nname = 'xor'\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load(path)


def test_sweeping_whole_sections_gives_each_rule_its_own_parameters():
    base = {"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "sgd", "lr": 1.0}}
    points = expand({**base, "sweep": {"rule": [{"name": "ep", "beta": 1e-5}, {"name": "adjoint"}],
                                       "train.seed": [0, 1]}})
    assert [(p.config["rule"], p.swept["train.seed"]) for p in points] == [
        ({"name": "ep", "beta": 1e-5, "centered": False}, 0), ({"name": "ep", "beta": 1e-5, "centered": False}, 1),
        ({"name": "adjoint"}, 0), ({"name": "adjoint"}, 1)]
    assert points[0].swept == {"rule.name": "ep", "rule.beta": 1e-5, "train.seed": 0}
    assert points[2].swept == {"rule.name": "adjoint", "train.seed": 0}


@pytest.mark.parametrize("sweep, message", [
    ({"rule": [{"name": "adjoint", "beta": 1e-3}]}, "rule.beta"),
    ({"rule": [{"name": "fp"}], "rule.beta": [1e-3]}, "sweep.rule (whole [rule] tables) and sweep.rule.beta"),
])
def test_bad_whole_section_sweeps_name_the_key(sweep, message):
    base = {"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "sgd", "lr": 1.0}}
    with pytest.raises(ConfigError) as info:
        expand({**base, "sweep": sweep})
    assert message in str(info.value)
