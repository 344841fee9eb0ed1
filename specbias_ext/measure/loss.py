"""The fitting error: per-example MSE gradient (of the output, or of the head's raw output
through an output activation), mean squared error and PSNR."""
from __future__ import annotations

import math
from typing import Optional

import torch

Tensor = torch.Tensor


def mse_grad_out(pred: Tensor, target: Tensor) -> Tensor:
    """dl_i/df(x_i) of the per-example loss l_i = mean_o (f_o - y_o)^2, i.e. 2 (f - y) / out_dim.

    The training loss is mean_i l_i, so this is the ``grad_out`` every gradient measurement
    takes. ``pred`` and ``target`` are ``[N, out]`` (a 1-D ``[N]`` pair is treated as ``[N, 1]``).
    """
    if pred.shape != target.shape:
        raise ValueError(f"target: expected the shape of pred {tuple(pred.shape)}, "
                         f"got {tuple(target.shape)}")
    if pred.dim() == 1:
        pred, target = pred.unsqueeze(1), target.unsqueeze(1)
    if pred.dim() != 2:
        raise ValueError(f"pred: expected [N, out] or [N], got {pred.dim()} dimensions")
    return 2.0 * (pred - target).detach() / pred.shape[1]


def mse_grad_head(raw: Tensor, target: Tensor, activation=None) -> Tensor:
    """dl_i/dz_L(x_i): the MSE gradient of ``activation(raw)`` against ``target``, taken back
    through the activation to the head's raw output ``raw`` (what every gradient op takes as
    ``grad_out`` for a model with an output activation, ``net.output_activation``):
    ``mse_grad_out(activation(raw), target) * activation'(raw)``. With ``activation=None`` it is
    ``mse_grad_out(raw, target)``."""
    if activation is None:
        return mse_grad_out(raw, target)
    with torch.no_grad():
        grad = mse_grad_out(activation(raw), target)          # [N, out]
        return grad * activation.derivative(raw).reshape(grad.shape)


def mse(fit: Tensor, target: Tensor) -> float:
    """Mean over points and outputs of (f - y)^2."""
    return float((fit - target).square().mean())


def psnr(mse_value: float, peak: float) -> Optional[float]:
    """10 log10(peak^2 / MSE) in dB; None when MSE or peak is 0, or either is not finite (a
    diverged fit)."""
    if not (0 < mse_value < math.inf and 0 < peak < math.inf):
        return None
    ratio = peak ** 2 / mse_value
    return 10 * math.log10(ratio) if ratio > 0 else None


def target_peak(target: Tensor) -> float:
    """The default PSNR peak: the target's range max - min."""
    return float(target.max() - target.min())
