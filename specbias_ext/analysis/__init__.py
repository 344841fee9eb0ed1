"""Region analysis of grids of any size, with identical results on one process or many.

- ``entry``: ``analyze_grid``, the entry point: one process, or sharded over the processes of
  a torch.distributed group; ``process_group.launch`` joins the group ``torchrun`` describes;
- ``stream``: ``analyze_stream``, the analysis in one process, tile by tile (the method, and
  what is measured, is described there); ``arguments`` checks and resolves its inputs;
- ``tile_scan``: the scan of a block of whole tiles; ``pattern_table``: the table of distinct
  patterns a scan meets, numbered by first appearance; ``region_grads``: region gradient norms
  exact across tiles and ranks; ``ids_file``: per-point arrays (region ids, local-complexity
  totals) written to disk tile by tile;
- ``result``: ``GridAnalysis``, the result, and its summary; ``outputs``: its files (the
  summary and its provenance, kept apart; the arrays; the ids and local-complexity files);
- ``sharded``: the analysis sharded over a group; ``table_combine``: the ranks' pattern tables
  numbered as one, hash-partitioned; ``exchange``: rows sent between ranks;
  ``rank_failures``: a failure on one rank raised on every rank;
- ``ensemble``: ``analyze_ensemble``, many models on one grid, the members shared out over the
  processes, and the statistics across them.
"""
from .arguments import resolve_model
from .ensemble import MemberFailed, analyze_ensemble, ensemble_statistics
from .entry import analyze_grid
from .process_group import launch
from .rank_failures import RankFailed
from .result import GridAnalysis
from .stream import analyze_stream
from .tile_scan import BlockScan

__all__ = ["BlockScan", "GridAnalysis", "MemberFailed", "RankFailed", "analyze_ensemble",
           "analyze_grid", "analyze_stream", "ensemble_statistics", "launch", "resolve_model"]
