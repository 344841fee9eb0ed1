"""Frequency-resolved fitting error (the functions live in ``specbias_ext.spectral``):

- 1D: |DFT(f - y)(k)| / |DFT(y)(k)| at chosen integer frequencies k;
- 2D: residual power / target power in radial bands of the 2D DFT.
"""
from ..spectral import radial_band_index, radial_band_residual_2d, spectral_residual_1d

__all__ = ["radial_band_index", "radial_band_residual_2d", "spectral_residual_1d"]
