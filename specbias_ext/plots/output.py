"""Writing figures and animations: rendered in memory, written atomically (``runs.files``), and
never over a file that exists unless the caller allows it.

Animations use matplotlib's writers: ``PillowWriter`` for GIF (Pillow comes with matplotlib)
and ``FFMpegWriter`` for MP4 when ffmpeg is on the PATH.
"""
from __future__ import annotations

import io
import os
import tempfile
from typing import Callable, Iterable, Sequence

from matplotlib import animation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from ..runs.files import atomic_write_bytes

FIGURE_FORMATS = ("png", "pdf", "svg")
ANIMATION_FORMATS = ("gif", "mp4")
DEFAULT_DPI = 150


def mp4_available() -> bool:
    """Whether MP4 animations can be written (ffmpeg found by matplotlib)."""
    return animation.writers.is_available("ffmpeg")


def check_formats(formats: Iterable[str], allowed: Sequence[str], name: str = "formats"
                  ) -> list[str]:
    out = []
    for f in formats:
        f = str(f).strip().lower().lstrip(".")
        if f not in allowed:
            raise ValueError(f"{name}: {f!r} is not one of {', '.join(allowed)}")
        if f == "mp4" and not mp4_available():
            raise ValueError(f"{name}: mp4 needs ffmpeg on the PATH (not found); use gif")
        if f not in out:
            out.append(f)
    return out


def refuse_existing(paths: Iterable[str], overwrite: bool) -> None:
    """A ValueError naming the first of ``paths`` that exists, unless ``overwrite``."""
    if overwrite:
        return
    for p in paths:
        if os.path.lexists(p):
            raise ValueError(f"{p} exists; pass --overwrite to replace it, or choose another "
                             "--out")


def figure_bytes(fig, fmt: str, dpi: int = DEFAULT_DPI) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


def save_figure(fig, stem: str, formats: Sequence[str] = ("png",), dpi: int = DEFAULT_DPI,
                overwrite: bool = True) -> list[str]:
    """Write ``fig`` as ``stem.<fmt>`` for each format (atomically); returns the paths.
    With ``overwrite=False`` nothing is written if any of them exists."""
    formats = check_formats(formats, FIGURE_FORMATS)
    paths = [f"{stem}.{f}" for f in formats]
    refuse_existing(paths, overwrite)
    folder = os.path.dirname(stem)
    if folder:
        os.makedirs(folder, exist_ok=True)
    for f, path in zip(formats, paths):
        atomic_write_bytes(path, figure_bytes(fig, f, dpi))
    return paths


class _BlitPillowWriter(animation.PillowWriter):
    """matplotlib's PillowWriter, fed with frames blitted on an Agg canvas (only the changing
    artists are redrawn: re-rendering every tick label of every frame costs most of the time)
    and written on one palette shared by all frames, so that a colour is the same pixel value
    in every frame (GIF holds 256 colours; a palette per frame would shift them)."""

    def grab_frame(self, **savefig_kwargs):
        buf = self.fig.canvas.buffer_rgba()
        self._frames.append(Image.frombuffer("RGBA", self.frame_size, bytes(buf), "raw",
                                             "RGBA", 0, 1).convert("RGB"))

    def finish(self):
        sample = Image.new("RGB", (self._frames[0].width, self._frames[0].height * len(
            self._frames[::4])))
        for i, f in enumerate(self._frames[::4]):
            sample.paste(f, (0, i * f.height))
        shared = sample.quantize(256, method=Image.Quantize.FASTOCTREE)
        self._frames = [f.quantize(palette=shared, dither=Image.Dither.NONE)
                        for f in self._frames]
        super().finish()


def save_animation(fig, draw_frame: Callable[[int], Sequence], frames: int, stem: str,
                   formats: Sequence[str] = ("gif",), fps: float = 3.0, dpi: int = 100,
                   overwrite: bool = True) -> list[str]:
    """Write an animation of ``fig``: ``draw_frame(k)`` updates the figure to frame k and
    returns the artists it changed, for k = 0..frames-1 (the rest of the figure is drawn once);
    one file ``stem.<fmt>`` per format, written to a temporary folder by the matplotlib writer
    and then moved in atomically. Returns the paths."""
    formats = check_formats(formats, ANIMATION_FORMATS)
    paths = [f"{stem}.{f}" for f in formats]
    refuse_existing(paths, overwrite)
    folder = os.path.dirname(stem)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    for f, path in zip(formats, paths):
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = os.path.join(tmp, f"animation.{f}")
            if f == "gif":
                _write_blitted(fig, canvas, draw_frame, frames, tmp_path, fps, dpi)
            else:
                writer = animation.FFMpegWriter(
                    fps=fps, codec="libx264",
                    extra_args=["-pix_fmt", "yuv420p", "-vf",
                                "scale=trunc(iw/2)*2:trunc(ih/2)*2"])
                with writer.saving(fig, tmp_path, dpi):
                    for k in range(frames):
                        draw_frame(k)
                        writer.grab_frame()
            with open(tmp_path, "rb") as fh:
                atomic_write_bytes(path, fh.read())
    return paths


def _write_blitted(fig, canvas, draw_frame, frames: int, path: str, fps: float, dpi: int):
    changing = list(draw_frame(0))
    for a in changing:
        a.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    writer = _BlitPillowWriter(fps=fps)
    try:
        with writer.saving(fig, path, dpi):
            for k in range(frames):
                changing = list(draw_frame(k))
                canvas.restore_region(background)
                for a in changing:
                    fig.draw_artist(a)
                writer.grab_frame()
    finally:
        for a in changing:
            a.set_animated(False)
