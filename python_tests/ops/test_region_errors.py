"""Bad input to the region ops raises errors that name the argument and what was expected.

The wrappers take a ReluNetwork, whose lists are consistent by construction; the kernels' own
checks of malformed weight and bias lists are reached through ``torch.ops.specbias`` directly."""
import pytest
import torch
from torch import nn

from specbias_ext.testing import random_mlp
from specbias_ext import (
    ReluNetwork, activation_patterns, bit_counts, hamming_neighbors, hamming_pairs, mlp_params,
    region_ids,
)

W, B = random_mlp(3, [20, 10])
NET = ReluNetwork.of(W, B)
X = torch.rand(5, 3, dtype=torch.float64)
P = torch.zeros(6, 2, dtype=torch.int64)
IDX = torch.arange(6)
kernel_patterns = torch.ops.specbias.activation_patterns


# ----------------------------------------------------------------- activation_patterns

@pytest.mark.parametrize("dtype", [torch.int64, torch.float16, torch.bool])
def test_x_dtype(dtype):
    with pytest.raises(RuntimeError, match=r"x: expected float32 or float64"):
        activation_patterns(X.to(dtype), NET)


def test_x_shape():
    with pytest.raises(RuntimeError, match=r"x: expected a 2-D tensor"):
        activation_patterns(X[0], NET)


def test_x_width_in_the_network_terms():
    with pytest.raises(ValueError, match=r"x has 2 features, the network's first layer takes 3: "
                                         r"pass the encoded coordinates"):
        activation_patterns(X[:, :2], NET)


def test_network_dtype_mismatch():
    with pytest.raises(RuntimeError, match=r"weights\[0\]: expected dtype"):
        activation_patterns(X, NET.to(torch.float32))


def test_weight_dtype_mismatch():
    with pytest.raises(RuntimeError, match=r"weights\[1\]: expected dtype"):
        kernel_patterns(X, [W[0], W[1].float(), W[2]], B)


def test_bias_dtype_mismatch():
    with pytest.raises(RuntimeError, match=r"biases\[0\]: expected dtype"):
        kernel_patterns(X, W, [B[0].float(), B[1], B[2]])


def test_device_mismatch():
    with pytest.raises(RuntimeError, match=r"weights\[0\]: expected device"):
        kernel_patterns(X, [W[0].to("meta"), W[1], W[2]], B)


def test_wrong_in_features():
    with pytest.raises(RuntimeError, match=r"weights\[0\]: expected 3 input features"):
        kernel_patterns(X, [torch.zeros(20, 4, dtype=torch.float64), W[1], W[2]], B)


def test_wrong_layer_chaining():
    with pytest.raises(RuntimeError, match=r"weights\[2\]: expected 10 input features"):
        kernel_patterns(X, [W[0], W[1], torch.zeros(1, 11, dtype=torch.float64)], B)


def test_wrong_bias_length():
    with pytest.raises(RuntimeError, match=r"biases\[1\]: expected 10 entries"):
        kernel_patterns(X, W, [B[0], B[1][:9], B[2]])


def test_list_lengths():
    with pytest.raises(RuntimeError, match=r"biases: expected one bias per weight"):
        kernel_patterns(X, W, B[:2])


@pytest.mark.parametrize("n_layers", [0, 1])
def test_too_few_layers(n_layers):
    with pytest.raises(RuntimeError, match=r"weights: expected at least 2 layers"):
        kernel_patterns(X, W[:n_layers], B[:n_layers])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_x(bad):
    x = X.clone()
    x[2, 1] = bad
    with pytest.raises(RuntimeError, match=r"x: expected finite coordinates"):
        activation_patterns(x, NET)


# ----------------------------------------------------------------- pattern ops

@pytest.mark.parametrize("op", [
    lambda p: region_ids(p),
    lambda p: hamming_pairs(p, IDX, IDX),
    lambda p: hamming_neighbors(p, [6]),
    lambda p: bit_counts(p, 10),
])
@pytest.mark.parametrize("bad", [P.int(), P.float(), P[:, 0], P[None]])
def test_patterns_dtype_and_shape(op, bad):
    with pytest.raises(RuntimeError, match=r"patterns: expected"):
        op(bad)


