"""Every figure the package draws, from arrays and records (never recomputing a measurement),
as ``matplotlib.figure.Figure`` objects (object API, no pyplot state):

- ``colours``: region colours from the activation pattern (``pattern_colours``);
- ``maps``: region map, neighbour-Hamming, boundary-distance, slope, gradient-norm, coherence
  and local-complexity maps (the last also as a line along a 1D grid); ``neurons``: first-layer zero sets and on/off maps; ``fits``: 1D fit with its region
  boundaries, 2D reconstruction; ``training``: region maps over training (panels, animation);
- ``run_figures`` / ``analysis_figures``: the figures of a train run / an analyze output from
  their files; ``experiment_figures``: the panels of the paper's experiments;
- ``frame`` (grid axes, counts with saturation) and ``output`` (atomic writes, animations).

Imports only the floors below it; the commands, the report and the experiments all draw through
here (docs/figures.md).
"""
from . import experiment_figures

__all__ = ["experiment_figures"]
