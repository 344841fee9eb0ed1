"""Every experiment of the paper's table, by CLI name, in the order they run (then the
extensions, which are not in the paper)."""
from __future__ import annotations

from .confusion import confusion_1d, confusion_2d
from .hamming import hamming_1d, hamming_2d, hamming_layers
from .local_complexity import lc_dynamics
from .neurons import dead_neurons, narrowness
from .noise import noise_2d
from .params import angles, param_norms
from .region_counts import regions_2d
from .spectral_1d import spectral_1d

EXPERIMENTS = {
    "noise-2d": (noise_2d, "the paper's main text: 64x64 noise image, raw [0,1) vs PE L=5"),
    "hamming-1d": (hamming_1d, "local/global Hamming distance over training, 1D signal"),
    "confusion-1d": (confusion_1d, "gradient confusion of local/global pairs, 1D"),
    "regions-2d": (regions_2d, "linear-region count over training and region maps, image"),
    "hamming-2d": (hamming_2d, "local (patch) / global (corner) Hamming distance, image"),
    "confusion-2d": (confusion_2d, "gradient confusion of patch/corner pairs, image"),
    "hamming-layers": (hamming_layers, "per-layer local Hamming, raw [0,1) vs PE L=8"),
    "dead-neurons": (dead_neurons, "dead neurons for raw inputs on [0,1) ... [-3,3)"),
    "narrowness": (narrowness, "boundary distance vs PE levels 4..20"),
    "param-norms": (param_norms, "largest singular value per layer and their product"),
    "angles": (angles, "cosines between hyperplane normals, 1D PE and 2D raw/PE, all layers"),
    "spectral-1d": (spectral_1d, "frequency-resolved residual over training"),
    "lc-dynamics": (lc_dynamics, "extension, not in the paper: local complexity over training "
                    "beside local Hamming"),
}


def resolve(names) -> list[str]:
    """Validated experiment names in table order (all when none given)."""
    if not names:
        return list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"unknown experiment(s) {', '.join(map(repr, unknown))}; valid: "
                         + ", ".join(EXPERIMENTS))
    return [n for n in EXPERIMENTS if n in names]
