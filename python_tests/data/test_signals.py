import math

import numpy as np
import pytest
import torch

from specbias_ext.data.signals import load_image, sum_of_sines


def test_sum_of_sines_definition():
    sig = sum_of_sines(n=256, freqs=(3, 7, 20), amplitudes=(1.0, 0.5, 2.0), seed=4,
                       dtype=torch.float64)
    t = torch.arange(256, dtype=torch.float64) / 256
    expected = sum(a * torch.sin(2 * math.pi * k * t + 2 * math.pi * p)
                   for k, a, p in zip(sig.freqs, sig.amplitudes, sig.phases))
    torch.testing.assert_close(sig.t, t)
    torch.testing.assert_close(sig.y, expected)
    assert all(0 <= p < 1 for p in sig.phases)
    assert sig.coords().shape == (256, 1) and sig.target().shape == (256, 1)


def test_sum_of_sines_defaults_are_the_papers_and_seeded():
    sig = sum_of_sines()
    assert sig.n == 2048 and sig.freqs == tuple(range(5, 75, 5))
    assert sig.amplitudes == (1.0,) * 14
    assert sum_of_sines(seed=3).phases == sum_of_sines(seed=3).phases
    assert sum_of_sines(seed=3).phases != sum_of_sines(seed=4).phases
    spectrum = torch.fft.rfft(sig.y.double()).abs()
    peaks = set(torch.topk(spectrum, 14).indices.tolist())
    assert peaks == set(sig.freqs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(n=1), "n"), (dict(n=64, freqs=(40,)), "freqs"), (dict(freqs=()), "freqs"),
    (dict(freqs=(2.5,)), "freqs"), (dict(freqs=(5, 5)), "freqs"),
    (dict(freqs=(5, 10), amplitudes=(1.0,)), "amplitudes"),
])
def test_sum_of_sines_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sum_of_sines(**kwargs)


@pytest.mark.parametrize("name", ["camera", "astronaut", "coffee", "chelsea"])
def test_bundled_images_load_offline_at_the_requested_size(name):
    img = load_image(name, size=32)
    assert img.shape == (32, 32, 1) and img.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0 and float(img.std()) > 0.01
    colour = load_image(name, size=(24, 40), grey=False)
    assert colour.shape[:2] == (24, 40) and colour.shape[2] in (1, 3)


def test_full_size_camera_matches_skimage():
    from skimage import data
    img = load_image("camera")
    np.testing.assert_allclose(img[:, :, 0].numpy(), data.camera() / 255.0, atol=1e-6)


def test_noise_is_seeded_and_needs_a_size():
    a = load_image("noise", size=16, seed=1)
    assert a.shape == (16, 16, 1)
    assert torch.equal(a, load_image("noise", size=16, seed=1))
    assert not torch.equal(a, load_image("noise", size=16, seed=2))
    with pytest.raises(ValueError, match="size"):
        load_image("noise")


def test_user_files(tmp_path):
    from skimage import io
    arr = (np.arange(20 * 30 * 3) % 256).astype(np.uint8).reshape(20, 30, 3)
    io.imsave(tmp_path / "a.png", arr, check_contrast=False)
    img = load_image(tmp_path / "a.png", grey=False)
    np.testing.assert_allclose(img.numpy(), arr / 255.0, atol=1e-6)
    np.save(tmp_path / "b.npy", np.linspace(0, 1, 12 * 10).reshape(12, 10))
    assert load_image(str(tmp_path / "b.npy"), size=8).shape == (8, 8, 1)


def test_bad_images_are_errors(tmp_path):
    with pytest.raises(ValueError, match="name_or_path"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="decode"):
        load_image(bad)
    np.save(tmp_path / "big.npy", np.full((4, 4), 3.0))
    with pytest.raises(ValueError, match="outside"):
        load_image(tmp_path / "big.npy")
    with pytest.raises(ValueError, match="size"):
        load_image("camera", size=1)
