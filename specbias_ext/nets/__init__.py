"""Networks: the ``ReluNetwork`` description every op takes; reading a whole model as its
encoding and network (``split_model``; ``reading``, built on ``fx_trace``, ``node_kinds``,
``tracing``, ``input_columns``, ``output_activation``); the package's own ``CoordinateMLP``
(``models``); the encodings (``encodings``) and how an encoding enters the geometry ops
(``encoding_forms``); bit layout helpers (``layout``); loading users' modules and state dicts
without running code from the file (``loading``).

Imports nothing above itself: every other floor builds on it.
"""
from .network import ReluNetwork, relu_network
from .split_model import split_model

__all__ = ["ReluNetwork", "relu_network", "split_model"]
