"""``split_model``: a whole model as its author wrote it (coordinates in, output out) read as its
encoding and its ReLU network -- the one entry point for reading a model (``nets.reading``
reads, ``nets.network`` builds the description)."""
from __future__ import annotations

from typing import Optional

from torch import nn

from .network import ReluNetwork, network_from
from .reading import trace_model


def split_model(model: nn.Module, output: Optional[str] = None, *,
                in_dim: Optional[int] = None) -> tuple[Optional[nn.Module], ReluNetwork]:
    """``(encoding, net)`` of a whole model: ``model(c) == act(net(encoding(c)))``.

    Args:
        model: an ``nn.Module`` mapping coordinates to outputs, as its author wrote it.
        output: the name of the Linear to read as the head (``'alpha_linear'``,
            ``'field_output_density.net'``), for a model with several heads; only what it
            depends on is read.
        in_dim: the width of the model's input. Needed only for a forward that branches on
            the input's shape or slices it from the end; when given, the split is also checked
            against the model's own forward on a few points.

    Returns:
        ``encoding``: None when the forward's first Linear reads the input itself; the model's
        encoding module when the forward calls one module on the input first; otherwise a
        ``torch.fx.GraphModule`` of the forward's own nodes up to the first Linear's input,
        holding the model's parameters, buffers and submodules (the same objects: it sees
        their updates, and trains with them). ``net``: the ``ReluNetwork`` from there to the
        head, with ``net.output_activation`` the elementwise function after the head (None
        when there is none).

    Raises:
        TypeError naming the module or traced node, why it cannot be read and how to recover.
    """
    found = trace_model(model, output, in_dim=in_dim)
    return found.encoding, network_from(found)
