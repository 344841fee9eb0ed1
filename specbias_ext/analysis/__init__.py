"""Region analysis of grids of any size: streamed tile by tile (``stream``), sharded over the
processes of a torch.distributed group (``distributed``), with identical results, and ensembles
of models with their members shared out over the processes (``ensemble``)."""
from .stream import BlockScan, GridAnalysis, analyze_stream, resolve_model
from .distributed import analyze_grid
from .ensemble import MemberFailed, analyze_ensemble, ensemble_statistics

__all__ = ["BlockScan", "GridAnalysis", "MemberFailed", "analyze_ensemble", "analyze_grid",
           "analyze_stream", "ensemble_statistics", "resolve_model"]
