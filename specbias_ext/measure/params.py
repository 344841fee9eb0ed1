"""Measurements of the weights alone: layer spectral norms and hyperplane-normal cosines."""
from __future__ import annotations

import torch

from .. import geometry

Tensor = torch.Tensor


def layer_spectral_norms(weights) -> Tensor:
    """Largest singular value of every layer's weight matrix ``[L+1]`` (exact, float64 SVD)."""
    return torch.stack([torch.linalg.matrix_norm(w.double(), ord=2) for w in weights]).float()


def hyperplane_cosines(weight: Tensor) -> Tensor:
    """Cosines between the normals (rows) of one layer's neurons, upper triangle
    ``[K(K-1)/2]``."""
    cos = geometry.hyperplane_cosines(weight.double())
    iu = torch.triu_indices(cos.shape[0], cos.shape[0], offset=1)
    return cos[iu[0], iu[1]].float()
