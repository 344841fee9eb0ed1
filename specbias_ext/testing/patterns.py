"""Packed pattern tensors for the region-op tests: random rows with controlled duplication."""
from __future__ import annotations

import torch


def random_words(n, words, seed, bit_density=0.5):
    """int64 [n, words] with each bit on with probability bit_density (bit 63 included)."""
    gen = torch.Generator().manual_seed(seed)
    bits = torch.rand(n, words, 64, generator=gen) < bit_density
    shifts = torch.arange(64, dtype=torch.int64)
    return (bits.to(torch.int64) << shifts).sum(dim=2)


def duplicated_rows(n, words, distinct, seed):
    """n rows drawn (with repetition, random order) from `distinct` random distinct-ish rows."""
    gen = torch.Generator().manual_seed(seed + 1)
    base = random_words(max(distinct, 1), words, seed)
    pick = torch.randint(0, base.shape[0], (n,), generator=gen)
    return base[pick].contiguous()
