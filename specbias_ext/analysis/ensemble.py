"""The region analysis of an ensemble (seeds x encodings ...): a list of models on one grid,
the members shared out over the processes of a torch.distributed group.

Member k is analysed by rank ``k mod P`` (round-robin, deterministic) with the single-process
streaming analysis (``stream.analyze_stream``; a member's grid is never sharded), so each
member's results are those of analysing it alone in one process, bit for bit. The rank that
computes a member writes its files (``<name>.json``, ``<name>.npz``, with ``ids="file"``
``<name>_ids.npy``: distinct names, so ranks never write the same file); rank 0 then writes
``<ensemble name>.json`` with every member's summary and the statistics across members (mean,
standard deviation and a t interval, from ``specbias_ext.stats.intervals``). Every JSON file
carries, apart from its values, its provenance with the number of processes of the run
(``outputs``); the values do not depend on that number.

The members are handled in rounds of P (round i: members ``iP .. iP + P - 1``, one per rank);
after each round the ranks exchange their status and the summaries of that round in one
``all_gather_object``. So every rank ends with every summary, and a member that fails makes
every rank raise after the round it failed in (that rank its own error, the others
``MemberFailed`` naming the rank and the member) instead of leaving them blocked in a
collective; the members of later rounds are not started. A rank waits at most for the slowest
member of a round, so the group's collective timeout must exceed the longest member's analysis.
"""
from __future__ import annotations

import math
import os
import traceback
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.distributed as dist

from ..nets.network import ReluNetwork
from ..runs.files import atomic_write_json
from ..runs.provenance import with_provenance
from ..stats import intervals as statistics
from .arguments import check_grad_out, check_grid, check_lc, check_tile
from .outputs import write_outputs
from .rank_failures import RankFailed
from .stream import analyze_stream
from .tile_scan import DEFAULT_TILE

Tensor = torch.Tensor

DEFAULT_ENSEMBLE_NAME = "ensemble"


def _local_complexity(summary: dict) -> dict:
    return summary.get("local_complexity") or {}


#: The per-member quantities summarised across the ensemble: key in ``ensemble.json`` -> how to
#: read it from a member's summary (None where the member has none). Each hidden layer's mean
#: local complexity is added by ``layer_complexity_quantities``.
QUANTITIES: dict[str, Callable[[dict], Any]] = {
    "regions": lambda s: s.get("regions"),
    "largest_region_frac": lambda s: s.get("largest_region_frac"),
    "neighbor_boundary_frac": lambda s: s.get("neighbor_boundary_frac"),
    "dead_neurons": lambda s: s.get("dead_neurons"),
    "always_on_neurons": lambda s: s.get("always_on_neurons"),
    "grad_norm_mean": lambda s: (s.get("grad_norm") or {}).get("mean"),
    "boundary_distance_mean": lambda s: (s.get("boundary_distance") or {}).get("mean"),
    "coherence_weighted": lambda s: (s.get("region_grads") or {}).get("coherence_weighted"),
    "local_complexity_mean": lambda s: _local_complexity(s).get("mean"),
    "local_complexity_median": lambda s: _local_complexity(s).get("median"),
    "local_complexity_total_fraction_mean":
        lambda s: _local_complexity(s).get("total_fraction_mean"),
}
#: Quantities that only some analyses have (left out of the statistics when no member has them,
#: as are the per-layer ones of ``layer_complexity_quantities``).
OPTIONAL = ("grad_norm_mean", "boundary_distance_mean", "coherence_weighted",
            "local_complexity_mean", "local_complexity_median",
            "local_complexity_total_fraction_mean")


def _layer_complexity_reader(layer: int) -> Callable[[dict], Any]:
    def read(summary: dict):
        means = _local_complexity(summary).get("layer_means") or []
        return means[layer] if layer < len(means) else None
    return read


