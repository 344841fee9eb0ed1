import math

import pytest
from hypothesis import given, settings, strategies as st

from specbias_ext.stats import grid_counts as G
from specbias_ext.stats import intervals as S


# ----------------------------------------------------------------------------- t quantiles

@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_closed_forms(p):
    # df = 1 is the Cauchy distribution, df = 2 has t = (2p - 1) / sqrt(2 p (1 - p))
    assert S.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert S.t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)),
                                               rel=1e-10)


def test_t_quantile_large_df_tends_to_normal():
    # Phi^{-1}(0.975) = 1.959963984540054
    assert S.t_quantile(0.975, 1e7) == pytest.approx(1.959963984540054, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(p=st.floats(0.01, 0.99), df=st.floats(0.5, 200))
def test_t_quantile_inverts_cdf_and_is_symmetric(p, df):
    t = S.t_quantile(p, df)
    assert S.t_cdf(t, df) == pytest.approx(p, abs=1e-10)
    assert S.t_quantile(1 - p, df) == pytest.approx(-t, abs=1e-9)


def test_t_quantile_rejects_bad_arguments():
    with pytest.raises(ValueError, match="p:"):
        S.t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="df:"):
        S.t_quantile(0.9, 0)


# ----------------------------------------------------------------------------- effects

def _mean_sd(v):
    m = sum(v) / len(v)
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


@settings(max_examples=25, deadline=None)
@given(vals=st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=2,
                     max_size=8))
def test_paired_difference_is_the_t_interval_of_differences(vals):
    a, b = [x for x, _ in vals], [y for _, y in vals]
    eff = S.difference(a, b)
    d = [x - y for x, y in vals]
    m, sd = _mean_sd(d)
    half = S.t_quantile(0.975, len(d) - 1) * sd / math.sqrt(len(d))
    assert eff.kind == "difference" and eff.n == len(d) and eff.defined
    assert eff.estimate == pytest.approx(m, abs=1e-9)
    assert eff.low == pytest.approx(m - half, abs=1e-9)
    assert eff.high == pytest.approx(m + half, abs=1e-9)
    assert eff.low <= eff.estimate <= eff.high


def test_welch_when_unpaired():
    a, b = [1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 1.0]
    eff = S.difference(a, b)
    assert "Welch" in eff.method
    ma, sa = _mean_sd(a)
    mb, sb = _mean_sd(b)
    va, vb = sa ** 2 / 4, sb ** 2 / 3
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 2)
    half = S.t_quantile(0.975, df) * math.sqrt(va + vb)
    assert (eff.low, eff.high) == pytest.approx((ma - mb - half, ma - mb + half))
    with pytest.raises(ValueError, match="paired"):
        S.difference(a, b, paired=True)


def test_one_seed_has_no_interval_and_is_inconclusive():
    eff = S.difference([3.0], [1.0])
    assert eff.estimate == 2.0 and eff.low is None and not eff.defined
    v = S.decide(eff)
    assert v.verdict == S.INCONCLUSIVE and "one seed" in v.reason


@settings(max_examples=25, deadline=None)
@given(vals=st.lists(st.tuples(st.floats(0.01, 1e4), st.floats(0.01, 1e4)), min_size=2,
                     max_size=6))
def test_ratio_is_exp_of_log_difference(vals):
    a, b = [x for x, _ in vals], [y for _, y in vals]
    eff = S.ratio(a, b)
    logs = S.difference([math.log(x) for x in a], [math.log(y) for y in b])
    assert eff.kind == "ratio"
    assert eff.estimate == pytest.approx(math.exp(logs.estimate), rel=1e-9)
    assert eff.low == pytest.approx(math.exp(logs.low), rel=1e-9)
    assert eff.high == pytest.approx(math.exp(logs.high), rel=1e-9)
    assert 0 < eff.low <= eff.estimate <= eff.high


def test_ratio_needs_positive_values():
    with pytest.raises(ValueError, match="positive"):
        S.ratio([1.0, 0.0], [1.0, 2.0])


# ----------------------------------------------------------------------------- verdicts

def test_three_way_verdicts_and_directions():
    clear_up = S.difference([5.0, 5.2, 4.9, 5.1], [1.0, 1.1, 0.9, 1.0])
    assert S.decide(clear_up).verdict == S.HELD
    assert S.decide(clear_up, direction="less").verdict == S.NOT_HELD
    assert S.decide(clear_up, threshold=10.0).verdict == S.NOT_HELD
    # an effect whose interval straddles the threshold
    noisy = S.difference([0.288, 0.30, 0.27], [0.293, 0.28, 0.29])
    assert noisy.low < 0 < noisy.high
    v = S.decide(noisy)
    assert v.verdict == S.INCONCLUSIVE and "contains" in v.reason
    ratio = S.ratio([4.0, 4.4, 3.9], [1.0, 1.1, 1.05])
    assert S.decide(ratio).threshold == 1.0 and S.decide(ratio).held
    with pytest.raises(ValueError, match="direction"):
        S.decide(clear_up, direction="up")


def test_combine():
    held = S.decide(S.difference([2.0, 2.1], [1.0, 1.0]))
    inc = S.decide(S.difference([1.0], [0.0]))
    no = S.decide(S.difference([0.0, 0.1], [1.0, 1.0]))
    assert S.combine([held, held]) == S.HELD
    assert S.combine([held, inc]) == S.INCONCLUSIVE
    assert S.combine([inc, no]) == S.NOT_HELD
    assert set(held.to_json()) >= {"verdict", "effect", "threshold", "reason"}


# ----------------------------------------------------------------------------- grid counts

def test_grid_count_saturation_display_and_convergence():
    sizes = []

    def count_at(s):   # a region count that keeps up with the grid: saturated
        sizes.append(s)
        return s

    g = G.grid_region_count(count_at, 2048)
    assert sizes == [512, 1024, 2048]
    assert g.convergence == ((512, 512), (1024, 1024), (2048, 2048))
    assert g.saturated and g.display() == ">= 2048" and g.growth == 2.0
    resolved = G.grid_region_count(lambda s: 37, 2048)
    assert not resolved.saturated and resolved.display() == "37" and resolved.growth == 1.0
    j = resolved.to_json()
    assert j["points"] == 2048 and j["saturated"] is False and j["display"] == "37"


def test_grid_count_2d_uses_the_same_box_per_axis():
    seen = []
    g = G.grid_region_count(lambda s: seen.append(s) or 10, 128, dims=2)
    assert seen == [64, round(128 * 0.5 ** 0.5), 128]
    assert [p for p, _ in g.convergence] == [64 ** 2, seen[1] ** 2, 128 ** 2]


def test_grid_count_checks():
    with pytest.raises(ValueError, match="count"):
        G.GridCount(11, 10)
    with pytest.raises(ValueError, match="fractions"):
        G.grid_region_count(lambda s: 1, 16, fractions=(0.5,))


def test_comparing_saturated_counts_is_inconclusive():
    big = [G.GridCount(c, 1000) for c in (400, 420, 410)]
    small = [G.GridCount(c, 1000) for c in (100, 110, 90)]
    assert G.compare_counts(big, small).verdict == S.HELD
    full = [G.GridCount(c, 1000) for c in (990, 1000, 995)]
    v = G.compare_counts(full, small)
    assert v.verdict == S.INCONCLUSIVE and "saturate" in v.reason
    assert v.effect is not None and v.effect.estimate > 1
