"""Measurements of the weights alone: layer spectral norms (exact, or warm-started power
iteration every epoch) and cosines between hyperplane normals."""
from __future__ import annotations

from typing import Optional, Sequence

import torch


Tensor = torch.Tensor


def layer_spectral_norms(weights) -> Tensor:
    """Largest singular value of every layer's weight matrix ``[L+1]`` (exact, float64 SVD)."""
    return torch.stack([torch.linalg.matrix_norm(w.double(), ord=2) for w in weights]).float()


def hyperplane_cosines(weight: Tensor) -> Tensor:
    """Cosines between the normals (rows) of one layer's neurons, upper triangle
    ``[K(K-1)/2]``."""
    cos = hyperplane_cosine_matrix(weight.double())
    iu = torch.triu_indices(cos.shape[0], cos.shape[0], offset=1)
    return cos[iu[0], iu[1]].float()


def hyperplane_cosine_matrix(weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``[out, out]`` cosines between the normals of one layer's neurons (rows of ``weight``).

    With ``bias`` the normal of neuron k is ``[weight[k], bias[k]]`` (the hyperplane in
    homogeneous coordinates). One GEMM; a zero normal gives a zero row and column (also on the
    diagonal).
    """
    if weight.dim() != 2:
        raise ValueError(f"weight: expected a 2-D tensor [out, in], got {list(weight.shape)}")
    normals = weight.detach()
    if bias is not None:
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias: expected shape [{weight.shape[0]}], got {list(bias.shape)}")
        normals = torch.cat([normals, bias.detach().to(normals.dtype).unsqueeze(1)], dim=1)
    norms = normals.norm(dim=1, keepdim=True)
    unit = torch.where(norms > 0, normals / norms.clamp_min(torch.finfo(normals.dtype).tiny), 0.0)
    return (unit @ unit.T).clamp_(-1.0, 1.0)


def mean_abs_offdiag_cosine(cosines: Tensor) -> Tensor:
    """Mean of ``|cos|`` over the off-diagonal entries of a ``hyperplane_cosine_matrix``
    (NaN for a layer with a single neuron)."""
    if cosines.dim() != 2 or cosines.shape[0] != cosines.shape[1]:
        raise ValueError(f"cosines: expected a square matrix, got {list(cosines.shape)}")
    out = cosines.shape[0]
    if out < 2:
        return cosines.new_tensor(float("nan"))
    a = cosines.abs()
    return (a.sum() - a.diagonal().sum()) / (out * (out - 1))


class SpectralNormTracker:
    """Largest singular value of every layer, cheap enough to call every epoch.

    The first call for a layer (or after its shape, dtype or device changed) takes the exact
    top singular pair from one SVD. Later calls run ``iters`` steps of power iteration on
    W^T W, warm-started from the right singular vector kept from the previous call, so a slowly
    changing weight costs 2 * iters matrix-vector products per call instead of an SVD. The
    estimate ||W v|| (v a unit vector) never exceeds the true sigma; when the top singular values
    are close, v may rotate among their vectors but sigma stays accurate to second order.
    """

    def __init__(self, iters: int = 4):
        if iters < 1:
            raise ValueError(f"iters: expected >= 1, got {iters}")
        self.iters = int(iters)
        self._vectors: list[Optional[Tensor]] = []

    @torch.no_grad()
    def update(self, weights: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """``(sigma [len(weights)], product)``: the spectral norm of each layer and their product
        (an upper bound of the network's Lipschitz constant)."""
        if len(weights) == 0:
            raise ValueError("weights: expected at least one layer")
        self._vectors += [None] * (len(weights) - len(self._vectors))
        sigmas = []
        for l, w in enumerate(weights):
            if w.dim() != 2:
                raise ValueError(f"weights[{l}]: expected a 2-D tensor, got {list(w.shape)}")
            w = w.detach()
            v = self._vectors[l]
            if v is None or v.shape[0] != w.shape[1] or v.dtype != w.dtype \
                    or v.device != w.device:
                v = torch.linalg.svd(w, full_matrices=False).Vh[0]
            else:
                for _ in range(self.iters):
                    u = w.T @ (w @ v)
                    norm = u.norm()
                    if norm == 0:  # W v = 0: keep v, sigma is estimated as 0 this call
                        break
                    v = u / norm
            self._vectors[l] = v
            sigmas.append((w @ v).norm())
        sigmas = torch.stack(sigmas)
        return sigmas, sigmas.prod()