def layer_complexity_quantities(summaries: Sequence[dict]) -> dict[str, Callable[[dict], Any]]:
    """``local_complexity_layer_<l>_mean`` -> its reader, for every hidden layer l of the
    deepest member with a local complexity (none when no member has one); a member with fewer
    layers has None for the layers it lacks."""
    depth = max((len(_local_complexity(s).get("layer_means") or []) for s in summaries),
                default=0)
    return {f"local_complexity_layer_{layer}_mean": _layer_complexity_reader(layer)
            for layer in range(depth)}


class MemberFailed(RankFailed):
    """A member analysed on another rank failed; ``rank``, ``member`` (its index), ``name`` and
    ``error`` (the one-line message of that rank's exception) say which and why; ``user_error``
    is True when that exception was a ValueError (a problem with the inputs, not a bug)."""

    def __init__(self, rank: int, member: int, name: str, error: str, user_error: bool):
        super().__init__(f"rank {rank} failed on member {member} ({name!r}) of the ensemble: "
                         f"{error}")
        self.rank, self.member, self.name = rank, member, name
        self.error, self.user_error = error, user_error


def _one_line(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def default_names(count: int) -> list[str]:
    """``member_0 .. member_<count-1>``, zero-padded to the same width (they sort in order)."""
    width = len(str(max(count - 1, 0)))
    return [f"member_{k:0{width}d}" for k in range(count)]


def check_names(names: Sequence[str], count: int, ensemble_name: str) -> list[str]:
    """The member file names, checked: one per member, plain file names (no folder part, not
    empty, no leading '.'), distinct even on a case-insensitive file system, and not the
    ensemble file's name."""
    if isinstance(names, (str, bytes)):
        raise TypeError("names: expected a sequence of names, one per member, got a string")
    names = list(names)
    if len(names) != count:
        raise ValueError(f"names: expected one name per member ({count}), got {len(names)}")
    for k, n in enumerate(list(names) + [ensemble_name]):
        what = f"names[{k}]" if k < count else "ensemble_name"
        if not isinstance(n, str) or not n or n.startswith(".") or "/" in n or "\0" in n \
                or (os.sep != "/" and os.sep in n) or (os.altsep and os.altsep in n):
            raise ValueError(f"{what}: expected a plain file name (no folder, not empty, not "
                             f"starting with '.'), got {n!r}")
    seen: dict[str, int] = {}
    for k, n in enumerate(names):
        key = n.casefold()
        if key in seen:
            raise ValueError(f"names: members {seen[key]} and {k} would both write {n!r} "
                             "(names are compared ignoring case); give distinct names")
        seen[key] = k
    if ensemble_name.casefold() in seen:
        k = seen[ensemble_name.casefold()]
        raise ValueError(f"names[{k}]: {names[k]!r} is the ensemble file's name "
                         f"({ensemble_name!r}); choose another")
    return names


def _is_model(obj) -> bool:
    return isinstance(obj, (ReluNetwork, torch.nn.Module))


def _materialise(member, k: int):
    """The model of member k: the member itself, or what its loader returns (a model, or a pair
    ``(net, encoding)`` of a ReluNetwork and its own encoding)."""
    if _is_model(member):
        return member
    model = member()
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], ReluNetwork):
        return model
    if not _is_model(model):
        raise TypeError(f"members[{k}]: the loader returned {type(model).__name__}, expected a "
                        "CoordinateMLP, ReluNetwork or torch module")
    return model


