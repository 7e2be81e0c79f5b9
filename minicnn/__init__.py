"""minicnn: convolutional neural networks from scratch in NumPy.

Every layer has a hand-written forward and backward pass (no autograd), checked against
finite differences. ``minicnn.functional`` is the lecture's math, written to be read (the
convolution as loops and as im2col); ``minicnn.fast``, the engine, computes the same numbers
faster (Numba kernels, Winograd, direct sums) and is what training runs. The vocabulary is
PyTorch's, so what a student learns here carries over unchanged.

``minicnn.nn``, ``minicnn.optim``, ``minicnn.CNN``, ``minicnn.summary``, ``minicnn.save`` and
``minicnn.load`` are imported on first use, so ``import minicnn`` stays cheap, and it changes
nothing global: no environment variable, no thread setting. A script that trains with
several threads calls ``minicnn.settle_idle_threads()`` before importing NumPy, as the CLI does.
"""

__version__ = "0.1.0"

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
    "settle_idle_threads": ("minicnn.cores", "settle_idle_threads"),
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
