"""Settings of each preset. ``paper``: the paper's settings (DESIGN.md). ``quick``: the same
claims at sizes a 2-core CPU runs in minutes (2D: 128x128 image, width 128). ``smoke``: tiny,
for tests (seconds per experiment)."""
from __future__ import annotations

from .tasks import Task

PRESETS = {
    "paper": dict(
        task1d=Task("1d", depth=4, width=128, epochs=500, lr=1e-3, record_every=25, n=2048),
        task2d=Task("2d", depth=4, width=512, epochs=1000, lr=1e-3, record_every=50,
                    image="camera", size=512, batch_size=8192),
        seeds=5, seeds2d=3,
        local1d=dict(num_windows=25, window=50, pairs_per_window=250),
        global1d=dict(num_pairs=5000, frac=0.4),
        local2d=dict(num_patches=25, patch=8, pairs_per_patch=250),
        corner2d=dict(num_pairs=5000, frac=0.25),
        region_map_max=512, bins=50,
    ),
    "quick": dict(
        task1d=Task("1d", depth=4, width=128, epochs=300, lr=1e-3, record_every=25, n=2048),
        task2d=Task("2d", depth=4, width=128, epochs=100, lr=1e-3, record_every=20,
                    image="camera", size=128, batch_size=8192),
        seeds=3, seeds2d=2,
        local1d=dict(num_windows=25, window=50, pairs_per_window=250),
        global1d=dict(num_pairs=5000, frac=0.4),
        local2d=dict(num_patches=25, patch=8, pairs_per_patch=250),
        corner2d=dict(num_pairs=5000, frac=0.25),
        region_map_max=128, bins=50,
    ),
    "smoke": dict(
        task1d=Task("1d", depth=2, width=32, epochs=20, lr=1e-3, record_every=10, n=256,
                    freqs=(2, 4, 8, 16)),
        task2d=Task("2d", depth=2, width=32, epochs=6, lr=1e-3, record_every=3,
                    image="noise", size=24, batch_size=256),
        seeds=2, seeds2d=1,
        local1d=dict(num_windows=5, window=20, pairs_per_window=40),
        global1d=dict(num_pairs=300, frac=0.4),
        local2d=dict(num_patches=5, patch=4, pairs_per_patch=30),
        corner2d=dict(num_pairs=200, frac=0.25),
        region_map_max=24, bins=20,
    ),
}


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise ValueError(f"--preset {name!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
