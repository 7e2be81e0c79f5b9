"""``Sequential``: run children in order; backward runs them in reverse."""

from __future__ import annotations

from collections import OrderedDict

from minicnn.nn.module import Module

__all__ = ["Sequential"]


class Sequential(Module):
    """A chain of modules: ``forward`` feeds each child's output to the next and ``backward``
    sends the gradient back through them in reverse order.

    ``Sequential(a, b, c)`` names its children ``"0"``, ``"1"``, ``"2"`` (as PyTorch does, so
    ``state_dict`` keys read ``classifier.1.weight``); ``Sequential(OrderedDict(...))`` uses
    the given names. Indexable (``seq[1]``, ``seq[-1]``, ``seq[1:3]``), ``len(seq)``, iterable.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            items = list(modules[0].items())
        else:
            items = [(str(i), module) for i, module in enumerate(modules)]
        for name, module in items:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: child {name} must be a Module, got "
                                f"{type(module).__name__}")
            self.add_module(str(name), module)

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(modules[index]))
        try:
            return modules[index][1]
        except (IndexError, TypeError):
            raise IndexError(f"Sequential index {index!r} out of range for {len(self)} "
                             f"modules") from None

    def __setitem__(self, index, module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: item must be a Module, got {type(module).__name__}")
        name = list(self._modules)[index]
        self._modules[name] = module
        object.__setattr__(self, "_design_checked", False)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def input_layer(self) -> Module | None:
        """The first child's input layer: a chain feeds its input to its first child."""
        first = next(iter(self._modules.values()), None)
        return None if first is None else first.input_layer()

    def backward(self, dout):
        for module in reversed(list(self._modules.values())):
            dout = module.backward(dout)
        return dout
