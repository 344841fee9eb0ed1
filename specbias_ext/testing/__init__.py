"""What the tests and the benchmarks share: one random-network builder (``networks``), encodings
in affine-sine form built by hand (``forms``), modules written the way users write them
(``user_models``), published coordinate networks re-typed as their authors wrote them
(``published_models``), local complexity computed the way the published research code does
(``published_lc``: a forward hook per layer, one forward of every hull vertex) and hypothesis
strategies over all of these (``strategies``, which needs the
``hypothesis`` package: import it only from tests).

It lives in the package, as torch_scatter's ``testing.py`` does, so ``bench/`` imports it without
path tricks. Nothing in the package imports it.
"""
from .forms import make_form, pe_form, raw_form, rff_form
from .networks import NERF_LIKE, random_mlp, random_network

__all__ = ["NERF_LIKE", "make_form", "pe_form", "random_mlp", "random_network", "raw_form",
           "rff_form"]
