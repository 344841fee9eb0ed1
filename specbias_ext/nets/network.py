"""The network description every op takes: ``ReluNetwork``.

A ReLU coordinate network with hidden layers l = 0..L-1 and a linear head l = L:

    in_l  = a_{l-1}                 or  [a_{l-1}, x_S]  (input skip; canonical column order)
    z_l   = W_l in_l + b_l          (b_l = 0 for a bias-free layer)
    a_l   = act_l(z_l)              or  act_l(z_l) + a_{l-1}   (residual add, equal widths)
    f(x)  = z_L

with a_{-1} = x, x_S = x (all its columns) or, for a skip that reads part of the input, the
half-open column range ``skip_columns[l] = (start, stop)`` (DeepSDF re-injects only xyz, a NeRF
trunk only the points), and act_l(z) = z where z > 0, slope_l * z elsewhere (slope 0: ReLU, 0 < slope:
LeakyReLU). The pattern bit of a hidden neuron is 1[z_lk > 0] whatever the slope.

Backward for one example (u_l = d loss / d a_l, delta_l = d loss / d z_l):

    delta_L = grad_out
    u_l     = (W_{l+1}^a)^T delta_{l+1} + [residual_{l+1}] u_{l+1}      (u_L = 0 term absent)
    delta_l = act_l'(z_l) * u_l,   act_l'(z) = 1 where z > 0, slope_l elsewhere

where W_{l+1}^a are the columns of W_{l+1} that read a_l (all of them without a skip). The
per-example gradient of layer l is delta_l in_l^T (weights) and delta_l (bias, if present), so

    ||g||^2     = sum_l ||delta_l||^2 (||in_l||^2 + [bias_l])
    <g_i, g_j>  = sum_l (delta_l^i . delta_l^j)(in_l^i . in_l^j + [bias_l])

The op-level encoding of a description (every op's schema) is ``weights: Tensor[]``,
``biases: Tensor?[]`` (None = no bias) and three keyword-only lists, each None for the plain
ReLU MLP: ``slopes: float[]`` (one per hidden layer), ``input_skip: bool[]`` (one per layer
including the head; entry 0 must be False), ``residual: bool[]`` (one per hidden layer) and
``skip_columns: int[]`` (two per layer, head included: ``start, stop`` of the x columns a skip
reads, ``-1, -1`` for all of x or no skip).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Optional, Sequence

import torch
from torch import nn

from .reading import ModelTrace, check_no_encoding, trace_model

Tensor = torch.Tensor


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _tensors(values: Any, name: str, optional: bool = False) -> tuple:
    """``values`` as a tuple of tensors (None allowed where ``optional``), or a TypeError naming
    ``name`` or the entry ``name[k]`` that is something else (a numpy array, a module...)."""
    if isinstance(values, nn.Module):
        raise TypeError(f"{name}: expected a list of tensors, got the module "
                        f"{type(values).__name__}; relu_network(model) reads a module")
    if isinstance(values, (Tensor, str)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}: expected a list of tensors, got {_type_name(values)}")
    values = tuple(values)
    for k, t in enumerate(values):
        if not (isinstance(t, Tensor) or (optional and t is None)):
            what = "a torch.Tensor or None" if optional else "a torch.Tensor"
            raise TypeError(f"{name}[{k}]: expected {what}, got {_type_name(t)} (convert with "
                            "torch.as_tensor)")
    return values


@dataclass(frozen=True, eq=False)
class ReluNetwork:
    """A described ReLU (or LeakyReLU) network: layers 0..L-1 hidden, layer L the head.

    ``weights[l]`` is ``[out_l, in_l]`` (nn.Linear layout); with ``input_skips[l]`` its columns
    are ``[a_{l-1} columns, x columns]``. ``biases[l]`` is ``[out_l]`` or None. ``slopes[l]`` is
    the negative slope of hidden layer l (0.0 for ReLU). ``residual[l]`` adds a_{l-1} to the
    activation of hidden layer l. ``skip_columns[l] = (start, stop)`` makes layer l's input skip