def ensemble_statistics(summaries: Sequence[dict], level: float = statistics.DEFAULT_LEVEL
                        ) -> dict:
    """Across the members' summaries, for each quantity of ``QUANTITIES`` and
    ``layer_complexity_quantities``: the per-member ``values``, their ``mean``, sample standard
    deviation ``sd`` (n - 1) and the Student t interval ``[low, high]`` of the mean at ``level``
    (``statistics.difference``); ``n`` counts the members that have the quantity. With one
    member, ``sd``, ``low`` and ``high`` are None. Gradient-norm and boundary-distance means,
    the size-weighted region coherence and the local complexity (its mean, median, mean
    fraction of all hidden neurons and each layer's mean) appear only when some member has
    them."""
    layer_quantities = layer_complexity_quantities(summaries)
    out = {}
    for key, read in {**QUANTITIES, **layer_quantities}.items():
        values = [read(s) for s in summaries]
        present = [float(v) for v in values if v is not None]
        if (key in OPTIONAL or key in layer_quantities) and not present:
            continue
        entry = {"n": len(present), "mean": None, "sd": None, "low": None, "high": None,
                 "level": level, "method": None, "values": values}
        if present:
            effect = statistics.difference(present, level=level)
            _, sd = statistics.mean_sd(present)   # the same sd the interval uses
            entry.update(mean=effect.estimate, sd=sd if math.isfinite(sd) else None,
                         low=effect.low, high=effect.high, method=effect.method)
        out[key] = entry
    return out


