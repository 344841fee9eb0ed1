"""The typed presets and the one variant table of the experiments."""
import dataclasses

import pytest

from specbias_ext.experiments.presets import PRESETS, Preset, preset
from specbias_ext.experiments.registry import EXPERIMENTS
from specbias_ext.experiments.variants import VARIANTS


def test_presets_are_typed_and_a_misspelt_setting_fails():
    assert set(PRESETS) == {"paper", "quick", "smoke"}
    assert all(isinstance(p, Preset) for p in PRESETS.values())
    fields = {f.name: getattr(PRESETS["smoke"], f.name) for f in dataclasses.fields(Preset)}
    with pytest.raises(TypeError, match="sedds"):
        Preset(**{**fields, "sedds": 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["smoke"].seeds = 9
    with pytest.raises(ValueError, match="smoke"):
        preset("huge")


def test_every_experiment_has_its_variants_in_the_table():
    # An experiment's variants are listed under its name, or per input dimension as
    # <name>-1d / <name>-2d (angles' 2D inputs, lc-dynamics on the 1D signal and the image).
    def listed(name):
        return name in VARIANTS or {f"{name}-1d", f"{name}-2d"} <= set(VARIANTS)

    assert all(listed(name) for name in EXPERIMENTS)
    assert set(VARIANTS) - set(EXPERIMENTS) == {"angles-2d", "lc-dynamics-1d", "lc-dynamics-2d"}
    assert all(len({v.label for v in vs}) == len(vs) >= 2 for vs in VARIANTS.values())


def test_noise_2d_is_the_papers_main_text_setting_and_runs_first():
    p = PRESETS["paper"]
    t = p.noise
    assert (t.image, t.size, t.depth, t.width, t.lr, t.batch_size, t.epochs, t.record_every) == \
        ("noise", 64, 2, 128, 1e-3, 256, 5000, 100)
    assert (p.noise_pairs.patch, p.noise_pairs.pairs_per_patch, p.noise_pairs.num_patches,
            p.noise_pairs.corner_pairs, p.noise_pairs.corner_frac) == (3, 36, 100, 10000, 0.5)
    assert [v.label for v in VARIANTS["noise-2d"]] == ["raw [0,1)", "PE L=5"]
    assert list(EXPERIMENTS)[0] == "noise-2d"


def test_quick_has_enough_seeds_and_a_finer_analysis_grid():
    q = PRESETS["quick"]
    assert q.seeds >= 5 and q.seeds2d >= 3 and q.analysis_factor >= 2
    assert PRESETS["smoke"].wiring_test and not q.wiring_test
