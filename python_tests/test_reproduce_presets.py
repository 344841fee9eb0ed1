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
    assert set(VARIANTS) == set(EXPERIMENTS)
    assert all(len({v.label for v in vs}) == len(vs) >= 2 for vs in VARIANTS.values())
