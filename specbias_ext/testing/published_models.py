"""Published coordinate networks, re-typed for the tests and benchmarks of reading whole models
(``split_model``).

Each class follows its authors' code statement by statement where the reading depends on it
(the same torch calls, control flow, module structure and attribute names, so the traced graph
is the one a user of that code would give us); only docstrings, comments and constructor
plumbing unrelated to the forward are our own. Sources (read at these paths):

- ``NeRFEmbedder``/``get_embedder``/``NeRF``: yenchenlin/nerf-pytorch, run_nerf_helpers.py
  (positional encoding with the input included, ``torch.split`` of the input into points and
  view directions, the ``pts_linears`` ModuleList loop with ``cat([input_pts, h])`` after the
  skip layers, density and colour heads joined by ``cat([rgb, alpha])``); ``NeRFRunNetwork``
  is the embedding step of run_nerf.py's ``run_network`` (without ``batchify``) as a module.
- ``DeepSDFDecoder``: facebookresearch/DeepSDF, networks/deep_sdf_decoder.py (latent_in /
  xyz_in_all re-injection, ``input.shape[1] > 3`` branch, weight_norm or LayerNorm layers, eval
  dropout, ``th`` tanh at the end).
- ``input_mapping``/``FourierNetwork``/``FourierFeatureModel``: the Gaussian Fourier feature
  network of tancik/fourier-feature-networks (Demo.ipynb) as ported to torch: ``input_mapping``
  and the ReLU network with a sigmoid output; ``FourierFeatureModel`` is the demo's
  ``model_pred`` with B stored in the module.
- ``FieldComponent``/``NeRFEncoding``/``HashEncoding``/``MLP``/``FieldHead``/``DensityFieldHead``:
  nerfstudio-project/nerfstudio, field_components/ (the torch implementations; the tcnn
  branches are left out). ``NeRFFieldDensity`` is fields/vanilla_nerf_field.py's
  ``get_density`` on positions; ``HashGridField`` an instant-NGP-style hash grid + ReLU MLP with
  an exp density.
- Refused ones: ``SineLayer``/``Siren`` (vsitzmann/siren, explore_siren.ipynb),
  ``HashEmbedder`` + ``get_voxel_vertices`` (yashbhalgat/HashNeRF-pytorch; its bounding-box check
  branches on values), ``MultiLayerBlock``/``ImageRepresentationMlp``
  (jmclong/random-fourier-features-pytorch, examples/image_representation_mlp.py: one block
  repeated, so one Linear is called four times).
"""
from __future__ import annotations

from itertools import repeat
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- NeRF


class NeRFEmbedder:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.create_embedding_fn()

    def create_embedding_fn(self):
        embed_fns = []
        d = self.kwargs['input_dims']
        out_dim = 0
        if self.kwargs['include_input']:
            embed_fns.append(lambda x: x)
            out_dim += d
        max_freq = self.kwargs['max_freq_log2']
        N_freqs = self.kwargs['num_freqs']
        if self.kwargs['log_sampling']:
            freq_bands = 2.**torch.linspace(0., max_freq, steps=N_freqs)
        else:
            freq_bands = torch.linspace(2.**0., 2.**max_freq, steps=N_freqs)
        for freq in freq_bands:
            for p_fn in self.kwargs['periodic_fns']:
                embed_fns.append(lambda x, p_fn=p_fn, freq=freq: p_fn(x * freq))
                out_dim += d
        self.embed_fns = embed_fns
        self.out_dim = out_dim

    def embed(self, inputs):
        return torch.cat([fn(inputs) for fn in self.embed_fns], -1)


def get_embedder(multires):
    embed_kwargs = {
        'include_input': True,
        'input_dims': 3,
        'max_freq_log2': multires - 1,
        'num_freqs': multires,
        'log_sampling': True,
        'periodic_fns': [torch.sin, torch.cos],
    }
    embedder_obj = NeRFEmbedder(**embed_kwargs)
    embed = lambda x, eo=embedder_obj: eo.embed(x)  # noqa: E731 (as the authors wrote it)
    return embed, embedder_obj.out_dim


