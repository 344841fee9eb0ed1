"""Networks: the ``ReluNetwork`` description every op takes, reading one off a torch module
(``tracing``), the package's own ``CoordinateMLP`` (``models``), the encodings (``encodings``) and
how an encoding enters the geometry ops (``encoding_forms``), bit layout helpers (``layout``) and
loading users' modules and state dicts without running code from the file (``loading``).

Imports nothing above itself: every other floor builds on it.
"""
from .network import ReluNetwork, relu_network

__all__ = ["ReluNetwork", "relu_network"]
