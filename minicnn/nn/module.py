"""``Module`` and ``Parameter``: the bookkeeping every layer shares, with PyTorch's names.

A layer is a ``Module`` that

- holds its learnable arrays as ``Parameter``\\ s (``.data`` and ``.grad``, both NumPy arrays)
  and its non-learnable state as *buffers* (BatchNorm's running statistics);
- computes ``out = layer(x)`` in ``forward`` and keeps what the backward pass needs (the
  functional layer's ``cache``);
- computes ``dx = layer.backward(dout)``, which returns the gradient with respect to the input
  and *adds* (``+=``) the gradient with respect to each parameter into ``Parameter.grad``, as
  PyTorch accumulates into ``.grad``. Call ``zero_grad()`` (or the optimiser's) before each
  batch.

Containers (``Sequential``, the models) register sub-modules simply by assigning them as
attributes; ``named_parameters()``, ``state_dict()`` and friends walk the tree and produce
the same dotted names as PyTorch (``conv_block1.0.weight``), so weights move between the two.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Iterator

import numpy as np

from minicnn.nn import trace

__all__ = ["Module", "Parameter", "as_generator"]


def as_generator(rng, owner: str = "layer") -> np.random.Generator:
    """Normalise an ``rng`` argument: a ``numpy.random.Generator`` is used as is, an int is a
    seed, and ``None`` gives a fresh, unseeded generator (different on every run)."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{owner}: rng must be a numpy.random.Generator, an int seed or None, "
                    f"got {type(rng).__name__}")


