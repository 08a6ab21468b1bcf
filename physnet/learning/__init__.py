"""Learning rules on physical networks: exact gradients, frequency propagation (electric, elastic, flow),
EP, coupled learning (electric, elastic), perturbative rules; optimizers and the training loop."""

from physnet.learning.costs import SQUARED_ERROR, Cost, SoftmaxCrossEntropy, SquaredError
from physnet.learning.elastic import (
    ElasticOutputs,
    QuasiStaticWarning,
    elastic_coupled_estimate,
    elastic_fp_update,
    elastic_gradient,
    elastic_modes,
)
from physnet.learning.flow import chemical_concentration, chemical_update, flow_gradient
from physnet.learning.fp import FPUpdate, fp_estimate, fp_update
from physnet.learning.fp_tones import FPTones, fp_tones
from physnet.learning.gradient import GradientResult, gradient
from physnet.learning.optimizers import SGD, Adam, Momentum, make_optimizer
from physnet.learning.problem import Problem, make_problem
from physnet.learning.rules import Estimate, make_rule
from physnet.learning.train import Dataset, Decorrelation, EarlyStopping, TrainResult, train

__all__ = [
    "Cost",
    "SquaredError",
    "SQUARED_ERROR",
    "SoftmaxCrossEntropy",
    "Problem",
    "make_problem",
    "GradientResult",
    "gradient",
    "FPUpdate",
    "FPTones",
    "fp_update",
    "fp_estimate",
    "fp_tones",
    "elastic_gradient",
    "elastic_fp_update",
    "elastic_coupled_estimate",
    "elastic_modes",
    "ElasticOutputs",
    "QuasiStaticWarning",
    "flow_gradient",
    "chemical_update",
    "chemical_concentration",
    "Estimate",
    "make_rule",
    "SGD",
    "Momentum",
    "Adam",
    "make_optimizer",
    "train",
    "TrainResult",
    "Dataset",
    "EarlyStopping",
    "Decorrelation",
]
