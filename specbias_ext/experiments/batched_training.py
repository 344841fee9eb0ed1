"""M coordinate MLPs trained at once as one batched model.

Every layer's weights are stacked into ``[M, out, in]`` and applied with ``torch.baddbmm``. Each
model keeps its own initialisation (seeded like ``nn.Linear``), its own minibatch order and its own
loss; Adam is elementwise, so one Adam over the stacked tensors equals M separate Adams. Models
whose encodings have fewer features than the widest one get zero-padded inputs and zero first-layer
columns there: those columns see zero gradient and never move, so the padding changes nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch

from ..nets.models import linear_init
from ..nets.network import ReluNetwork

Tensor = torch.Tensor


class MLPEnsemble(torch.nn.Module):
    """M ReLU MLPs with the same hidden layout and per-model input widths ``in_dims``."""

    def __init__(self, in_dims: Sequence[int], depth: int, width: int, out_dim: int,
                 seeds: Sequence[int], dtype=torch.float32, device="cpu"):
        super().__init__()
        if len(in_dims) != len(seeds):
            raise ValueError(f"in_dims ({len(in_dims)}) and seeds ({len(seeds)}) must match")
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
        self.in_dims = [int(d) for d in in_dims]
        self.depth, self.width, self.out_dim = int(depth), int(width), int(out_dim)
        self.max_in = max(self.in_dims)
        dims = [self.max_in] + [self.width] * self.depth + [self.out_dim]
        ws = [[] for _ in range(len(dims) - 1)]
        bs = [[] for _ in range(len(dims) - 1)]
        for m, (in_dim, seed) in enumerate(zip(self.in_dims, seeds)):
            gen = torch.Generator().manual_seed(int(seed))
            true_dims = [in_dim] + dims[1:]
            for l in range(len(dims) - 1):
                w, b = linear_init(true_dims[l + 1], true_dims[l], gen, dtype)
                if l == 0 and in_dim < self.max_in:
                    w = torch.cat([w, w.new_zeros(w.shape[0], self.max_in - in_dim)], dim=1)
                ws[l].append(w)
                bs[l].append(b)
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.stack(w).to(device)) for w in ws])
        self.biases = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.stack(b).to(device)) for b in bs])

    @property
    def num_models(self) -> int:
        return len(self.in_dims)

    def forward(self, x: Tensor) -> Tensor:
        """``x [M, B, max_in]`` -> ``[M, B, out_dim]``."""
        a = x
        last = len(self.weights) - 1
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = torch.baddbmm(b.unsqueeze(1), a, w.transpose(1, 2))
            if l < last:
                a = torch.relu(a)
        return a

    def state(self) -> tuple[list[Tensor], list[Tensor]]:
        """Detached copies of the stacked weights and biases."""
        return ([w.detach().clone() for w in self.weights],
                [b.detach().clone() for b in self.biases])


def model_slice(weights: Sequence[Tensor], biases: Sequence[Tensor], m: int,
                in_dim: int) -> tuple[list[Tensor], list[Tensor]]:
    """Model m's (weights, biases) in nn.Linear layout, padding columns removed."""
    ws = [w[m].contiguous() for w in weights]
    ws[0] = ws[0][:, :in_dim].contiguous()
    return ws, [b[m].contiguous() for b in biases]


@dataclass
class EnsembleRun:
    """What training an ensemble leaves: weight snapshots at the record epochs and the losses."""
    in_dims: list[int]
    record_epochs: list[int]
    snapshots: list[tuple[list[Tensor], list[Tensor]]]   # one (stacked weights, biases) per epoch
    # [M, epochs + 1]: loss on all points at init, at record epochs and at the end; in between
    # the loss of the step taken at that epoch (full batch) or the epoch's mean minibatch loss
    losses: Tensor
    train_seconds: float
    fits: list[Tensor] = field(default_factory=list)     # model outputs on the grid per record

    def params(self, m: int, k: int = -1) -> tuple[list[Tensor], list[Tensor]]:
        """Model m's (weights, biases) at record k (default: the last)."""
        w, b = self.snapshots[k]
        return model_slice(w, b, m, self.in_dims[m])

    def network(self, m: int, k: int = -1) -> ReluNetwork:
        """Model m at record k as a ReluNetwork: what every measurement takes."""
        return ReluNetwork.of(*self.params(m, k))


