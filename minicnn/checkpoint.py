"""Checkpoints: a model, its optimiser and scheduler, the Dropout generators and metadata, in
one ``.npz`` file that NumPy can read without pickle.

    minicnn.save("last.npz", model, optimizer, scheduler, epoch=3, history=[...])
    meta = minicnn.load("last.npz", model, optimizer, scheduler)     # meta["epoch"] == 3

Layout of the file (a zip of ``.npy`` arrays; ``np.load(path)`` lists them):

- ``model/<key>``: every entry of ``model.state_dict()`` (PyTorch's keys);
- ``optimizer/...``, ``scheduler/...``, ``metadata/...``: the arrays inside those states
  (Adam's moments, ...);
- ``__header__``: a JSON string in a 0-d unicode array with everything else: the format name
  and version, the model's class and architecture (each key's shape and dtype), the
  optimiser's and scheduler's classes and scalar state (step counts, learning rates, ...),
  each Dropout generator's ``bit_generator.state`` (so a resumed run draws the same masks)
  and the metadata; plus a SHA-256 of every array, so an edited file is refused.

Nothing is ever unpickled (``allow_pickle=False`` on both sides). The file is written to a
temporary file in the same directory and moved into place with ``os.replace``, so a crash
mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from minicnn._atomic import atomic_write

__all__ = ["save", "load", "FORMAT", "VERSION"]

FORMAT = "minicnn-checkpoint"
VERSION = 1
_HEADER = "__header__"
_RESERVED = ("state_dict", "format_version", "model_class", "architecture")


# -- JSON trees with the arrays taken out ---------------------------------------------------------

def _encode(value, prefix: str, arrays: dict):
    """A JSON-able copy of ``value``; arrays go into ``arrays`` under keys starting ``prefix``."""
    if isinstance(value, np.ndarray):
        key = f"{prefix}#{len(arrays)}"
        if value.dtype.hasobject:
            raise TypeError(f"save: cannot store an object array ({prefix})")
        arrays[key] = value
        return {"__ndarray__": key}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and "__ndarray__" not in value \
                and "__items__" not in value and "__tuple__" not in value:
            return {k: _encode(v, prefix, arrays) for k, v in value.items()}
        return {"__items__": [[_encode(k, prefix, arrays), _encode(v, prefix, arrays)]
                              for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, prefix, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, prefix, arrays) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"save: cannot store a {type(value).__name__} ({prefix}); metadata must be "
                    f"JSON-like: numbers, strings, lists, dicts and NumPy arrays")


def _decode(value, arrays: dict):
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return arrays[value["__ndarray__"]]
        if "__items__" in value:
            return {_hashable(_decode(k, arrays)): _decode(v, arrays)
                    for k, v in value["__items__"]}
        if "__tuple__" in value:
            return tuple(_decode(v, arrays) for v in value["__tuple__"])
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _digest(arrays: dict) -> str:
    sha = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        sha.update(key.encode())
        sha.update(str(array.dtype.str).encode())
        sha.update(str(array.shape).encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


def _generator_states(model) -> dict:
    """``{module name: bit_generator.state}`` of every module that owns a Generator (Dropout)."""
    states = {}
    for name, module in model.named_modules():
        rng = module.__dict__.get("rng")
        if isinstance(rng, np.random.Generator):
            states[name] = rng.bit_generator.state
    return states


# -- save -----------------------------------------------------------------------------------------

def save(path, model, optimizer=None, scheduler=None, **metadata) -> Path:
    """Write ``model`` (and optionally its optimiser and scheduler) and ``metadata`` to ``path``.

    Parameters
    ----------
    path : file name; written exactly as given (``.npz`` is the convention)
    model : a ``minicnn.nn.Module``
    optimizer, scheduler : optional, saved with their full state (moments, step counts, ...)
    **metadata : JSON-like values (numbers, strings, lists, dicts, NumPy arrays), returned by
        ``load``, e.g. ``epoch=3, history=[...]``

    Returns the path. The write is atomic (temporary file + ``os.replace``).
    """
    path = Path(path)
    clash = [key for key in metadata if key in _RESERVED]
    if clash:
        raise ValueError(f"save: metadata names {clash} are reserved by the checkpoint format")
    arrays = {}
    state = model.state_dict()
    for key, value in state.items():
        arrays[f"model/{key}"] = np.asarray(value)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "model_class": type(model).__name__,
        "architecture": [[key, list(np.shape(v)), np.asarray(v).dtype.str]
                         for key, v in state.items()],
        "generators": _encode(_generator_states(model), "generators/", arrays),
        "optimizer_class": None if optimizer is None else type(optimizer).__name__,
        "optimizer": None if optimizer is None
        else _encode(optimizer.state_dict(), "optimizer/", arrays),
        "scheduler_class": None if scheduler is None else type(scheduler).__name__,
        "scheduler": None if scheduler is None
        else _encode(scheduler.state_dict(), "scheduler/", arrays),
        "metadata": _encode(metadata, "metadata/", arrays),
    }
    header["sha256"] = _digest(arrays)
    text = json.dumps(header)
    with atomic_write(path) as f:
        np.savez(f, **{_HEADER: np.array(text)}, **arrays)
    return path


# -- load -----------------------------------------------------------------------------------------

def _read(path: Path):
    """The header and every array of the file, verified; ValueError naming the file otherwise."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _HEADER not in npz.files:
                raise KeyError(f"no {_HEADER} entry")
            header = json.loads(str(npz[_HEADER][()]))
            arrays = {key: npz[key] for key in npz.files if key != _HEADER}
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        if header.get("version") != VERSION:
            raise ValueError(f"format version {header.get('version')!r}, this minicnn reads "
                             f"version {VERSION}")
        if _digest(arrays) != header["sha256"]:
            raise ValueError("the arrays do not match the checksum stored when it was saved "
                             "(the file was modified or damaged)")
        model_state = {}
        for key, shape, dtype in header["architecture"]:
            array = arrays[f"model/{key}"]
            if list(array.shape) != shape:
                raise ValueError(f"model/{key} has shape {array.shape}, header says {shape}")
            model_state[key] = array
        generators = _decode(header["generators"], arrays)
        optimizer = _decode(header["optimizer"], arrays)
        scheduler = _decode(header["scheduler"], arrays)
        metadata = _decode(header["metadata"], arrays)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError, TypeError,
            AttributeError, IndexError) as exc:
        raise ValueError(f"{path}: not a valid minicnn checkpoint, or the file is truncated or "
                         f"damaged ({type(exc).__name__}: {exc})") from exc
    return header, model_state, generators, optimizer, scheduler, metadata


