"""Measurements on one trained model that the experiments need beyond the fused ops: spectral
residuals, first-order boundary distance in coordinate space, layer norms, hyperplane angles."""
from __future__ import annotations

from typing import Sequence

import torch

Tensor = torch.Tensor


def spectral_residual_1d(fit: Tensor, target: Tensor, freqs: Sequence[int]) -> Tensor:
    """|DFT(f - y)(k)| / |DFT(y)(k)| at each k in freqs (DESIGN.md)."""
    idx = torch.as_tensor(list(freqs), dtype=torch.long)
    err = torch.fft.rfft((fit - target).double())
    ref = torch.fft.rfft(target.double())
    return (err[idx].abs() / ref[idx].abs()).float()


def radial_band_residual_2d(fit: Tensor, target: Tensor, num_bands: int) -> Tensor:
    """Residual power / target power in ``num_bands`` equal-width radial bands of the 2D DFT."""
    if fit.dim() == 2:
        fit, target = fit.unsqueeze(2), target.unsqueeze(2)
    h, w = target.shape[:2]
    err = torch.fft.fft2((fit - target).double(), dim=(0, 1)).abs().pow(2).sum(2)
    ref = torch.fft.fft2(target.double(), dim=(0, 1)).abs().pow(2).sum(2)
    fy = torch.fft.fftfreq(h, dtype=torch.float64).abs().unsqueeze(1)
    fx = torch.fft.fftfreq(w, dtype=torch.float64).abs().unsqueeze(0)
    radius = torch.sqrt(fy ** 2 + fx ** 2) / (0.5 * 2 ** 0.5)
    band = torch.clamp((radius * num_bands).long(), max=num_bands - 1)
    e = torch.zeros(num_bands, dtype=torch.float64).scatter_add_(0, band.reshape(-1), err.reshape(-1))
    r = torch.zeros(num_bands, dtype=torch.float64).scatter_add_(0, band.reshape(-1), ref.reshape(-1))
    return (e / r.clamp_min(1e-300)).float()


def encoding_jacobian(encoding: torch.nn.Module, coords: Tensor) -> Tensor:
    """d encoding / d coords ``[N, E, D]`` by forward mode, one tangent per coordinate axis."""
    cols = []
    for d in range(coords.shape[1]):
        tangent = torch.zeros_like(coords)
        tangent[:, d] = 1
        _, jv = torch.func.jvp(encoding, (coords,), (tangent,))
        cols.append(jv)
    return torch.stack(cols, dim=2)


def boundary_distance(coords: Tensor, encoding: torch.nn.Module, weights: Sequence[Tensor],
                      biases: Sequence[Tensor], chunk: int = 8192) -> Tensor:
    """First-order distance in coordinate space to the nearest pre-activation sign change:
    min over hidden neurons of |z| / ||grad_coords z|| (forward mode through encoding and MLP)."""
    out = []
    for s in range(0, coords.shape[0], chunk):
        c = coords[s:s + chunk]
        a = encoding(c).to(weights[0].dtype)
        tan = encoding_jacobian(encoding, c).to(weights[0].dtype)      # [n, E, D]
        best = torch.full((c.shape[0],), float("inf"), dtype=a.dtype, device=a.device)
        for w, b in zip(weights[:-1], biases[:-1]):
            z = a @ w.T + b
            tz = torch.einsum("oe,ned->nod", w, tan)
            slope = tz.norm(dim=2)
            dist = torch.where(slope > 0, z.abs() / slope.clamp_min(1e-30),
                               torch.full_like(z, float("inf")))
            best = torch.minimum(best, dist.min(dim=1).values)
            on = (z > 0).to(a.dtype)
            a = z * on
            tan = tz * on.unsqueeze(2)
        out.append(best)
    return torch.cat(out)


def layer_spectral_norms(weights: Sequence[Tensor]) -> Tensor:
    """Largest singular value of every layer's weight matrix ``[L+1]``."""
    return torch.stack([torch.linalg.matrix_norm(w.double(), ord=2) for w in weights]).float()


def hyperplane_cosines(weight: Tensor) -> Tensor:
    """Cosines between the normals (rows) of one layer's hyperplanes, upper triangle ``[K(K-1)/2]``.
    Zero rows (never-updated padding cannot occur here) give cosine 0."""
    w = weight.double()
    norms = w.norm(dim=1, keepdim=True)
    unit = torch.where(norms > 0, w / norms.clamp_min(1e-300), torch.zeros_like(w))
    cos = unit @ unit.T
    iu = torch.triu_indices(w.shape[0], w.shape[0], offset=1)
    return cos[iu[0], iu[1]].float()
