"""Where the fast engine (``minicnn.fast``) plugs into the lecture's functions.

Every public function of ``minicnn.functional`` is the lecture's math written to be read. The
engine holds faster versions of some of them (the convolution algorithms behind
``method="fast"`` and ``method="gemm"``, fused Numba kernels for ReLU, pooling and
BatchNorm), each with the same arguments, the same checks and the same cache, and each tested
against the readable function. It registers them here, and nothing else connects the two:

- ``conv2d_forward(..., method="fast")`` asks :func:`conv_method` for the method's pair of
  functions;
- the layers of ``minicnn.nn`` (the training loop's hot path) ask :func:`implementation` which
  function to run: the engine's when it registered one, else the readable one.

The engine is imported on the first question, so ``import minicnn.functional`` stays light.
A student copy made by ``minicnn assignment release`` lists the tasks it assigns in its
manifest (``minicnn/assignments/release.json``); for those, :func:`implementation` answers with
the readable function, so the layers run the student's own code.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

__all__ = ["register", "register_conv_method", "conv_method", "implementation",
           "student_tasks"]

# name of a functional function -> the engine's function with the same contract
_FUNCTIONS: dict = {}
# conv2d method name -> (forward, backward), see minicnn/functional/conv.py for the contract
_CONV_METHODS: dict = {}
_ENGINE = "minicnn.fast"
_MANIFEST = Path(__file__).resolve().parent.parent / "assignments" / "release.json"
_state = {"engine_loaded": False, "student_tasks": None}


def register(name: str, function) -> None:
    """Offer ``function`` as a faster ``minicnn.functional.<name>`` (same contract)."""
    _FUNCTIONS[name] = function


def register_conv_method(method: str, forward, backward) -> None:
    """Offer a convolution method: ``forward(x, weight, bias, stride, padding) -> (out,
    saved)`` and ``backward(dout, saved, weight, stride, padding, x_shape,
    input_gradient=True, bias_gradient=True) -> (dx, dweight, dbias)``, as the lecture's own
    methods in minicnn/functional/conv.py, plus the keywords: ``input_gradient=False`` may
    skip dx and ``bias_gradient=False`` dbias (returning None for it)."""
    _CONV_METHODS[method] = (forward, backward)


def conv_method(method: str):
    """The (forward, backward) pair the engine registered for ``method``."""
    _load_engine()
    try:
        return _CONV_METHODS[method]
    except KeyError:
        raise ValueError(f"conv2d: method {method!r} is not available in this copy of "
                         f"minicnn (the engine registered {sorted(_CONV_METHODS)})") from None


def implementation(name: str, readable):
    """The function to run for ``minicnn.functional.<name>``: the engine's when it registered
    one and this copy does not assign ``name`` to a student, else ``readable``."""
    _load_engine()
    if name in student_tasks():
        return readable
    return _FUNCTIONS.get(name, readable)


def student_tasks() -> frozenset:
    """The task ids this copy of minicnn assigns to a student (empty outside a student
    copy): its release manifest's tasks and the tasks stubbed with them."""
    _load_engine()
    if _state["student_tasks"] is None:
        tasks = frozenset()
        if _MANIFEST.is_file():
            try:
                manifest = json.loads(_MANIFEST.read_text(encoding="utf-8"))
                tasks = frozenset(manifest.get("tasks", ())) | frozenset(
                    manifest.get("also_stubbed", ()))
            except (ValueError, AttributeError, TypeError):
                # unreadable: run the readable code everywhere, the safe side for a student
                tasks = frozenset(_FUNCTIONS)
        _state["student_tasks"] = tasks
    return _state["student_tasks"]


def _load_engine() -> None:
    if not _state["engine_loaded"]:
        _state["engine_loaded"] = True
        importlib.import_module(_ENGINE)
