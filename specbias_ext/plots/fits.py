"""What the network fits: a 1D fit over its target with the region boundaries, and a 2D
reconstruction beside its target and their difference."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .frame import PANEL_WIDTH, count_text, grid_frame, new_figure, style_axes

#: Region boundaries are drawn as lines up to this many; beyond, as a rug of ticks.
MAX_BOUNDARY_LINES = 400


def encoding_label(encoding: Optional[dict]) -> str:
    """``"raw"``, ``"PE L=4"``, ``"RFF m=64 sigma=10"`` from an ``Encoding.describe()`` dict."""
    if not encoding:
        return ""
    name = encoding.get("name", "")
    if name == "pe":
        return f"PE L={encoding.get('levels')}"
    if name == "rff":
        return f"RFF m={encoding.get('num_features')} sigma={encoding.get('sigma'):g}"
    return str(name)


def model_label(model: Optional[dict]) -> str:
    """``"4x128 MLP, PE L=4"`` from ``CoordinateMLP.describe()`` (empty for None)."""
    if not model:
        return ""
    enc = encoding_label(model.get("encoding"))
    net = f"{model.get('depth')}x{model.get('width')} ReLU MLP" if "depth" in model else ""
    return ", ".join(p for p in (net, enc) if p)


def draw_fit_1d(ax, t, fit, target=None, ids=None, *, label: str = "",
                grid: Optional[dict] = None, saturation: float = 0.5,
                colour: str = "C0") -> None:
    """Draw ``fit_1d``'s panel into ``ax`` (the experiments put several in one figure)."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    title = ""
    if ids is not None:
        ids = np.asarray(ids).reshape(-1)
        if ids.shape != t.shape:
            raise ValueError(f"ids: expected one id per point ({t.shape[0]}), got "
                             f"{list(ids.shape)}")
        cuts = 0.5 * (t[1:] + t[:-1])[ids[1:] != ids[:-1]]
        if cuts.size <= MAX_BOUNDARY_LINES:
            for x in cuts:
                ax.axvline(x, color="0.82", lw=0.5, zorder=0)
        else:
            ax.plot(cuts, np.zeros_like(cuts), "|", color="0.6", ms=4,
                    transform=ax.get_xaxis_transform(), zorder=0)
        frame = grid_frame(grid, t.shape)
        count = int(ids.max()) + 1 if ids.size else 0
        title = f"{count_text(count, frame.points, saturation)} on a {frame.text}" + \
            ("" if cuts.size <= MAX_BOUNDARY_LINES else " (boundaries as ticks at the bottom)")
    if target is not None:
        ax.plot(t, np.asarray(target).reshape(t.shape[0], -1)[:, 0], color="0.35", lw=0.9,
                label="target")
    if fit is not None:
        ax.plot(t, np.asarray(fit).reshape(t.shape[0], -1)[:, 0], color=colour, lw=1.1,
                label=f"fit ({label})" if label else "fit")
    if ids is not None:
        ax.plot([], [], color="0.82", lw=0.8, label="region boundary")
    ax.set_xlabel("x", fontsize=8)
    ax.set_ylabel("f(x)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_xlim(t[0], t[-1] + (t[-1] - t[0]) / max(t.shape[0] - 1, 1))
    # the title on the left and the legend on the right, both above the axes: the data keeps
    # the whole panel
    ax.set_title(title, fontsize=8, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0),
              ncols=3, borderaxespad=0.1)
    ax.grid(alpha=0.2, lw=0.5)


def fit_1d(t, fit, target=None, ids=None, *, label: str = "", grid: Optional[dict] = None,
           saturation: float = 0.5, width: float = 7.0):
    """The fit ``f(x)`` over the ``target`` (either may be None) on a 1D grid ``t [N]``, with a
    thin line at each region boundary (where ``ids [N]`` changes); ``label`` (network and
    encoding) goes in the legend, the region count with its grid in the title. A Figure."""
    fig = new_figure(width, 2.6)
    draw_fit_1d(fig.add_subplot(), t, fit, target, ids, label=label, grid=grid,
                saturation=saturation)
    return fig


def reconstruction_2d(fit, target, *, grid: Optional[dict] = None, label: str = "",
                      psnr: Optional[float] = None, cmap: str = "gray",
                      width: float = PANEL_WIDTH):
    """Target, fit and their difference on the grid (``[H, W]`` or ``[H, W, C]`` each)."""
    fit, target = np.asarray(fit, dtype=np.float32), np.asarray(target, dtype=np.float32)
    if fit.shape != target.shape or fit.ndim not in (2, 3):
        raise ValueError(f"fit, target: expected two images of one shape [H, W] or [H, W, C], "
                         f"got {list(fit.shape)} and {list(target.shape)}")
    if fit.ndim == 3 and fit.shape[2] == 1:
        fit, target = fit[:, :, 0], target[:, :, 0]
    frame = grid_frame(grid, fit.shape[:2])
    lo, hi = float(target.min()), float(target.max())
    diff = fit - target
    err = float(np.abs(diff).max()) or 1.0
    fig = new_figure(3 * width * 0.95, width * 0.95 + 0.6)
    axes = fig.subplots(1, 3)
    for ax, img, title in ((axes[0], target, "target"),
                           (axes[1], np.clip(fit, lo, hi), "fit")):
        ax.imshow(img, extent=frame.extent, cmap=cmap if img.ndim == 2 else None,
                  vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=8)
    shown = diff if diff.ndim == 2 else np.abs(diff).mean(axis=2)
    im = axes[2].imshow(shown, extent=frame.extent, cmap="RdBu_r" if diff.ndim == 2 else "magma",
                        vmin=-err if diff.ndim == 2 else 0.0, vmax=err, interpolation="nearest")
    axes[2].set_title("fit - target" if diff.ndim == 2 else "|fit - target|", fontsize=8)
    bar = fig.colorbar(im, ax=axes[2], shrink=0.85)
    bar.ax.tick_params(labelsize=7)
    for ax in axes:
        style_axes(ax, frame)
    quality = f", PSNR {psnr:.2f} dB" if psnr is not None else ""
    fig.suptitle(f"{label + ': ' if label else ''}reconstruction on a {frame.text}{quality}",
                 fontsize=9)
    return fig
