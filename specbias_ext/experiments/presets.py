"""Settings of each preset, typed (a misspelt setting fails at import).

``paper``: the paper's settings. ``quick``: the same claims at sizes a 2-core CPU runs in minutes
(2D: 128x128 image, width 128). ``smoke``: tiny, a wiring test for the tests (seconds per experiment): its claims are not
expected to hold.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..data.samplers import PairSampling
from .tasks import Task


@dataclass(frozen=True)
class Preset:
    """``task1d`` / ``task2d``: what the 1D and 2D experiments train; ``seeds`` / ``seeds2d``:
    models per setting; ``pairs``: local/global pair sampling; ``region_map_max``: largest side
    of a saved region map; ``bins``: histogram bins of the density figures.

    ``noise``/``noise_pairs``/``noise_seeds``: the paper's main-text experiment (noise-2d) and
    its pair sampling (3x3 patches with all 36 pairs; opposite-quadrant pairs).
    ``analysis_factor``: region statistics of 2D images are taken on a grid this many times finer
    per axis than the training grid (same box), so the count is not capped by the pixels.
    ``saturation``: a count above this fraction of the grid's points is saturated (a lower bound).
    ``certified_seeds``: how many seeds get a certified (exact) 1D region count at the last epoch.
    """
    task1d: Task
    task2d: Task
    seeds: int
    seeds2d: int
    pairs: PairSampling
    region_map_max: int
    bins: int
    noise: Task = None
    noise_pairs: PairSampling = None
    noise_seeds: int = 3
    analysis_factor: int = 1
    saturation: float = 0.5
    certified_seeds: int = 1
    wiring_test: bool = False


#: The paper's main text: 100 random 3x3 patches with all 36 pairs each (local), 10,000 pairs
#: between opposite quadrants (global).
NOISE_PAIRS = PairSampling(num_patches=100, patch=3, pairs_per_patch=36, corner_pairs=10000,
                           corner_frac=0.5)

PRESETS = {
    "paper": Preset(
        task1d=Task("1d", depth=4, width=128, epochs=500, lr=1e-3, record_every=25, n=2048),
        task2d=Task("2d", depth=4, width=512, epochs=1000, lr=1e-3, record_every=50,
                    image="camera", size=512, batch_size=8192),
        seeds=5, seeds2d=3,
        pairs=PairSampling(num_windows=25, window=50, pairs_per_window=250, global_pairs=5000,
                           global_frac=0.4, num_patches=25, patch=8, pairs_per_patch=250,
                           corner_pairs=5000, corner_frac=0.25),
        region_map_max=512, bins=50,
        noise=Task("2d", depth=2, width=128, epochs=5000, lr=1e-3, record_every=100,
                   image="noise", size=64, batch_size=256),
        noise_pairs=NOISE_PAIRS, noise_seeds=5, analysis_factor=4, certified_seeds=5,
    ),
    "quick": Preset(
        task1d=Task("1d", depth=4, width=128, epochs=300, lr=1e-3, record_every=25, n=2048),
        task2d=Task("2d", depth=4, width=128, epochs=100, lr=1e-3, record_every=20,
                    image="camera", size=128, batch_size=8192),
        seeds=5, seeds2d=3,
        pairs=PairSampling(num_windows=25, window=50, pairs_per_window=250, global_pairs=5000,
                           global_frac=0.4, num_patches=25, patch=8, pairs_per_patch=250,
                           corner_pairs=5000, corner_frac=0.25),
        region_map_max=128, bins=50,
        # batch 1024 (4 steps per epoch): minibatch steps of tiny models cost ~0.2 s each on
        # a loaded 2-core CPU, so the paper's batch 256 would take ~15 min at 300 epochs.
        noise=Task("2d", depth=2, width=128, epochs=150, lr=1e-3, record_every=25,
                   image="noise", size=64, batch_size=1024),
        noise_pairs=NOISE_PAIRS, noise_seeds=3, analysis_factor=2, certified_seeds=2,
    ),
    "smoke": Preset(
        task1d=Task("1d", depth=2, width=32, epochs=20, lr=1e-3, record_every=10, n=256,
                    freqs=(2, 4, 8, 16)),
        task2d=Task("2d", depth=2, width=32, epochs=6, lr=1e-3, record_every=3,
                    image="noise", size=24, batch_size=256),
        seeds=2, seeds2d=1,
        pairs=PairSampling(num_windows=5, window=20, pairs_per_window=40, global_pairs=300,
                           global_frac=0.4, num_patches=5, patch=4, pairs_per_patch=30,
                           corner_pairs=200, corner_frac=0.25),
        region_map_max=24, bins=20,
        noise=Task("2d", depth=2, width=16, epochs=4, lr=1e-3, record_every=2,
                   image="noise", size=16, batch_size=64),
        noise_pairs=PairSampling(num_patches=10, patch=3, pairs_per_patch=36, corner_pairs=200,
                                 corner_frac=0.5),
        noise_seeds=2, analysis_factor=2, certified_seeds=1, wiring_test=True,
    ),
}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"--preset {name!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