def load(path, model=None, optimizer=None, scheduler=None, strict=True) -> dict:
    """Read a checkpoint written by ``save`` and restore what is passed in.

    Parameters
    ----------
    path : the ``.npz`` file
    model : a module of the same architecture (its parameters, buffers and Dropout generator
        states are overwritten in place), or None to only read the file
    optimizer, scheduler : restored too when given (the file must hold their state)
    strict : the model's ``state_dict`` keys must match the file's exactly (shapes must
        always match)

    Returns
    -------
    dict : the metadata passed to ``save`` (``meta["epoch"]``, ...), plus ``"state_dict"``
        (the model's arrays), ``"model_class"``, ``"architecture"`` and ``"format_version"``

    Raises
    ------
    ValueError : the file is not a minicnn checkpoint, is truncated or was modified; or it
        holds another architecture (the message lists the missing, unexpected and mis-shaped
        keys); or it lacks the optimiser or scheduler state asked for. Nothing is changed
        when a check fails.
    """
    from minicnn.nn.module import describe_state_mismatch
    path = Path(path)
    header, model_state, generators, opt_state, sched_state, metadata = _read(path)

    if model is not None:
        missing, unexpected, mismatched = model.check_state_dict(model_state)
        model_generators = _generator_states(model)
        if strict:
            missing += [f"{name} (Dropout generator)" for name in model_generators
                        if name not in generators]
            unexpected += [f"{name} (Dropout generator)" for name in generators
                           if name not in model_generators]
        if mismatched or (strict and (missing or unexpected)):
            what = f"{type(model).__name__} (the checkpoint holds a {header['model_class']})"
            raise ValueError(f"{path}: " + describe_state_mismatch(what, missing, unexpected,
                                                                    mismatched, strict=strict))
    if optimizer is not None:
        if opt_state is None:
            raise ValueError(f"{path}: the checkpoint holds no optimizer state")
        if header["optimizer_class"] != type(optimizer).__name__:
            raise ValueError(f"{path}: the checkpoint holds a {header['optimizer_class']} "
                             f"state, not a {type(optimizer).__name__}")
    if scheduler is not None:
        if sched_state is None:
            raise ValueError(f"{path}: the checkpoint holds no scheduler state")
        if header["scheduler_class"] != type(scheduler).__name__:
            raise ValueError(f"{path}: the checkpoint holds a {header['scheduler_class']} "
                             f"state, not a {type(scheduler).__name__}")

    # every check passed: restore (the optimiser first: it validates its own state fully)
    if optimizer is not None:
        try:
            optimizer.load_state_dict(opt_state)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: the optimizer state does not fit: {exc}") from exc
    if scheduler is not None:
        scheduler.load_state_dict(sched_state)
    if model is not None:
        model.load_state_dict(model_state, strict=strict)
        for name, module in model.named_modules():
            if name in generators and isinstance(module.__dict__.get("rng"),
                                                 np.random.Generator):
                module.rng.bit_generator.state = generators[name]

    result = dict(metadata)
    result.update(state_dict=model_state, model_class=header["model_class"],
                  architecture=[(key, tuple(shape), dtype)
                                for key, shape, dtype in header["architecture"]],
                  format_version=header["version"])
    return result