def train_ensemble(ensemble: MLPEnsemble, inputs: Tensor, target: Tensor, *, epochs: int,
                   lr: float, record_epochs: Sequence[int], batch_size: Optional[int] = None,
                   seeds: Optional[Sequence[int]] = None, progress=None,
                   keep_fits: bool = True) -> EnsembleRun:
    """Train every model on its own inputs ``[M, N, max_in]`` (or ``[1, N, max_in]`` shared)
    against ``target [N, out]`` with MSE and Adam; full batch when ``batch_size`` is None.

    Snapshots (and the fits on all N points) are kept at each epoch in ``record_epochs``
    (epoch 0 = the initialisation). ``progress(epoch, losses)`` is called after each epoch.
    """
    m_count = ensemble.num_models
    n = inputs.shape[1]
    record = sorted(set(int(e) for e in record_epochs if 0 <= int(e) <= epochs))
    # The fused Adam kernel does the same elementwise update in one pass per tensor.
    opt = torch.optim.Adam(ensemble.parameters(), lr=lr, fused=True)
    target_b = target.unsqueeze(0)
    shared = inputs.shape[0] == 1
    gens = [torch.Generator().manual_seed(int(s) + 7919) for s in (seeds or range(m_count))]
    losses = torch.zeros(m_count, epochs + 1, dtype=torch.float64)
    snapshots, fits = [], []

    def full_pass(chunk: int = 65536) -> Tensor:
        # In chunks of points so that M x chunk x width activations bound the memory.
        with torch.no_grad():
            x = inputs.expand(m_count, -1, -1) if shared else inputs
            return torch.cat([ensemble(x[:, s:s + chunk]) for s in range(0, n, chunk)], dim=1)

    def full_pass_and_maybe_record(epoch: int):
        out = full_pass()
        losses[:, epoch] = ((out - target_b) ** 2).mean(dim=(1, 2)).double().cpu()
        if epoch in record:
            snapshots.append(ensemble.state())
            if keep_fits:
                fits.append(out.cpu())

    start = time.perf_counter()
    full_pass_and_maybe_record(0)
    for epoch in range(1, epochs + 1):
        if batch_size is None or batch_size >= n:
            opt.zero_grad(set_to_none=True)
            x = inputs.expand(m_count, -1, -1) if shared else inputs
            out = ensemble(x)
            # Sum of per-model mean losses: each model's gradient is that of its own loss.
            loss = ((out - target_b) ** 2).mean(dim=(1, 2))
            loss.sum().backward()
            opt.step()
            with torch.no_grad():
                losses[:, epoch - 1] = loss.detach().double().cpu()
            if epoch in record or epoch == epochs:
                full_pass_and_maybe_record(epoch)
        else:
            perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(inputs.device)
            running = torch.zeros(m_count, dtype=torch.float64, device=inputs.device)
            for start_b in range(0, n, batch_size):
                idx = perms[:, start_b:start_b + batch_size]
                src = inputs.expand(m_count, -1, -1) if shared else inputs
                x = torch.gather(src, 1, idx.unsqueeze(2).expand(-1, -1, src.shape[2]))
                y = target[idx]
                opt.zero_grad(set_to_none=True)
                loss = ((ensemble(x) - y) ** 2).mean(dim=(1, 2))
                loss.sum().backward()
                opt.step()
                running += loss.detach().double() * idx.shape[1]
            if epoch in record or epoch == epochs:
                full_pass_and_maybe_record(epoch)
            else:   # mean minibatch loss over the epoch (the weights moved during it)
                losses[:, epoch] = (running / n).cpu()
        if progress is not None:
            full = batch_size is None or batch_size >= n
            progress(epoch, losses[:, epoch - 1] if full and epoch < epochs else losses[:, epoch])
    return EnsembleRun(ensemble.in_dims, record, snapshots, losses,
                       time.perf_counter() - start, fits)
