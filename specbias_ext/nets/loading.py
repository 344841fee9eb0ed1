"""Loading a user's model for analysis: a class or factory named ``package.module:Name`` (or
``path/to/file.py:Name``) built with keyword arguments plus a state-dict file, or a whole saved
module.

Every file is read with ``torch.load(..., weights_only=True)``, which runs no code from the file:
a state dict needs nothing else; a whole pickled module can only be unpickled if each class it
names is on an allow-list (the torch.nn layers a ReluNetwork is made of, plus the classes the
caller passes in ``allowed_classes`` for files they trust). The loaded model is put in eval mode.
A state dict whose keys carry a prefix the model's do not (``module.`` from DataParallel, the
name of a submodule) is refused with the prefix named; ``state_dict_prefix`` strips it.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import pickle
import sys
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import torch
from torch import nn

from ..runs.files import first_line, safe_torch_load, unpickling_refusal

# torch.nn layers that may appear in a whole saved module without being allow-listed by name.
SAFE_LAYERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Linear, nn.ReLU, nn.LeakyReLU,
               nn.Identity, nn.Dropout, nn.Tanh, nn.Sigmoid, nn.Softplus)
_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")

ModelSpec = Union[str, Callable[..., nn.Module]]


def _import_module(module_part: str, spec: str):
    if module_part.endswith(".py"):
        if not os.path.isfile(module_part):
            raise FileNotFoundError(f"model: {module_part!r} (from {spec!r}) is not a file")
        name = "specbias_user_model_" + os.path.splitext(os.path.basename(module_part))[0]
        file_spec = importlib.util.spec_from_file_location(name, module_part)
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = module
        file_spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(module_part)
    except ImportError as exc:
        raise ImportError(f"model: could not import {module_part!r} (from {spec!r}): {exc}") \
            from exc


def resolve_model_spec(spec: ModelSpec) -> Callable[..., nn.Module]:
    """The class or factory that ``spec`` names (``"package.module:Name"``, ``"file.py:Name"``,
    dotted names after the colon allowed), or ``spec`` itself when it is callable."""
    if callable(spec):
        return spec
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError(f"model: expected 'package.module:Class' (or 'file.py:factory') or a "
                         f"callable, got {spec!r}")
    module_part, name = spec.split(":")
    if not module_part or not name:
        raise ValueError(f"model: expected 'package.module:Class', got {spec!r}")
    target: Any = _import_module(module_part, spec)
    for part in name.split("."):
        if not hasattr(target, part):
            raise AttributeError(f"model: {module_part!r} has no attribute {name!r}")
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"model: {spec!r} is a {type(target).__name__}, expected a class or a "
                        "factory function")
    return target


def _state_dict_of(obj: Any, path: str) -> Mapping[str, torch.Tensor]:
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"state_dict_path: {path!r} holds a {type(obj).__name__}, expected a "
                        "state dict (torch.save(model.state_dict(), path))")
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    nested = [k for k in _STATE_DICT_KEYS if isinstance(obj.get(k), Mapping)]
    if len(nested) == 1:
        return _state_dict_of(obj[nested[0]], path)
    raise TypeError(f"state_dict_path: {path!r} holds a dict that is not a state dict (keys: "
                    f"{sorted(map(str, obj))[:8]}); save model.state_dict()")


def load_state_dict_file(path: str, map_location: Any = "cpu") -> Mapping[str, torch.Tensor]:
    """A state dict from ``path`` (also inside a checkpoint dict under 'state_dict',
    'model_state_dict' or 'model'), read with weights_only=True."""
    obj = _safe_load(path, map_location, (), what="state_dict_path")
    return _state_dict_of(obj, path)


def _safe_load(path: str, map_location: Any, allowed: Iterable[type], what: str) -> Any:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: {path!r} is not a file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{what}: {path!r} is empty (0 bytes)")
    allowed = list(SAFE_LAYERS) + list(allowed)
    try:
        return safe_torch_load(path, map_location, allowed)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{what}: {path!r} cannot be loaded safely (weights_only=True): "
            f"{unpickling_refusal(exc)}. Save a state dict instead (torch.save(model.state_dict(), "
            "path)) and name the model's class ('package.module:Class'), or, for a file you "
            "trust, pass its classes in allowed_classes") from None
    except Exception as exc:  # the unpickler raises many kinds on damaged files (EOFError, ...)
        reason = f"{type(exc).__name__}: {first_line(exc, sentence=True)}"
        raise ValueError(f"{what}: {path!r} cannot be read (truncated, corrupt or not written "
                         f"by torch.save): {reason}") from None


def model_attribute(model: nn.Module, path: str, what: str = "encoding") -> Any:
    """``model.<path>`` for a dotted attribute path (``"embed_fn"``, ``"field.encoding"``): a
    part of the loaded model the user names, with its loaded state."""
    target: Any = model
    for atom in path.split("."):
        if not atom or not hasattr(target, atom):
            raise AttributeError(f"{what}: {type(model).__name__} has no attribute {path!r}")
        target = getattr(target, atom)
    if not callable(target):
        raise TypeError(f"{what}: {type(model).__name__}.{path} is a {type(target).__name__}, "
                        "expected a module or function of the coordinates")
    return target


def load_saved_module(path: str, allowed_classes: Iterable[type] = (),
                      map_location: Any = "cpu") -> nn.Module:
    """A whole module saved with ``torch.save(model, path)``, unpickled with weights_only=True:
    only torch.nn's ReluNetwork layers and ``allowed_classes`` may appear in it."""
    obj = _safe_load(path, map_location, allowed_classes, what="model_path")
    if not isinstance(obj, nn.Module):
        kind = "a state dict" if isinstance(obj, Mapping) else f"a {type(obj).__name__}"
        raise TypeError(f"model_path: {path!r} holds {kind}, not a whole module; load it with "
                        "load_user_model('package.module:Class', state_dict_path=path)")
    return obj.eval()


