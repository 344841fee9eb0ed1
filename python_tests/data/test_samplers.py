import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext.data.samplers import (
    corner_pairs_2d, global_pairs_1d, local_pairs_1d, local_pairs_2d,
)


def assert_distinct(i, j, unordered):
    keys = torch.stack([torch.minimum(i, j), torch.maximum(i, j)] if unordered else [i, j], 1)
    assert torch.unique(keys, dim=0).shape[0] == i.numel()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(4, 3000), windows=st.integers(1, 30), window=st.integers(2, 60),
       per=st.integers(1, 400), seed=st.integers(0, 100))
def test_local_pairs_1d(n, windows, window, per, seed):
    if window > n or per > window * (window - 1) // 2:
        with pytest.raises(ValueError):
            local_pairs_1d(n, windows, window, per, seed)
        return
    i, j = local_pairs_1d(n, windows, window, per, seed)
    assert i.dtype == j.dtype == torch.int64 and i.shape == j.shape == (windows * per,)
    assert bool((i != j).all()) and bool((i >= 0).all()) and bool((j < n).all())
    for w in range(windows):
        a, b = i[w * per:(w + 1) * per], j[w * per:(w + 1) * per]
        span = torch.cat([a, b])
        assert int(span.max() - span.min()) < window
        assert_distinct(a, b, unordered=True)
    again = local_pairs_1d(n, windows, window, per, seed)
    assert torch.equal(i, again[0]) and torch.equal(j, again[1])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 5000), num=st.integers(1, 6000), frac=st.floats(0.01, 0.5),
       seed=st.integers(0, 100))
def test_global_pairs_1d(n, num, frac, seed):
    m = math.floor(frac * n)
    if m < 1 or num > m * m:
        with pytest.raises(ValueError):
            global_pairs_1d(n, num, frac, seed)
        return
    i, j = global_pairs_1d(n, num, frac, seed)
    assert i.shape == (num,) and bool((i != j).all())
    assert bool((i >= 0).all() and (i < m).all()) and bool((j >= n - m).all() and (j < n).all())
    assert_distinct(i, j, unordered=False)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(2, 60), w=st.integers(2, 60), patches=st.integers(1, 10),
       p=st.integers(1, 9), per=st.integers(1, 300), seed=st.integers(0, 100))
def test_local_pairs_2d(h, w, patches, p, per, seed):
    if p > h or p > w or per > p * p * (p * p - 1) // 2:
        with pytest.raises(ValueError):
            local_pairs_2d((h, w), patches, p, per, seed)
        return
    i, j = local_pairs_2d((h, w), patches, p, per, seed)
    assert i.shape == (patches * per,) and bool((i != j).all())
    assert bool((i >= 0).all() and (j < h * w).all())
    for k in range(patches):
        sl = slice(k * per, (k + 1) * per)
        pts = torch.cat([i[sl], j[sl]])
        rows, cols = pts // w, pts % w
        assert int(rows.max() - rows.min()) < p and int(cols.max() - cols.min()) < p
        assert_distinct(i[sl], j[sl], unordered=True)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(2, 80), w=st.integers(2, 80), num=st.integers(1, 2000),
       frac=st.floats(0.05, 0.5), seed=st.integers(0, 100))
def test_corner_pairs_2d(h, w, num, frac, seed):
    ch, cw = math.floor(frac * h), math.floor(frac * w)
    if ch < 1 or cw < 1 or num > (ch * cw) ** 2:
        with pytest.raises(ValueError):
            corner_pairs_2d((h, w), num, frac, seed)
        return
    i, j = corner_pairs_2d((h, w), num, frac, seed)
    assert i.shape == (num,) and bool((i != j).all())
    assert bool(((i // w) < ch).all() and ((i % w) < cw).all())
    assert bool(((j // w) >= h - ch).all() and ((j % w) >= w - cw).all() and (j < h * w).all())
    assert_distinct(i, j, unordered=False)


def test_papers_setting_and_global_rng_untouched():
    state = torch.get_rng_state()
    i, j = local_pairs_1d(2048)
    assert i.numel() == 25 * 250 and torch.equal(torch.get_rng_state(), state)
    gi, gj = global_pairs_1d(2048)
    assert gi.numel() == 5000 and int(gi.max()) < 819 and int(gj.min()) >= 2048 - 819


def test_exact_capacity_and_one_over_is_an_error():
    i, j = local_pairs_1d(10, num_windows=1, window=4, pairs_per_window=6)
    assert_distinct(i, j, unordered=True)
    with pytest.raises(ValueError, match="pairs_per_window"):
        local_pairs_1d(10, num_windows=1, window=4, pairs_per_window=7)
    with pytest.raises(ValueError, match="num_pairs"):
        global_pairs_1d(10, num_pairs=17, frac=0.4)
    with pytest.raises(ValueError, match="frac"):
        global_pairs_1d(10, frac=0.6)
    with pytest.raises(ValueError, match="shape"):
        local_pairs_2d((1, 5), 1, 1, 1)
