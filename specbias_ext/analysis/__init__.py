"""Region analysis of grids of any size: streamed tile by tile (``stream``) and sharded over the
processes of a torch.distributed group (``distributed``), with identical results."""
from .stream import BlockScan, GridAnalysis, analyze_stream, resolve_model
from .distributed import analyze_grid

__all__ = ["BlockScan", "GridAnalysis", "analyze_grid", "analyze_stream", "resolve_model"]
