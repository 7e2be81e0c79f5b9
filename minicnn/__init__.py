"""minicnn: convolutional neural networks from scratch in NumPy.

Every layer has a hand-written forward and backward pass (no autograd), checked against
finite differences; hot loops are jitted with Numba; convolution runs as im2col + one matrix
product. The vocabulary is PyTorch's, so what a student learns here carries over unchanged.

``minicnn.nn``, ``minicnn.optim``, ``minicnn.CNN``, ``minicnn.summary``, ``minicnn.save`` and
``minicnn.load`` are imported on first use, so ``import minicnn`` stays cheap.
"""

__version__ = "0.1.0"

# first, before anything loads NumPy: tell the libraries' idle threads to sleep soon
# (minicnn/_cores.py; standard library only, keeps any value the user set)
from minicnn import _cores  # noqa: E402,F401

_LAZY = {
    "nn": ("minicnn.nn", None),
    "optim": ("minicnn.optim", None),
    "functional": ("minicnn.functional", None),
    "models": ("minicnn.models", None),
    "interop": ("minicnn.interop", None),
    "CNN": ("minicnn.models", "CNN"),
    "summary": ("minicnn.summary", "summary"),
    "save": ("minicnn.checkpoint", "save"),
    "load": ("minicnn.checkpoint", "load"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'minicnn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