@pytest.mark.parametrize("name,kwargs", [("i", {"i": IDX.int()}), ("j", {"j": IDX.float()})])
def test_index_dtype(name, kwargs):
    args = {"i": IDX, "j": IDX} | kwargs
    with pytest.raises(RuntimeError, match=rf"{name}: expected int64 indices"):
        hamming_pairs(P, args["i"], args["j"])


@pytest.mark.parametrize("bad", [torch.tensor([0, 6]), torch.tensor([-1, 2])])
def test_index_out_of_range(bad):
    with pytest.raises(RuntimeError, match=r"i: expected indices in \[0, 6\)"):
        hamming_pairs(P, bad, torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"j: expected indices in \[0, 6\)"):
        hamming_pairs(P, torch.tensor([0, 1]), bad)


def test_index_shape_and_length():
    with pytest.raises(RuntimeError, match=r"i: expected a 1-D index tensor"):
        hamming_pairs(P, IDX[None], IDX)
    with pytest.raises(RuntimeError, match=r"j: expected as many indices as i \(6\), got 5"):
        hamming_pairs(P, IDX, IDX[:5])


def test_index_device():
    with pytest.raises(RuntimeError, match=r"i: expected device cpu"):
        hamming_pairs(P, IDX.to("meta"), IDX)


@pytest.mark.parametrize("segments,match", [
    ([0], r"segments: expected at least 2 bit boundaries"),
    ([], r"segments: expected at least 2 bit boundaries"),
    ([-1, 10], r"segments: expected boundaries >= 0"),
    ([0, 20, 10], r"segments: expected non-decreasing"),
    ([0, 64, 129], r"segments: expected boundaries <= 128"),
])
def test_bad_segments(segments, match):
    with pytest.raises(RuntimeError, match=match):
        hamming_pairs(P, IDX, IDX, segments)


@pytest.mark.parametrize("shape,match", [
    ([7], r"grid_shape: expected sizes whose product is the number of pattern rows \(6\)"),
    ([2, 4], r"grid_shape: expected sizes whose product"),
    ([1, 2, 3, 1], r"grid_shape: expected 1, 2 or 3 sizes"),
    ([], r"grid_shape: expected 1, 2 or 3 sizes"),
    ([-2, -3], r"grid_shape: expected non-negative sizes"),
    ([2, 2, 2], r"grid_shape: expected sizes whose product is the number of pattern rows \(6\)"),
    ([2**32, 2**32, 2], r"grid_shape: the product of the sizes .* overflows int64"),
    ([2**62, 4, 0], r"grid_shape: expected sizes whose product .*\(0 points\)"),
])
def test_bad_grid_shape(shape, match):
    with pytest.raises(RuntimeError, match=match):
        hamming_neighbors(P, shape)


@pytest.mark.parametrize("num_bits", [-1, 129])
def test_bad_num_bits(num_bits):
    with pytest.raises(RuntimeError, match=r"num_bits: expected 0 <= num_bits <= 128"):
        bit_counts(P, num_bits)


# ----------------------------------------------------------------- mlp_params

def test_mlp_params_accepts_relu_mlp():
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 1))
    weights, biases = mlp_params(model)
    assert [w.shape for w in weights] == [(8, 2), (4, 8), (1, 4)]
    assert all(b is m.bias for b, m in zip(biases, [model[0], model[2], model[4]]))


@pytest.mark.parametrize("model,match", [
    (nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)),
     r"model\[1\] \(Tanh\): Tanh is not piecewise linear"),
    (nn.Sequential(nn.Linear(2, 8, bias=False), nn.ReLU(), nn.Linear(8, 1)),
     r"model\[0\]: nn.Linear without bias"),
    (nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 1)),
     r"model\[2\] \(Dropout\): Dropout in training mode"),
    (nn.Sequential(nn.Linear(2, 8), nn.ReLU()), r"model: expected at least one hidden layer"),
    (nn.Sequential(nn.Linear(2, 1)), r"model: expected at least one hidden layer"),
    (nn.Linear(2, 1), r"model: expected an nn.Sequential.*got Linear"),
])
def test_mlp_params_refuses(model, match):
    with pytest.raises(TypeError, match=match):
        mlp_params(model)
