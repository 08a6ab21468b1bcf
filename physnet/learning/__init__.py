"""Learning rules on physical networks: exact gradients, frequency propagation, EP, ..."""

from physnet.learning.costs import SQUARED_ERROR, Cost, SquaredError
from physnet.learning.fp import FPUpdate, fp_update
from physnet.learning.gradient import GradientResult, gradient
from physnet.learning.problem import Problem, make_problem

__all__ = ["Cost", "SquaredError", "SQUARED_ERROR", "Problem", "make_problem", "GradientResult", "gradient",
           "FPUpdate", "fp_update"]
