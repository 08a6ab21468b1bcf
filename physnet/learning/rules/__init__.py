"""Learning rules behind one interface: ``rule.estimate(problem, g, rng=...) -> Estimate``.

Every rule returns an estimate of ``dC/dg`` (a descent direction, usable by
any optimizer in :mod:`physnet.learning.optimizers`) with what it cost
physically. Rules are registered by name in :data:`RULES` so experiment
configs can select them with :func:`make_rule`.

Examples
--------
>>> import numpy as np, physnet as pn
>>> from physnet.learning.problem import make_problem
>>> net = pn.Netlist()
>>> net.vsource("V1", "in", "0", dc=1.0)
>>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
>>> problem = make_problem(net, ["out"], [0.0])
>>> for name in ("adjoint", "fp", "ep"):
...     rule = make_rule(name, beta=1e-6) if name != "adjoint" else make_rule(name)
...     print(name, np.round(rule.estimate(problem, np.array([1.0, 3.0])).grad, 6).tolist())
adjoint [0.046875, -0.015625]
fp [0.046875, -0.015625]
ep [0.046875, -0.015625]
"""

from __future__ import annotations

from typing import Any

from physnet.errors import NetlistError
from physnet.learning.rules.base import Estimate, Rule, cosine, resistive_power
from physnet.learning.rules.contrastive import CoupledLearning, EquilibriumPropagation, clamped_states
from physnet.learning.rules.mgd import CODES, MultiplexedGradientDescent, codes
from physnet.learning.rules.perturbation import NodePerturbation, WeightPerturbation
from physnet.learning.rules.response import Adjoint, FrequencyPropagation

__all__ = ["Estimate", "Rule", "RULES", "make_rule", "Adjoint", "FrequencyPropagation", "EquilibriumPropagation",
           "CoupledLearning", "NodePerturbation", "WeightPerturbation", "MultiplexedGradientDescent", "CODES",
           "codes", "clamped_states", "cosine", "resistive_power"]

RULES: dict[str, type] = {
    "adjoint": Adjoint,
    "fp": FrequencyPropagation,
    "ep": EquilibriumPropagation,
    "coupled": CoupledLearning,
    "node_perturbation": NodePerturbation,
    "weight_perturbation": WeightPerturbation,
    "mgd": MultiplexedGradientDescent,
}


def make_rule(name: str, **options: Any) -> Rule:
    """The rule registered as ``name``, configured with ``options``.

    ``"ep-centered"`` is ``"ep"`` with ``centered=True``.

    Examples
    --------
    >>> rule = make_rule("ep-centered", beta=0.01)
    >>> rule.name, rule.beta, rule.centered
    ('ep', 0.01, True)
    >>> make_rule("hebb")
    Traceback (most recent call last):
    ...
    physnet.errors.NetlistError: unknown learning rule 'hebb' (known: adjoint, fp, ep, ep-centered, coupled, \
node_perturbation, weight_perturbation, mgd)
    """
    if name == "ep-centered":
        return EquilibriumPropagation(centered=True, **options)
    if name not in RULES:
        known = ", ".join([*RULES][:3] + ["ep-centered"] + [*RULES][3:])
        raise NetlistError(f"unknown learning rule {name!r} (known: {known})")
    try:
        return RULES[name](**options)
    except TypeError as error:
        raise NetlistError(f"rule {name!r}: {error}") from None