read ``x[..., start:stop]`` (None: all of x, or no skip). Build one with ``ReluNetwork.of(weights, biases, ...)`` (which
    fills the defaults of a plain MLP) or ``specbias_ext.relu_network(model)``.
    """

    weights: tuple[Tensor, ...]
    biases: tuple[Optional[Tensor], ...]
    slopes: tuple[float, ...] = field(default=())
    input_skips: tuple[bool, ...] = field(default=())
    residual: tuple[bool, ...] = field(default=())
    # sigma in f = sigma(z_L), or None: recorded for the loss gradient, ignored by every op
    output_activation: Optional[Any] = field(default=None)
    skip_columns: tuple[Optional[tuple[int, int]], ...] = field(default=())

    @classmethod
    def of(cls, weights: Sequence[Tensor], biases: Optional[Sequence[Optional[Tensor]]] = None,
           slopes: Optional[Sequence[float]] = None,
           input_skips: Optional[Sequence[bool]] = None,
           residual: Optional[Sequence[bool]] = None,
           skip_columns: Optional[Sequence[Optional[tuple[int, int]]]] = None) -> "ReluNetwork":
        """A description with plain-MLP defaults for every field left out (ReLU, no skip, no
        residual, skips reading all of x; ``biases=None`` means no layer has a bias).
        ``skip_columns[l] = (start, stop)`` makes layer l's input skip read only the columns
        ``x[..., start:stop]``."""
        weights = _tensors(weights, "weights")
        if len(weights) < 2:
            raise ValueError("weights: expected at least 2 layers (one hidden layer and the "
                             f"linear head), got {len(weights)}")
        hidden = len(weights) - 1
        biases = ((None,) * len(weights) if biases is None
                  else _tensors(biases, "biases", optional=True))
        slopes = (0.0,) * hidden if slopes is None else tuple(float(s) for s in slopes)
        input_skips = (False,) * len(weights) if input_skips is None else tuple(
            bool(s) for s in input_skips)
        residual = (False,) * hidden if residual is None else tuple(bool(r) for r in residual)
        skip_columns = (None,) * len(weights) if skip_columns is None else tuple(
            None if c is None else _column_range(c, l) for l, c in enumerate(skip_columns))
        net = cls(weights, biases, slopes, input_skips, residual, skip_columns=skip_columns)
        net.validate_structure()
        return net

    def __post_init__(self) -> None:
        if not self.skip_columns:      # left out: every skip reads all of x
            object.__setattr__(self, "skip_columns", (None,) * len(self.weights))
        object.__setattr__(self, "_slope_text", tuple(repr(float(v)) for v in self.slopes))
        object.__setattr__(self, "_leaky", any(float(v) != 0.0 for v in self.slopes))

    # ------------------------------------------------------------------ structure

    def validate_structure(self) -> None:
        """Shape and list-length consistency (dtype/device/finiteness are checked by the ops)."""
        n = len(self.weights)
        hidden = n - 1
        if n < 2:
            raise ValueError(f"weights: expected at least 2 layers, got {n}")
        if len(self.biases) != n:
            raise ValueError(f"biases: expected {n} entries (one per layer, None for no bias), "
                             f"got {len(self.biases)}")
        if len(self.slopes) != hidden:
            raise ValueError(f"slopes: expected {hidden} entries (one per hidden layer), "
                             f"got {len(self.slopes)}")
        if len(self.input_skips) != n:
            raise ValueError(f"input_skips: expected {n} entries (one per layer, head "
                             f"included), got {len(self.input_skips)}")
        if len(self.residual) != hidden:
            raise ValueError(f"residual: expected {hidden} entries (one per hidden layer), "
                             f"got {len(self.residual)}")
        if len(self.skip_columns) != n:
            raise ValueError(f"skip_columns: expected {n} entries (one per layer, head included; "
                             f"None for all of x or no skip), got {len(self.skip_columns)}")
        if self.input_skips[0]:
            raise ValueError("input_skips[0]: layer 0 already reads x; an input skip needs l >= 1")
        for l, s in enumerate(self.slopes):
            if s != s or s in (float("inf"), float("-inf")):
                raise ValueError(f"slopes[{l}]: expected a finite negative slope, got {s}")
        in_dim = int(self.weights[0].shape[1]) if self.weights[0].dim() == 2 else -1
        for l, cols in enumerate(self.skip_columns):
            if cols is None:
                continue
            if not self.input_skips[l]:
                raise ValueError(f"skip_columns[{l}]: layer {l} has no input skip "
                                 f"(input_skips[{l}] is False); expected None")
            start, stop = cols
            if not 0 <= start < stop <= in_dim:
                raise ValueError(f"skip_columns[{l}]: expected a column range (start, stop) of x "
                                 f"with 0 <= start < stop <= {in_dim} (x.shape[1], the width "
                                 f"layer 0 reads), got {cols}")
        prev = in_dim
        for l, w in enumerate(self.weights):
            if w.dim() != 2:
                raise ValueError(f"weights[{l}]: expected a 2-D tensor [out, in], got "
                                 f"{w.dim()} dimensions")
            expect = prev + self.skip_width(l)
            if l > 0 and int(w.shape[1]) != expect:
                raise ValueError(f"weights[{l}]: expected {expect} input features "
                                 f"({self._reads(l)}), got shape {tuple(w.shape)}")
            b = self.biases[l]
            if b is not None and (b.dim() != 1 or b.shape[0] != w.shape[0]):
                raise ValueError(f"biases[{l}]: expected shape ({int(w.shape[0])},), got "
                                 f"{tuple(b.shape)}")
            if l < hidden and self.residual[l] and int(w.shape[0]) != prev:
                raise ValueError(f"residual[{l}]: a residual add needs equal widths, layer {l} "
                                 f"has {int(w.shape[0])} outputs and reads {prev}")
            prev = int(w.shape[0])

    @property
    def depth(self) -> int:
        """Number of hidden layers L."""
        return len(self.weights) - 1

    @property
    def in_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.weights[-1].shape[0])

    @property
    def hidden_widths(self) -> list[int]:
        return [int(w.shape[0]) for w in self.weights[:-1]]

    @property
    def num_hidden(self) -> int:
        """H, the number of hidden neurons (pattern bits)."""
        return sum(self.hidden_widths)

    @property
    def is_plain(self) -> bool:
        """A plain ReLU MLP with a bias in every layer (the ops' fastest path)."""
        return (all(b is not None for b in self.biases) and not any(self.slopes)
                and not any(self.input_skips) and not any(self.residual))

    def _reads(self, l: int) -> str:
        """What layer l's input features are, in words (for errors)."""
        if not self.input_skips[l]:
            return "the previous layer's width"
        cols = self.skip_columns[l]
        if cols is None:
            return "the previous layer's width + x.shape[1] (input skip)"
        return (f"the previous layer's width + {cols[1] - cols[0]} (input skip of x columns "
                f"{cols[0]}:{cols[1]})")

    def skip_width(self, l: int) -> int:
        """Number of x columns layer l's input skip reads (0 without a skip)."""
        if not self.input_skips[l]:
            return 0
        cols = self.skip_columns[l]
        return self.in_dim if cols is None else cols[1] - cols[0]

    def skip_input(self, l: int, x: Tensor) -> Tensor:
        """The columns of ``x [..., D]`` that layer l's input skip concatenates after a_{l-1}."""
        cols = self.skip_columns[l]
        return x if cols is None else x[..., cols[0]:cols[1]]

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    def parameters(self) -> list[Tensor]:
        """Every parameter tensor, layer by layer (weight, then bias where present)."""
        out = []
        for w, b in zip(self.weights, self.biases):
            out.append(w)
            if b is not None:
                out.append(b)
        return out

    def num_parameters(self) -> int:
        return sum(int(p.numel()) for p in self.parameters())

    # ------------------------------------------------------------------ conversions

    def map_tensors(self, fn) -> "ReluNetwork":
        """The same description with ``fn`` applied to every tensor (e.g. ``.detach()``)."""
        return replace(self, weights=tuple(fn(w) for w in self.weights),
                       biases=tuple(None if b is None else fn(b) for b in self.biases))

    def with_output_activation(self, activation) -> "ReluNetwork":
        """The same network with ``activation`` (an ``OutputActivation``, or None) recorded as
        the elementwise function the model applies to the head's output."""
        return replace(self, output_activation=activation)

    def to(self, *args: Any, **kwargs: Any) -> "ReluNetwork":
        return self.map_tensors(lambda t: t.to(*args, **kwargs))

    def detach(self) -> "ReluNetwork":
        return self.map_tensors(lambda t: t.detach())

    def op_args(self) -> tuple[list[Tensor], list[Optional[Tensor]], dict[str, Any]]:
        """``(weights, biases, kwargs)`` as the ``torch.ops.specbias`` schemas take them; the
        keyword lists are None where the network is plain in that respect."""
        # The slopes are rebuilt from their repr strings: under torch.compile(dynamic=True) a
        # Python float read off an object is traced as a symbolic scalar, which a float[]
        # schema argument cannot take (the frame would be traced twice); strings stay constants.
        kwargs = {
            "slopes": [float(t) for t in self._slope_text] if self._leaky else None,
            "input_skip": list(self.input_skips) if any(self.input_skips) else None,
            "residual": list(self.residual) if any(self.residual) else None,
            "skip_columns": ([v for c in self.skip_columns for v in (c or (-1, -1))]
                             if any(c is not None for c in self.skip_columns) else None),
        }
        return list(self.weights), list(self.biases), kwargs

    def layer_bit_ranges(self) -> list[tuple[int, int]]:
        """``[(start, end), ...]``: the pattern bits of hidden layer l are start..end-1."""
        ranges, start = [], 0
        for width in self.hidden_widths:
            ranges.append((start, start + width))
            start += width
        return ranges

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary of the structure (no tensors)."""
        return {"in_dim": self.in_dim, "out_dim": self.out_dim,
                "hidden_widths": self.hidden_widths,
                "bias": [b is not None for b in self.biases],
                "slopes": list(self.slopes), "input_skips": list(self.input_skips),
                "residual": list(self.residual),
                "skip_columns": [None if c is None else list(c) for c in self.skip_columns],
                "output_activation": (None if self.output_activation is None
                                      else self.output_activation.description)}


def _column_range(cols, l: int) -> tuple[int, int]:
    try:
        start, stop = (int(v) for v in cols)
    except (TypeError, ValueError):
        raise ValueError(f"skip_columns[{l}]: expected None or a (start, stop) pair of ints, got "
                         f"{cols!r}") from None
    return start, stop


# How to fix an input of the wrong width: the ops' x, and the entry points taking an encoding.
INPUT_HINT = "pass the encoded coordinates (encoding(coords)), or the whole model with its encoding"
ENCODING_HINT = ("pass the encoding the network reads (e.g. model.encoding), or None for raw "
                 "coordinates")


def require_network(net: Any, name: str = "net") -> ReluNetwork:
    """``net`` itself if it is a ``ReluNetwork``; otherwise one TypeError naming ``name`` and the
    two ways to build one (every op, reference and exact count takes a described network)."""
    if isinstance(net, ReluNetwork):
        return net
    if isinstance(net, nn.Module):
        how = f"relu_network(model) reads one off a module (got {type(net).__name__})"
    else:
        how = (f"got {type(net).__name__}; build one with ReluNetwork.of(weights, biases) from "
               "nn.Linear-layout lists, or relu_network(model) from a module")
    raise TypeError(f"{name}: expected a ReluNetwork, {how}")


def check_input_width(net: ReluNetwork, width: Any, source: str = "x",
                      hint: str = INPUT_HINT) -> None:
    """Refuses, in the network's terms, an input whose feature count ``width`` is not what the
    first layer reads (the kernels would blame ``weights[0]``). ``width`` may be a SymInt."""
    takes = net.weights[0].shape[1]
    if width != takes:
        raise ValueError(f"{source} has {width} features, the network's first layer takes "
                         f"{takes}: {hint}")


def network_from(found: ModelTrace) -> ReluNetwork:
    """The description of a model's traced layers (``reading.trace_model``), with the activation
    after its head recorded."""
    layers = found.layers
    net = ReluNetwork.of(layers.weights, layers.biases, slopes=layers.slopes,
                         input_skips=layers.skips, residual=layers.residual,
                         skip_columns=layers.skip_columns)
    return net if found.activation is None else net.with_output_activation(found.activation)


def relu_network(model, output: Optional[str] = None, *,
                 in_dim: Optional[int] = None) -> ReluNetwork:
    """The ``ReluNetwork`` of a model whose forward starts at its first Linear (or of a
    ``CoordinateMLP``, whose callers apply ``model.encode``): the network part of
    ``split_model(model, output, in_dim=in_dim)``, which documents what is read and refused.

    A model that computes an encoding of the coordinates before its first Linear is refused
    (the network alone takes the encoded input): ``encoding, net = split_model(model)`` gives
    both. The description holds the model's own parameters (except a column-permuted copy for a
    layer that concatenates ``[x, a]`` and the computed weight of a weight-normalised layer);
    call it again after the parameters change.
    """
    found = trace_model(model, output, in_dim=in_dim)
    check_no_encoding(model, found.encoding)
    return network_from(found)
