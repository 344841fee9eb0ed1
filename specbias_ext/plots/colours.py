"""Region colours that are a function of the activation pattern alone.

A region's colour is picked from a fixed palette of 65,536 light CIELAB colours (lightness 60
to 90, chroma 16 to 44, hue all round) by the 64-bit key of its packed pattern words
(``measure.pattern_keys``), scrambled once more here so that patterns differing in one bit land
on unrelated colours. Nothing else enters: the same pattern has the same colour on every grid,
tile, record, run and process, so two maps can be compared region by region, and the region
ids (numbering by first appearance) play no part.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from skimage.color import lab2rgb, lch2lab

from ..measure.regions import pattern_keys

PALETTE_BITS = 16
_FMIX1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX2 = np.uint64(0xC4CEB9FE1A85EC53)


@functools.cache
def palette() -> np.ndarray:
    """``float32 [65536, 3]`` sRGB colours: bits 0-9 of the index give the hue, bits 10-12 the
    lightness, bits 13-15 the chroma (built once)."""
    index = np.arange(1 << PALETTE_BITS)
    hue = (index & 1023) / 1024.0 * 2.0 * np.pi
    lightness = 60.0 + 30.0 * ((index >> 10) & 7) / 7.0
    chroma = 16.0 + 28.0 * ((index >> 13) & 7) / 7.0
    lch = np.stack([lightness, chroma, hue], axis=1)[None]
    return np.clip(lab2rgb(lch2lab(lch))[0], 0.0, 1.0).astype(np.float32)


def _scramble(keys: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (every input bit flips each output bit with p ~ 1/2)."""
    k = keys.copy()
    with np.errstate(over="ignore"):
        k ^= k >> np.uint64(33)
        k *= _FMIX1
        k ^= k >> np.uint64(33)
        k *= _FMIX2
        k ^= k >> np.uint64(33)
    return k


@functools.cache
def palette_uint8() -> np.ndarray:
    """``palette()`` as ``uint8 [65536, 3]`` (what the maps draw)."""
    return np.round(palette() * 255.0).astype(np.uint8)


def palette_index(keys) -> np.ndarray:
    """``uint16 [R]``: the palette entry of each pattern key (int64 or uint64 [R], as
    ``measure.pattern_keys`` / ``measure.region_keys`` give and the run files store)."""
    if isinstance(keys, torch.Tensor):
        keys = keys.detach().cpu().numpy()
    keys = np.asarray(keys)
    if keys.ndim != 1 or keys.dtype.kind not in "iu":
        raise ValueError(f"keys: expected a 1D integer array of pattern keys, got "
                         f"{keys.dtype} {list(keys.shape)}")
    bits = np.ascontiguousarray(keys, dtype=np.int64 if keys.dtype.kind == "i" else np.uint64)
    return (_scramble(bits.view(np.uint64)) >> np.uint64(64 - PALETTE_BITS)).astype(np.uint16)


def key_colours(keys) -> np.ndarray:
    """``float32 [R, 3]`` sRGB colours of the pattern keys ``keys`` (see ``palette_index``)."""
    return np.take(palette(), palette_index(keys), axis=0)


def pattern_colours(patterns) -> np.ndarray:
    """``float32 [R, 3]`` sRGB colour of each packed pattern row (int64 [R, words], numpy or
    torch): the one colour rule every region map uses."""
    p = torch.as_tensor(np.asarray(patterns) if not isinstance(patterns, torch.Tensor)
                        else patterns)
    if p.dim() != 2 or p.dtype != torch.int64:
        raise ValueError(f"patterns: expected packed patterns int64 [R, words], got "
                         f"{p.dtype} {list(p.shape)}")
    return key_colours(pattern_keys(p))