def _dotted_prefixes(keys: Iterable[str]) -> list:
    """Every ``"a."``, ``"a.b."`` a key starts with, longest first."""
    found = set()
    for key in keys:
        atoms = key.split(".")[:-1]
        found.update("".join(a + "." for a in atoms[:n]) for n in range(1, len(atoms) + 1))
    return sorted(found, key=len, reverse=True)


def _prefix_hint(saved: Iterable[str], expected: Iterable[str]) -> Optional[str]:
    """What a key-prefix mismatch between a file and a model is, and what to pass."""
    saved, expected = set(saved), set(expected)
    for prefix in _dotted_prefixes(saved):
        if {k[len(prefix):] for k in saved if k.startswith(prefix)} == expected:
            return (f"the model's keys are the file's that start with {prefix!r} (it was saved "
                    f"from a wrapper such as DataParallel, or from a model that holds this "
                    f"one): pass state_dict_prefix={prefix!r}")
    for prefix in _dotted_prefixes(expected):
        if {prefix + k for k in saved} <= expected and saved:
            return (f"the file holds the state of a part of the model: its keys are the "
                    f"model's under {prefix!r} without that prefix; save the whole model's "
                    "state_dict(), or load the part's own class")
    return None


def _strip_prefix(state: Mapping[str, torch.Tensor], prefix: str,
                  path: str) -> Mapping[str, torch.Tensor]:
    kept = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not kept:
        raise ValueError(f"state_dict_prefix: no key of {path!r} starts with {prefix!r} (keys: "
                         f"{sorted(state)[:6]})")
    return kept


def load_user_model(spec: ModelSpec, model_args: Optional[Mapping[str, Any]] = None,
                    state_dict_path: Optional[str] = None,
                    map_location: Any = "cpu",
                    state_dict_prefix: Optional[str] = None) -> nn.Module:
    """Build ``spec(**model_args)`` and load ``state_dict_path`` into it (strictly); eval mode.

    ``spec`` is ``"package.module:Class"``, ``"path/to/file.py:factory"`` or a callable.
    ``state_dict_prefix`` (``"module."``) keeps only the file's keys that start with it, with
    the prefix removed: a state dict saved from a wrapper or from a model that holds this one.
    ``specbias_ext.split_model(model)`` then gives its encoding and the network the ops take.
    """
    if model_args is not None and not isinstance(model_args, Mapping):
        raise TypeError(f"model_args: expected a dict of keyword arguments, got "
                        f"{type(model_args).__name__}")
    build = resolve_model_spec(spec)
    label = getattr(build, "__qualname__", repr(build))
    try:
        model = build(**dict(model_args or {}))
    except TypeError as exc:
        raise TypeError(f"model_args: {label} rejected {dict(model_args or {})}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: {label} returned a {type(model).__name__}, expected an "
                        "nn.Module")
    if state_dict_path is not None:
        state = load_state_dict_file(state_dict_path, map_location)
        if state_dict_prefix:
            state = _strip_prefix(state, state_dict_prefix, state_dict_path)
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            raise ValueError(f"state_dict_path: {state_dict_path!r} does not fit {label} "
                             f"(check model_args): {exc}") from None
        if result.missing_keys or result.unexpected_keys:
            hint = _prefix_hint(state, model.state_dict()) or "check model_args"
            raise ValueError(
                f"state_dict_path: {state_dict_path!r} does not fit {label}: missing keys "
                f"{result.missing_keys[:6]}, unexpected keys {result.unexpected_keys[:6]} "
                f"({hint})")
    return model.eval()