class NeRF(nn.Module):
    def __init__(self, D=8, W=256, input_ch=3, input_ch_views=3, output_ch=4, skips=[4],
                 use_viewdirs=False):
        super(NeRF, self).__init__()
        self.D = D
        self.W = W
        self.input_ch = input_ch
        self.input_ch_views = input_ch_views
        self.skips = skips
        self.use_viewdirs = use_viewdirs
        self.pts_linears = nn.ModuleList(
            [nn.Linear(input_ch, W)] + [nn.Linear(W, W) if i not in self.skips
                                        else nn.Linear(W + input_ch, W) for i in range(D - 1)])
        self.views_linears = nn.ModuleList([nn.Linear(input_ch_views + W, W // 2)])
        if use_viewdirs:
            self.feature_linear = nn.Linear(W, W)
            self.alpha_linear = nn.Linear(W, 1)
            self.rgb_linear = nn.Linear(W // 2, 3)
        else:
            self.output_linear = nn.Linear(W, output_ch)

    def forward(self, x):
        input_pts, input_views = torch.split(x, [self.input_ch, self.input_ch_views], dim=-1)
        h = input_pts
        for i, l in enumerate(self.pts_linears):
            h = self.pts_linears[i](h)
            h = F.relu(h)
            if i in self.skips:
                h = torch.cat([input_pts, h], -1)

        if self.use_viewdirs:
            alpha = self.alpha_linear(h)
            feature = self.feature_linear(h)
            h = torch.cat([feature, input_views], -1)
            for i, l in enumerate(self.views_linears):
                h = self.views_linears[i](h)
                h = F.relu(h)
            rgb = self.rgb_linear(h)
            outputs = torch.cat([rgb, alpha], -1)
        else:
            outputs = self.output_linear(h)
        return outputs


class NeRFRunNetwork(nn.Module):
    """run_network's embedding step as a module: ``x = [points | view directions]`` (3 + 3)."""

    def __init__(self, multires=10, multires_views=4, D=8, W=256, skips=[4]):
        super().__init__()
        self.embed_fn, input_ch = get_embedder(multires)
        self.embeddirs_fn, input_ch_views = get_embedder(multires_views)
        self.fn = NeRF(D=D, W=W, input_ch=input_ch, input_ch_views=input_ch_views,
                       skips=skips, use_viewdirs=True)

    def forward(self, x):
        inputs_flat, input_dirs_flat = x[..., :3], x[..., 3:]
        embedded = self.embed_fn(inputs_flat)
        embedded_dirs = self.embeddirs_fn(input_dirs_flat)
        embedded = torch.cat([embedded, embedded_dirs], -1)
        return self.fn(embedded)


# ----------------------------------------------------------------------------- DeepSDF


class DeepSDFDecoder(nn.Module):
    def __init__(self, latent_size, dims, dropout=None, dropout_prob=0.0, norm_layers=(),
                 latent_in=(), weight_norm=False, xyz_in_all=None, use_tanh=False,
                 latent_dropout=False):
        super(DeepSDFDecoder, self).__init__()
        dims = [latent_size + 3] + dims + [1]
        self.num_layers = len(dims)
        self.norm_layers = norm_layers
        self.latent_in = latent_in
        self.latent_dropout = latent_dropout
        if self.latent_dropout:
            self.lat_dp = nn.Dropout(0.2)
        self.xyz_in_all = xyz_in_all
        self.weight_norm = weight_norm
        for layer in range(0, self.num_layers - 1):
            if layer + 1 in latent_in:
                out_dim = dims[layer + 1] - dims[0]
            else:
                out_dim = dims[layer + 1]
                if self.xyz_in_all and layer != self.num_layers - 2:
                    out_dim -= 3
            if weight_norm and layer in self.norm_layers:
                setattr(self, "lin" + str(layer),
                        nn.utils.weight_norm(nn.Linear(dims[layer], out_dim)))
            else:
                setattr(self, "lin" + str(layer), nn.Linear(dims[layer], out_dim))
            if (not weight_norm) and self.norm_layers is not None and layer in self.norm_layers:
                setattr(self, "bn" + str(layer), nn.LayerNorm(out_dim))
        self.use_tanh = use_tanh
        if use_tanh:
            self.tanh = nn.Tanh()
        self.relu = nn.ReLU()
        self.dropout_prob = dropout_prob
        self.dropout = dropout
        self.th = nn.Tanh()

    # input: N x (L+3)
    def forward(self, input):
        xyz = input[:, -3:]
        if input.shape[1] > 3 and self.latent_dropout:
            latent_vecs = input[:, :-3]
            latent_vecs = F.dropout(latent_vecs, p=0.2, training=self.training)
            x = torch.cat([latent_vecs, xyz], 1)
        else:
            x = input
        for layer in range(0, self.num_layers - 1):
            lin = getattr(self, "lin" + str(layer))
            if layer in self.latent_in:
                x = torch.cat([x, input], 1)
            elif layer != 0 and self.xyz_in_all:
                x = torch.cat([x, xyz], 1)
            x = lin(x)
            if layer == self.num_layers - 2 and self.use_tanh:
                x = self.tanh(x)
            if layer < self.num_layers - 2:
                if (self.norm_layers is not None and layer in self.norm_layers
                        and not self.weight_norm):
                    bn = getattr(self, "bn" + str(layer))
                    x = bn(x)
                x = self.relu(x)
                if self.dropout is not None and layer in self.dropout:
                    x = F.dropout(x, p=self.dropout_prob, training=self.training)
        if hasattr(self, "th"):
            x = self.th(x)
        return x


# ----------------------------------------------------------------------------- Fourier features


def input_mapping(x, B):
    if B is None:
        return x
    else:
        x_proj = (2. * np.pi * x) @ B.T
        return torch.cat([torch.sin(x_proj), torch.cos(x_proj)], dim=-1)


class FourierNetwork(nn.Module):
    def __init__(self, input_dim, num_layers, num_channels):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers.append(nn.Linear(input_dim, num_channels))
        for i in range(num_layers - 2):
            self.layers.append(nn.Linear(num_channels, num_channels))
        self.layers.append(nn.Linear(num_channels, 3))

    def forward(self, x):
        for i, layer in enumerate(self.layers[:-1]):
            x = torch.nn.functional.relu(layer(x))
        return torch.sigmoid(self.layers[-1](x))


class FourierFeatureModel(nn.Module):
    """The demo's ``model_pred(x) = model(input_mapping(x, B))`` with its Gaussian B inside."""

    def __init__(self, B, num_layers=4, num_channels=256):
        super().__init__()
        self.register_buffer("B", B)
        self.model = FourierNetwork(2 * B.shape[0], num_layers, num_channels)

    def forward(self, x):
        return self.model(input_mapping(x, self.B))


# ----------------------------------------------------------------------------- nerfstudio


class FieldComponent(nn.Module):
    def __init__(self, in_dim: Optional[int] = None, out_dim: Optional[int] = None) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim

    def get_out_dim(self) -> int:
        if self.out_dim is None:
            raise ValueError("Output dimension has not been set")
        return self.out_dim


class NeRFEncoding(FieldComponent):
    def __init__(self, in_dim: int, num_frequencies: int, min_freq_exp: float,
                 max_freq_exp: float, include_input: bool = False) -> None:
        super().__init__(in_dim)
        self.num_frequencies = num_frequencies
        self.min_freq = min_freq_exp
        self.max_freq = max_freq_exp
        self.include_input = include_input
        self.tcnn_encoding = None

    def get_out_dim(self) -> int:
        out_dim = self.in_dim * self.num_frequencies * 2
        if self.include_input:
            out_dim += self.in_dim
        return out_dim

    def pytorch_fwd(self, in_tensor, covs=None):
        scaled_in_tensor = 2 * torch.pi * in_tensor  # scale to [0, 2pi]
        freqs = 2 ** torch.linspace(self.min_freq, self.max_freq,
                                    self.num_frequencies).to(in_tensor.device)
        scaled_inputs = scaled_in_tensor[..., None] * freqs  # [..., "input_dim", "num_scales"]
        scaled_inputs = scaled_inputs.view(*scaled_inputs.shape[:-2], -1)
        if covs is None:
            encoded_inputs = torch.sin(torch.cat([scaled_inputs, scaled_inputs + torch.pi / 2.0],
                                                 dim=-1))
        else:
            raise NotImplementedError("integrated encodings are not re-typed here")
        if self.include_input:
            encoded_inputs = torch.cat([encoded_inputs, in_tensor], dim=-1)
        return encoded_inputs

    def forward(self, in_tensor, covs=None):
        if self.tcnn_encoding is not None:
            return self.tcnn_encoding(in_tensor)
        return self.pytorch_fwd(in_tensor, covs)


class HashEncoding(FieldComponent):
    def __init__(self, num_levels: int = 16, min_res: int = 16, max_res: int = 1024,
                 log2_hashmap_size: int = 19, features_per_level: int = 2,
                 hash_init_scale: float = 0.001) -> None:
        super().__init__(in_dim=3)
        self.num_levels = num_levels
        self.features_per_level = features_per_level
        self.log2_hashmap_size = log2_hashmap_size
        self.hash_table_size = 2**log2_hashmap_size
        levels = torch.arange(num_levels)
        growth_factor = np.exp((np.log(max_res) - np.log(min_res)) / (num_levels - 1))
        self.scalings = torch.floor(min_res * growth_factor**levels)
        self.hash_offset = levels * self.hash_table_size
        self.hash_table = torch.rand(size=(self.hash_table_size * num_levels,
                                           features_per_level)) * 2 - 1
        self.hash_table *= hash_init_scale
        self.hash_table = nn.Parameter(self.hash_table)
        self.tcnn_encoding = None

    def get_out_dim(self) -> int:
        return self.num_levels * self.features_per_level

    def hash_fn(self, in_tensor):
        in_tensor = in_tensor * torch.tensor([1, 2654435761, 805459861]).to(in_tensor.device)
        x = torch.bitwise_xor(in_tensor[..., 0], in_tensor[..., 1])
        x = torch.bitwise_xor(x, in_tensor[..., 2])
        x %= self.hash_table_size
        x += self.hash_offset.to(x.device)
        return x

    def pytorch_fwd(self, in_tensor):
        assert in_tensor.shape[-1] == 3
        in_tensor = in_tensor[..., None, :]  # [..., 1, 3]
        scaled = in_tensor * self.scalings.view(-1, 1).to(in_tensor.device)  # [..., L, 3]
        scaled_c = torch.ceil(scaled).type(torch.int32)
        scaled_f = torch.floor(scaled).type(torch.int32)
        offset = scaled - scaled_f
        hashed_0 = self.hash_fn(scaled_c)  # [..., num_levels]
        hashed_1 = self.hash_fn(torch.cat([scaled_c[..., 0:1], scaled_f[..., 1:2],
                                           scaled_c[..., 2:3]], dim=-1))
        hashed_2 = self.hash_fn(torch.cat([scaled_f[..., 0:1], scaled_f[..., 1:2],
                                           scaled_c[..., 2:3]], dim=-1))
        hashed_3 = self.hash_fn(torch.cat([scaled_f[..., 0:1], scaled_c[..., 1:2],
                                           scaled_c[..., 2:3]], dim=-1))
        hashed_4 = self.hash_fn(torch.cat([scaled_c[..., 0:1], scaled_c[..., 1:2],
                                           scaled_f[..., 2:3]], dim=-1))
        hashed_5 = self.hash_fn(torch.cat([scaled_c[..., 0:1], scaled_f[..., 1:2],
                                           scaled_f[..., 2:3]], dim=-1))
        hashed_6 = self.hash_fn(scaled_f)
        hashed_7 = self.hash_fn(torch.cat([scaled_f[..., 0:1], scaled_c[..., 1:2],
                                           scaled_f[..., 2:3]], dim=-1))
        f_0 = self.hash_table[hashed_0]  # [..., num_levels, features_per_level]
        f_1 = self.hash_table[hashed_1]
        f_2 = self.hash_table[hashed_2]
        f_3 = self.hash_table[hashed_3]
        f_4 = self.hash_table[hashed_4]
        f_5 = self.hash_table[hashed_5]
        f_6 = self.hash_table[hashed_6]
        f_7 = self.hash_table[hashed_7]
        f_03 = f_0 * offset[..., 0:1] + f_3 * (1 - offset[..., 0:1])
        f_12 = f_1 * offset[..., 0:1] + f_2 * (1 - offset[..., 0:1])
        f_56 = f_5 * offset[..., 0:1] + f_6 * (1 - offset[..., 0:1])
        f_47 = f_4 * offset[..., 0:1] + f_7 * (1 - offset[..., 0:1])
        f0312 = f_03 * offset[..., 1:2] + f_12 * (1 - offset[..., 1:2])
        f4756 = f_47 * offset[..., 1:2] + f_56 * (1 - offset[..., 1:2])
        encoded_value = f0312 * offset[..., 2:3] + f4756 * (1 - offset[..., 2:3])
        return torch.flatten(encoded_value, start_dim=-2, end_dim=-1)

    def forward(self, in_tensor):
        if self.tcnn_encoding is not None:
            return self.tcnn_encoding(in_tensor)
        return self.pytorch_fwd(in_tensor)


class MLP(FieldComponent):
    def __init__(self, in_dim: int, num_layers: int, layer_width: int,
                 out_dim: Optional[int] = None, skip_connections: Optional[Tuple[int]] = None,
                 activation: Optional[nn.Module] = nn.ReLU(),
                 out_activation: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.in_dim = in_dim
        assert self.in_dim > 0
        self.out_dim = out_dim if out_dim is not None else layer_width
        self.num_layers = num_layers
        self.layer_width = layer_width
        self.skip_connections = skip_connections
        self._skip_connections = set(skip_connections) if skip_connections else set()
        self.activation = activation
        self.out_activation = out_activation
        self.net = None
        self.build_nn_modules()

    def build_nn_modules(self) -> None:
        layers = []
        if self.num_layers == 1:
            layers.append(nn.Linear(self.in_dim, self.out_dim))
        else:
            for i in range(self.num_layers - 1):
                if i == 0:
                    assert i not in self._skip_connections, "Skip connection at layer 0"
                    layers.append(nn.Linear(self.in_dim, self.layer_width))
                elif i in self._skip_connections:
                    layers.append(nn.Linear(self.layer_width + self.in_dim, self.layer_width))
                else:
                    layers.append(nn.Linear(self.layer_width, self.layer_width))
            layers.append(nn.Linear(self.layer_width, self.out_dim))
        self.layers = nn.ModuleList(layers)

    def forward(self, in_tensor):
        x = in_tensor
        for i, layer in enumerate(self.layers):
            # as checked in `build_nn_modules`, 0 should not be in `_skip_connections`
            if i in self._skip_connections:
                x = torch.cat([in_tensor, x], -1)
            x = layer(x)
            if self.activation is not None and i < len(self.layers) - 1:
                x = self.activation(x)
        if self.out_activation is not None:
            x = self.out_activation(x)
        return x


class FieldHead(FieldComponent):
    def __init__(self, out_dim: int, in_dim: Optional[int] = None, activation=None) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.activation = activation
        self.net = None
        if in_dim is not None:
            self.in_dim = in_dim
            self._construct_net()

    def _construct_net(self):
        self.net = nn.Linear(self.in_dim, self.out_dim)

    def forward(self, in_tensor):
        if not self.net:
            raise SystemError("in_dim not set. Must be provided to construtor, or set_in_dim() "
                              "should be called.")
        out_tensor = self.net(in_tensor)
        if self.activation:
            out_tensor = self.activation(out_tensor)
        return out_tensor


class DensityFieldHead(FieldHead):
    def __init__(self, in_dim: Optional[int] = None,
                 activation: Optional[nn.Module] = nn.Softplus()) -> None:
        super().__init__(in_dim=in_dim, out_dim=1, activation=activation)


class NeRFFieldDensity(nn.Module):
    """vanilla_nerf_field.NeRFField's density path: ``get_density`` on sample positions."""

    def __init__(self, base_mlp_num_layers=8, base_mlp_layer_width=256, skip_connections=(4,)):
        super().__init__()
        self.position_encoding = NeRFEncoding(in_dim=3, num_frequencies=10, min_freq_exp=0.0,
                                              max_freq_exp=8.0, include_input=True)
        self.mlp_base = MLP(in_dim=self.position_encoding.get_out_dim(),
                            num_layers=base_mlp_num_layers, layer_width=base_mlp_layer_width,
                            skip_connections=skip_connections, out_activation=nn.ReLU())
        self.field_output_density = DensityFieldHead(in_dim=self.mlp_base.get_out_dim())

    def forward(self, positions):
        encoded_xyz = self.position_encoding(positions)
        base_mlp_out = self.mlp_base(encoded_xyz)
        density = self.field_output_density(base_mlp_out)
        return density, base_mlp_out


class HashGridField(nn.Module):
    """An instant-NGP-style field: the hash grid, a ReLU MLP, exp on the density."""

    def __init__(self, num_levels=8, log2_hashmap_size=12, hidden_dim=32, num_layers=3):
        super().__init__()
        self.encoding = HashEncoding(num_levels=num_levels, min_res=4, max_res=64,
                                     log2_hashmap_size=log2_hashmap_size, hash_init_scale=0.5)
        self.mlp_base = MLP(in_dim=self.encoding.get_out_dim(), num_layers=num_layers,
                            layer_width=hidden_dim, out_dim=1, activation=nn.ReLU())

    def forward(self, positions):
        return torch.exp(self.mlp_base(self.encoding(positions)))


# ----------------------------------------------------------------------------- refused


class SineLayer(nn.Module):
    def __init__(self, in_features, out_features, bias=True, is_first=False, omega_0=30):
        super().__init__()
        self.omega_0 = omega_0
        self.is_first = is_first
        self.in_features = in_features
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        with torch.no_grad():
            bound = 1 / in_features if is_first else np.sqrt(6 / in_features) / omega_0
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, input):
        return torch.sin(self.omega_0 * self.linear(input))


class Siren(nn.Module):
    def __init__(self, in_features, hidden_features, hidden_layers, out_features,
                 outermost_linear=False, first_omega_0=30, hidden_omega_0=30.):
        super().__init__()
        self.net = []
        self.net.append(SineLayer(in_features, hidden_features, is_first=True,
                                  omega_0=first_omega_0))
        for i in range(hidden_layers):
            self.net.append(SineLayer(hidden_features, hidden_features, is_first=False,
                                      omega_0=hidden_omega_0))
        if outermost_linear:
            self.net.append(nn.Linear(hidden_features, out_features))
        else:
            self.net.append(SineLayer(hidden_features, out_features, is_first=False,
                                      omega_0=hidden_omega_0))
        self.net = nn.Sequential(*self.net)

    def forward(self, coords):
        coords = coords.clone().detach().requires_grad_(True)
        output = self.net(coords)
        return output, coords


def get_voxel_vertices(xyz, bounding_box, resolution, log2_hashmap_size):
    box_min, box_max = bounding_box
    if not torch.all(xyz < box_max) or not torch.all(xyz > box_min):
        xyz = torch.clamp(xyz, min=box_min, max=box_max)   # the authors stop in pdb here
    grid_size = (box_max - box_min) / resolution
    bottom_left_idx = torch.floor((xyz - box_min) / grid_size).int()
    voxel_min_vertex = bottom_left_idx * grid_size + box_min
    voxel_max_vertex = voxel_min_vertex + torch.tensor([1.0, 1.0, 1.0]) * grid_size
    hashed_voxel_indices = []
    for i in [0, 1]:
        for j in [0, 1]:
            for k in [0, 1]:
                vertex_idx = bottom_left_idx + torch.tensor([i, j, k])
                x, y, z = vertex_idx[:, 0], vertex_idx[:, 1], vertex_idx[:, 2]
                hashed_voxel_indices.append(((1 << log2_hashmap_size) - 1) & (
                    x * 73856093 ^ y * 19349663 ^ z * 83492791))
    return voxel_min_vertex, voxel_max_vertex, torch.stack(hashed_voxel_indices, dim=0)


class HashEmbedderMLP(nn.Module):
    """HashNeRF's ``HashEmbedder`` (one level) in front of a ReLU layer and a head."""

    def __init__(self):
        super().__init__()
        self.bounding_box = (torch.zeros(3), torch.ones(3))
        self.embeddings = nn.Embedding(2**10, 2)
        self.lin, self.head = nn.Linear(2 * 8, 16), nn.Linear(16, 1)

    def forward(self, x):
        _, _, hashed = get_voxel_vertices(x, self.bounding_box, 8.0, 10)
        return self.head(F.relu(self.lin(self.embeddings(hashed).permute(1, 0, 2).flatten(1))))


class MultiLayerBlock(nn.Module):
    def __init__(self, hidden_layer_size: int = 256):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(hidden_layer_size, hidden_layer_size), nn.ReLU())

    def forward(self, x):
        return self.layers(x)


class ImageRepresentationMlp(nn.Module):
    def __init__(self, encoded_layer_size: int = 512, num_layers: int = 4,
                 hidden_layer_size: int = 256):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(encoded_layer_size, hidden_layer_size),
            *repeat(MultiLayerBlock(hidden_layer_size), num_layers),
            nn.Linear(hidden_layer_size, 3),
            nn.Sigmoid()
        )

    def forward(self, x):
        return self.layers(x)
