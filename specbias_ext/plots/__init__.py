"""Every figure the package draws, from arrays and records (never recomputing a measurement):
``experiment_figures`` holds the panels and the PNG + PDF saving of the paper's experiments.

Imports only the floors below it (``runs`` for atomic writes); the commands, the report, the
monitor and the experiments all draw through here.
"""
from . import experiment_figures

__all__ = ["experiment_figures"]
