"""Solvers: sparse linear factorizations and the DC (Newton) solver."""