class Parameter:
    """A learnable array: ``data`` (the values) and ``grad`` (dL/d data, same shape and dtype).

    ``grad`` starts at zeros; every ``backward`` adds into it and ``zero_grad`` resets it.
    ``requires_grad=False`` marks a frozen parameter: optimisers skip it and ``summary``
    counts it as non-trainable.
    """

    def __init__(self, data, requires_grad: bool = True):
        data = np.array(data, copy=True)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be a float array, got dtype {data.dtype}")
        self.data = data
        self.grad = np.zeros_like(data)
        self.requires_grad = bool(requires_grad)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    ndim = property(lambda self: self.data.ndim)

    def zero_grad(self) -> None:
        """Reset the accumulated gradient to zeros (in place)."""
        if self.grad is None or self.grad.shape != self.data.shape \
                or self.grad.dtype != self.data.dtype:
            self.grad = np.zeros_like(self.data)
        else:
            self.grad.fill(0)

    def accumulate(self, grad: np.ndarray) -> None:
        """``self.grad += grad``: what every layer's backward does with its parameter gradients."""
        if grad.shape != self.data.shape:
            raise ValueError(f"Parameter.accumulate: gradient of shape {grad.shape} for a "
                             f"parameter of shape {self.data.shape}")
        if self.grad is None:
            self.grad = np.zeros_like(self.data)
        self.grad += grad

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and model.

    Subclasses implement ``forward(x)`` and ``backward(dout)``; containers get both for free
    from their children when they are a ``Sequential`` (or write them by chaining children).
    """

    #: What the first-call checks of ``trace.py`` need to know of this layer ("conv",
    #: "linear", "batch_norm", "dropout", "flatten", "global_pool", "activation"), or None.
    trace_role: str | None = None

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_design_checked", False)

    # -- attribute registration (what makes ``self.conv = Conv2d(...)`` a child) ---------------

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                value = np.asarray(value)
            buffers[name] = value
        else:
            params.pop(name, None)
            modules.pop(name, None)
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the registries
        for table in ("_parameters", "_buffers", "_modules"):
            registry = self.__dict__.get(table)
            if registry is not None and name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value) -> None:
        """Non-learnable state that belongs in ``state_dict`` (e.g. BatchNorm's running mean)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = None if value is None else np.asarray(value)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: Module) -> None:
        self._modules[name] = module

    # -- forward / backward ----------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __call__(self, *args, **kwargs):
        return trace.call(self, args, kwargs)

    def input_layer(self) -> Module | None:
        """The leaf layer that receives this module's input as it is, where that is known: a
        layer without children is its own; a chain (``Sequential``, the models in
        minicnn.models) answers for its first child; any other container, None.

        Training uses it: the images need no gradient, so a Conv2d that receives them can
        skip dL/dX (``Conv2d.input_gradient``), as PyTorch does for inputs that do not
        require grad."""
        return None if self._modules else self

    # -- walking the tree -----------------------------------------------------------------------

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module of the tree, this one first (name ``""``), depth first, each once."""
        seen = set()

        def walk(module, name):
            if id(module) in seen:
                return
            seen.add(id(module))
            yield name, module
            for child_name, child in module.named_children():
                yield from walk(child, f"{name}.{child_name}" if name else child_name)

        yield from walk(self, prefix)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` for every parameter, in registration order, each once."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self) -> Iterator[np.ndarray]:
        for _, buffer in self.named_buffers():
            yield buffer

    # -- modes and gradients --------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode: BatchNorm uses batch statistics (and updates its running ones),
        Dropout drops. Returns the module, so ``model.train()`` chains."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: BatchNorm uses its running statistics, Dropout is the identity."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Reset every parameter's ``.grad`` to zeros."""
        for param in self.parameters():
            param.zero_grad()

    # -- state ----------------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict:
        """Copies of every parameter and buffer, keyed as PyTorch keys them for the same tree.

        For each module, its parameters come first and then its buffers (``weight``, ``bias``,
        ``running_mean``, ``running_var``, ``num_batches_tracked``), modules depth first.
        """
        state = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[prefix + name] = param.data.copy()
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    state[prefix + name] = np.array(buffer, copy=True)
        return state

    def _state_slots(self) -> OrderedDict:
        """``name -> (module, attribute name, kind)`` for every entry of ``state_dict``."""
        slots = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    slots[prefix + name] = (module, name, "parameter")
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    slots[prefix + name] = (module, name, "buffer")
        return slots

    def check_state_dict(self, state, strict: bool = True) -> tuple[list, list, list]:
        """Compare ``state`` with this module's entries.

        Returns ``(missing, unexpected, mismatched)``: keys the module has and ``state`` lacks,
        keys ``state`` has and the module lacks, and ``(key, state shape, module shape)`` for
        keys present in both with different shapes.
        """
        slots = self._state_slots()
        missing = [key for key in slots if key not in state]
        unexpected = [key for key in state if key not in slots]
        mismatched = []
        for key, (module, name, kind) in slots.items():
            if key not in state:
                continue
            current = getattr(module, name)
            current_shape = current.data.shape if kind == "parameter" else np.shape(current)
            new_shape = tuple(np.shape(state[key]))
            if new_shape != tuple(current_shape):
                mismatched.append((key, new_shape, tuple(current_shape)))
        return missing, unexpected, mismatched

    def load_state_dict(self, state, strict: bool = True):
        """Copy the arrays of ``state`` into this module's parameters and buffers, in place,
        cast to each entry's current dtype.

        With ``strict=True`` (the default) the keys must match exactly; otherwise a
        ``KeyError`` lists every missing, unexpected and mis-shaped key and nothing is
        changed. Mis-shaped keys are an error even with ``strict=False``.

        Returns ``(missing_keys, unexpected_keys)``, like PyTorch.
        """
        missing, unexpected, mismatched = self.check_state_dict(state)
        if mismatched or (strict and (missing or unexpected)):
            raise KeyError(describe_state_mismatch(type(self).__name__, missing, unexpected,
                                                   mismatched, strict=strict))
        for key, (module, name, kind) in self._state_slots().items():
            if key not in state:
                continue
            value = np.asarray(state[key])
            if kind == "parameter":
                param = module._parameters[name]
                param.data[...] = value.astype(param.data.dtype, copy=False)
            else:
                buffer = module._buffers[name]
                if buffer.dtype.kind == "f" or value.dtype.kind == buffer.dtype.kind:
                    buffer[...] = value.astype(buffer.dtype, copy=False)
                else:
                    raise TypeError(f"load_state_dict: {key} must be of kind {buffer.dtype}, "
                                    f"got {value.dtype}")
        return missing, unexpected

    # -- dtype ----------------------------------------------------------------------------------

    def to(self, dtype) -> Module:
        """Convert every float parameter (and its gradient) and float buffer to ``dtype``.

        ``num_batches_tracked`` stays int64. Returns the module. Optimisers built before the
        conversion keep pointing at the same ``Parameter`` objects, but their state arrays
        keep the old dtype: convert first, then build the optimiser.
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"to(dtype): only float dtypes are supported, got {dtype}")
        for module in self.modules():
            for param in module._parameters.values():
                if param is not None:
                    param.data = param.data.astype(dtype)
                    param.grad = None if param.grad is None else param.grad.astype(dtype)
            for name, buffer in module._buffers.items():
                if buffer is not None and buffer.dtype.kind == "f":
                    module._buffers[name] = buffer.astype(dtype)
            module._on_dtype_change(dtype)
        return self

    def _on_dtype_change(self, dtype) -> None:
        """Hook for layers that hold dtype-dependent state other than parameters/buffers."""
        if "_cache" in self.__dict__:
            object.__setattr__(self, "_cache", None)

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    @property
    def dtype(self):
        """The dtype of the first parameter (None for a module without parameters)."""
        for param in self.parameters():
            return param.data.dtype
        return None

    # -- printing -------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The arguments shown between the parentheses, e.g. ``1, 32, kernel_size=(3, 3)``."""
        return ""

    def short_repr(self) -> str:
        """A compact name for error messages, e.g. ``Conv2d(1, 32)``, ``BatchNorm2d(64)``."""
        return f"{type(self).__name__}()"

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


def describe_state_mismatch(what: str, missing, unexpected, mismatched, strict=True) -> str:
    """One message listing missing, unexpected and mis-shaped ``state_dict`` entries."""
    parts = [f"the state does not fit this {what}:"]
    if missing:
        parts.append(f"missing keys ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
    if mismatched:
        parts.append("mis-shaped keys: " + ", ".join(
            f"{key} has shape {new} in the state but {old} in the model"
            + (" (its transpose: CS231n's (in, out) layout of a Linear weight? here it is "
               "(out_features, in_features): store W.T)"
               if len(new) == 2 and tuple(new) == tuple(old)[::-1] else "")
            for key, new, old in mismatched))
    if not strict and not mismatched:
        parts.append("(strict=False ignores missing and unexpected keys)")
    return "\n  ".join(parts)