def analyze_ensemble(members: Sequence, grid, *, out, names: Optional[Sequence[str]] = None,
                     sources: Optional[Sequence[Optional[str]]] = None, encoding=None,
                     tile: int = DEFAULT_TILE, ids: str = "none",
                     grad_out: Union[Callable[[Tensor], Tensor], str, None] = None,
                     boundary: bool = False, region_grads: bool = False,
                     lc_radius: Optional[float] = None, lc_method: str = "sampled", device="cpu",
                     dtype=torch.float32, group=None, ensemble_name: str = DEFAULT_ENSEMBLE_NAME,
                     level: float = statistics.DEFAULT_LEVEL) -> list[dict]:
    """Region analysis of every member of an ensemble on ``grid``; the list of their summaries.

    ``members``: models (CoordinateMLP, ReluNetwork, a whole model with its encoding inside, a
    ReLU torch module) or zero-argument loaders returning one, or a pair ``(net, encoding)``
    for members with encodings of their own (called only on the rank that analyses that
    member, so a rank loads only its own checkpoints). ``encoding`` (and ``tile``, ``grad_out``,
    ``boundary``, ``region_grads``, ``lc_radius``, ``lc_method``, ``device``, ``dtype``) apply to
    every member, as in ``analyze_stream``: with ``lc_radius`` every member's summary holds its
    "local_complexity", measured with the same radius and method.

    Inside an initialised process group (``group=None``: the default one; every rank calls this
    with the same arguments) member k is analysed on rank ``k mod P``; without one, every member
    is analysed here. Either way each member is the single-process streaming analysis of the
    whole grid, and every output equals, bit for bit, ``analyze_grid(member, grid, out=out,
    name=names[k], ids=ids, ...)`` in one process (the JSON files less their provenance).

    Files in ``out`` (written atomically): ``<names[k]>.json`` (summary) and ``<names[k]>.npz``
    (region sizes, neighbour histograms, neuron on-counts) by the rank that analysed member k,
    with ``ids="file"`` also ``<names[k]>_ids.npy`` (``ids``: "none" or "file"); then, by rank
    0, ``<ensemble_name>.json``: the grid, the members in order (name, ``sources[k]`` when
    given, their files and summary), ``ensemble_statistics`` of the summaries and the
    provenance (``runs.provenance``, with the processes of the run). Under several
    machines ``out`` must be a folder they share (rank 0 checks that it sees every file).
    ``names`` default to ``member_<k>``.

    Every rank returns the same list (members' order) of summaries (``GridAnalysis.summary()``).
    If a member fails, every rank raises after that round (that rank its own exception, the
    others ``MemberFailed``) and ``<ensemble_name>.json`` is not written; the files of members
    finished before are complete, nothing is left half-written under a final name.
    """
    members = list(members)
    if not members:
        raise ValueError("members: expected at least one model or loader, got none")
    for k, m in enumerate(members):
        if not (_is_model(m) or callable(m)):
            raise TypeError(f"members[{k}]: expected a model or a zero-argument loader, got "
                            f"{type(m).__name__}")
    count = len(members)
    names = check_names(default_names(count) if names is None else names, count, ensemble_name)
    if sources is not None:
        sources = [None if s is None else str(s) for s in sources]
        if len(sources) != count:
            raise ValueError(f"sources: expected one per member ({count}), got {len(sources)}")
    if ids not in ("none", "file"):
        raise ValueError(f"ids: expected 'none' or 'file' (<out>/<name>_ids.npy) for an "
                         f"ensemble, got {ids!r}")
    if out is None or str(out) == "":
        raise ValueError("out: an ensemble writes one file per member; give an output folder")
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out: {out!r} exists and is not a folder")
    check_tile(tile)
    check_grid(grid)
    check_grad_out(grad_out)
    lc_radius, lc_method = check_lc(lc_radius, lc_method)
    statistics.check_level(level)

    distributed = dist.is_available() and dist.is_initialized() and \
        dist.get_world_size(group) > 1
    rank = dist.get_rank(group) if distributed else 0
    world = dist.get_world_size(group) if distributed else 1

    def run_member(k: int) -> dict:
        os.makedirs(out, exist_ok=True)   # here, so that a rank failing to is a member failing
        model, member_encoding = _materialise(members[k], k), encoding
        if isinstance(model, tuple):          # a member with its own encoding
            model, member_encoding = model
        ids_path = os.path.join(out, f"{names[k]}_ids.npy") if ids == "file" else None
        result = analyze_stream(model, grid, encoding=member_encoding, tile=tile, ids=ids,
                                ids_path=ids_path, grad_out=grad_out, boundary=boundary,
                                region_grads=region_grads, lc_radius=lc_radius,
                                lc_method=lc_method, device=device, dtype=dtype)
        write_outputs(result, out, names[k], device=device, processes=world)
        return result.summary()

    summaries: list[Optional[dict]] = [None] * count
    for first in range(0, count, world):
        k = first + rank
        error = summary = None
        if k < count:
            try:
                summary = run_member(k)
            except Exception as e:  # noqa: BLE001 - every rank must reach the status exchange
                if not distributed:
                    raise
                error = e
        if not distributed:
            summaries[k] = summary
            continue
        mine = (None if error is None else _one_line(error),
                isinstance(error, ValueError), summary)
        statuses: list = [None] * world
        dist.all_gather_object(statuses, mine, group=group)
        if error is not None:
            raise error
        for r, (msg, user_error, s) in enumerate(statuses):
            if msg is not None:
                raise MemberFailed(r, first + r, names[first + r], msg, user_error)
            if first + r < count:
                summaries[first + r] = s

    files = [{"summary": f"{n}.json", "arrays": f"{n}.npz",
              **({"ids": f"{n}_ids.npy"} if ids == "file" else {})} for n in names]

    def write_ensemble() -> None:
        missing = [os.path.join(out, f) for entry in files for f in entry.values()
                   if not os.path.exists(os.path.join(out, f))]
        if missing:
            raise RuntimeError(f"out: rank 0 does not see {missing[0]} (and "
                               f"{len(missing) - 1} more) written by another rank; under "
                               "several machines give a folder they share")
        entries = []
        for k in range(count):
            entry = {"name": names[k]}
            if sources is not None:
                entry["source"] = sources[k]
            entry.update(files=files[k], summary=summaries[k])
            entries.append(entry)
        atomic_write_json(os.path.join(out, f"{ensemble_name}.json"), with_provenance({
            "grid": grid.describe(), "tile": tile, "members": entries,
            "statistics": ensemble_statistics(summaries, level)}, device, world))

    if not distributed:
        write_ensemble()
        return summaries
    error = None
    if rank == 0:
        try:
            write_ensemble()
        except Exception as e:  # noqa: BLE001 - every rank must reach the status exchange
            error = e
    statuses = [None] * world
    dist.all_gather_object(statuses, None if error is None else _one_line(error), group=group)
    if error is not None:
        raise error
    if statuses[0] is not None:
        raise RankFailed(f"rank 0 failed writing {ensemble_name}.json: {statuses[0]}")
    return summaries
