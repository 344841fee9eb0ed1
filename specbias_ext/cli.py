"""Entry point of the `specbias` console script; the commands are in ``specbias_ext.commands``."""
from .commands.cli import main

__all__ = ["main"]
