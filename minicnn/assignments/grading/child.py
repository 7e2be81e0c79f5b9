"""Run a student's functions on prepared inputs and write what they returned.

This file is deliberately standalone (it imports only the standard library, NumPy and the
code under test), because the grader runs it as a *script* in a separate, sandboxed
process (``runner``, in the ``sandbox``)::

    python -I -S -B child.py SUBMISSION_ROOT WORK_DIR SITE_DIR

with a copy taken from the grader's own installation, never the submission's. ``SITE_DIR``
holds NumPy, Numba and llvmlite and nothing else; with ``-S`` no other site-packages is on
the path. It reads
``WORK_DIR/spec.json`` (the calls to make), ``WORK_DIR/inputs.npz`` (the arrays) and
``WORK_DIR/ref_caches.pkl`` (reference caches, written by the grader), and writes, for each
call, ``WORK_DIR/out/<n>.npz`` (the arrays the student's code returned) and
``WORK_DIR/out/<n>.json`` (``ok`` or the error). The grader compares the arrays itself; nothing
the student's code prints or returns is taken as a verdict.

``execute_call`` is also used in-process by the public tests of a student copy.

A call (one entry of ``spec["calls"]``) is a dict:

    id         name of the call (used in messages)
    kind       "function" (default), "optimizer", "explain" (``check_model``) or
               "residual_block" (``check_block``)
    module     module that holds the functions, e.g. "minicnn.functional"
    forward    name of the forward function, or None to call only ``backward`` on a
               reference cache (``ref_cache``)
    args, kwargs   argument specs: {"a": name} an array (copied per call), {"v": value},
               {"t": [...]} a tuple, {"rng": seed} a numpy Generator, {"none": 1} None
    backward   name of the backward function, or None
    dout       array name of the upstream gradient, or None for ``backward(cache)``
    ref_cache  key of a reference cache in ref_caches.pkl (when ``forward`` is None)
    save_args  indices of positional array arguments to save after the call (in-place updates)
    describe   true: also write what the forward returned as data (``describe_result``: the
               type of ``out``, the cache's layout as JSON and its arrays), for the grader
               to check the cache against the documented one
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def decode_arg(spec, arrays, np):
    """The value of one argument spec (see the module docstring)."""
    if "a" in spec:
        return np.array(arrays[spec["a"]], copy=True)
    if "v" in spec:
        return spec["v"]
    if "t" in spec:
        return tuple(decode_arg(s, arrays, np) if isinstance(s, dict) else s for s in spec["t"])
    if "rng" in spec:
        return np.random.default_rng(spec["rng"])
    if "none" in spec:
        return None
    raise ValueError(f"bad argument spec {spec!r}")


def _as_array(value, np):
    """Whatever the student returned, as a plain numeric ndarray (or a description why not)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise TypeError(f"returned an array of dtype {value.dtype}, expected a float array")
        return np.array(value, copy=True)           # (0-d stays 0-d)
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return np.asarray(value)
    raise TypeError(f"returned {type(value).__name__}, expected a numpy array")


#: Bounds on a described cache (the grader reads the description back as untrusted data).
CACHE_MAX_ITEMS = 10000
CACHE_MAX_DEPTH = 8


def encode_value(value, np, prefix="cache/"):
    """A cache (or any result) as data: ``(layout, arrays)``. ``layout`` is JSON-able and
    mirrors the value's nesting; each array leaf is stored in ``arrays[prefix + str(i)]``.

    Leaves: ``{"array": key}``, ``{"none": 1}``, ``{"bool": b}``, ``{"int": i}``,
    ``{"float": f}`` (``"np": dtype`` added for NumPy scalars), ``{"str": s}``, containers
    ``{"tuple": [...]}`` / ``{"list": [...]}``, and ``{"other": type name}`` for anything
    else (never pickled: the grader only ever reads arrays and JSON from this process).
    """
    arrays = {}
    count = [0]

    def enc(item, depth):
        count[0] += 1
        if count[0] > CACHE_MAX_ITEMS or depth > CACHE_MAX_DEPTH:
            raise TypeError(f"the cache holds more than {CACHE_MAX_ITEMS} items or is nested "
                            f"deeper than {CACHE_MAX_DEPTH}; expected the documented tuple")
        if item is None:
            return {"none": 1}
        if isinstance(item, (bool, np.bool_)):
            return {"bool": bool(item)}
        if isinstance(item, np.ndarray):
            if item.dtype.kind not in "fiub":
                return {"other": f"ndarray of dtype {item.dtype}"}
            key = f"{prefix}{len(arrays)}"
            arrays[key] = np.array(item, copy=True)
            return {"array": key}
        scalar = {"np": str(item.dtype)} if isinstance(item, np.generic) else {}
        if isinstance(item, (int, np.integer)):
            return {"int": int(item), **scalar}
        if isinstance(item, (float, np.floating)):
            return {"float": float(item), **scalar}
        if isinstance(item, str):
            return {"str": item[:200]}
        if isinstance(item, (tuple, list)):
            kind = "tuple" if isinstance(item, tuple) else "list"
            return {kind: [enc(v, depth + 1) for v in item]}
        return {"other": type(item).__name__}

    return enc(value, 0), arrays


def describe_result(out, cache, np) -> dict:
    """What a forward call returned, as arrays: ``meta`` (JSON as uint8: the Python type of
    ``out`` and the cache's layout) and the cache's arrays (``cache/<i>``)."""
    meta = {"out_type": "ndarray" if isinstance(out, np.ndarray)
            else f"{type(out).__module__}.{type(out).__name__}"}
    arrays = {}
    try:
        meta["cache"], arrays = encode_value(cache, np)
    except TypeError as exc:
        meta["cache_error"] = str(exc)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8).copy()
    return arrays


def _optimizer_call(call, arrays, np, importlib):
    """Build Parameters, run ``steps`` optimizer steps with given gradients, save the values."""
    nn = importlib.import_module(call.get("param_module", "minicnn.nn"))
    optim = importlib.import_module(call["module"])
    Parameter = getattr(nn, "Parameter")
    params = [Parameter(np.array(arrays[name], copy=True)) for name in call["params"]]
    opt = getattr(optim, call["optimizer"])(params, **call.get("kwargs", {}))
    outputs = {}
    for step, grad_names in enumerate(call["grads"]):
        for p, g in zip(params, grad_names):
            if step and isinstance(p.grad, np.ndarray) and p.grad.shape == arrays[g].shape:
                p.grad[...] = arrays[g]     # in place, as zero_grad() + backward() do
            else:
                p.grad = np.array(arrays[g], copy=True)
        opt.step()
        for i, p in enumerate(params):
            outputs[f"step{step}/param{i}"] = _as_array(p.data, np)
    return outputs


def check_model(call, arrays, np, nn):
    """The explanation tasks' model, the check's own: none of its layers is a task's code.

    ``minicnn.explain`` needs a chain (a ``Sequential``) whose conv stage starts with a
    ``Conv2d``, so the map layers are ``Conv2d`` by class, but their forward and backward are
    written here and are no convolution: each output map reads ONE input channel,
    subsampled, through a tanh,

        A[n, k] = tanh(scale[k] * X[n, k % C, ::stride, ::stride] + shift[k])

    (no window sums, no channel sums), and the readout is a quadratic form, not a linear
    layer: z[n, t] = sum_{k,i,j} V[t, k, i, j] * A[n, k, i, j]**2 + c[t]. In training mode
    the maps shift by 0.5, so an explanation that forgets evaluation mode is caught. A layer
    bug of the student's cannot reach these tasks, and nothing here is a layer solution.
    """
    dtype = np.dtype(call["dtype"])
    state = {key: np.array(arrays[name], dtype=dtype) for key, name in call["state"].items()}

    class CheckMaps(nn.Conv2d):
        trace_role = None

        def __init__(self, in_channels, scale, shift, stride):
            nn.Module.__init__(self)
            self.in_channels, self.out_channels = in_channels, len(scale)
            self.sources = np.arange(len(scale)) % in_channels
            self.step = stride
            self.scale, self.shift = nn.Parameter(scale), nn.Parameter(shift)

        def forward(self, x):
            shift = self.shift.data + (0.5 if self.training else 0.0)
            picked = x[:, self.sources, ::self.step, ::self.step]
            out = np.tanh(self.scale.data[:, None, None] * picked + shift[:, None, None])
            self._cache = (x.shape, out)
            return out.astype(x.dtype, copy=False)

        def backward(self, dout):
            shape, out = self._cache
            dpicked = dout * (1 - out * out) * self.scale.data[:, None, None]
            dx = np.zeros(shape, dtype=dout.dtype)
            for k, source in enumerate(self.sources):
                dx[:, source, ::self.step, ::self.step] += dpicked[:, k]
            return dx

    class CheckReadout(nn.Module):
        trace_role = None

        def __init__(self, weight, bias):
            super().__init__()
            self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)

        def forward(self, maps):
            self._cache = maps
            return np.einsum("tkij,nkij->nt", self.weight.data, maps * maps) + self.bias.data

        def backward(self, dout):
            maps = self._cache
            return 2 * maps * np.einsum("tkij,nt->nkij", self.weight.data, dout)

    layers, channels = [], call["in_channels"]
    for index, stride in enumerate(call["strides"]):
        scale, shift = state[f"{index}.scale"], state[f"{index}.shift"]
        layers.append(CheckMaps(channels, scale, shift, stride))
        channels = len(scale)
    last = len(layers)
    layers.append(CheckReadout(state[f"{last}.weight"], state[f"{last}.bias"]))
    return nn.Sequential(*layers)


def _explain_call(call, arrays, np, importlib):
    """Build the case's model (``check_model``), leave it in training mode, and call
    ``minicnn.explain.<function>(model, x, **kwargs)``."""
    nn = importlib.import_module("minicnn.nn")
    explain = importlib.import_module(call["module"])
    model = check_model(call, arrays, np, nn)
    model.train()
    kwargs = {k: decode_arg(s, arrays, np) for k, s in call.get("kwargs", {}).items()}
    out = getattr(explain, call["function"])(model, np.array(arrays[call["x"]], copy=True),
                                             **kwargs)
    return {"out": _as_array(out, np)}


def check_block(call, arrays, np, nn, models):
    """The residual task's block: the submission's ``BasicBlock``, each layer replaced by a
    stand-in of the check's own that is no task's code (a student's conv, BatchNorm or ReLU
    bug costs its own task, never this one). A stand-in keeps its layer's place, shapes,
    parameter names and backward contract (returns dL/d(input), ADDS into each
    ``Parameter.grad``, once per forward); it is smooth (finite differences hold) and mixes
    channels (the order of the backward calls matters, as with real layers):

        conv1, conv2, downsample.0   A[n, k] = tanh(w[k, 0] X[n, k % C, ::s, ::s]
                                                    + w[k, 1] X[n, (k + 1) % C, ::s, ::s])
        bn1, bn2, downsample.1       Y[n, c] = g[c] tanh(X[n, c] + X[n, c + 1] / 2) + b[c]
        relu, relu_out               Y = softplus(X) = log(1 + e^X)

    (w is (C_out, 2); channels wrap around.) Returns ``(block, layers, params, kept)``: the
    stand-ins by name, ``[(name, Parameter)]`` in state-dict order (the check reads the
    gradients there, whatever the block's code rebinds), the arrays the stand-ins cached.
    """
    dtype = np.dtype(call["dtype"])
    kept = []

    class StandIn(nn.Module):
        trace_role = None

        def __init__(self, name, *param_names):
            nn.Module.__init__(self)
            self.label, self._cache = name, None
            for key in param_names:
                data = np.array(arrays[call["state"][f"{name}.{key}"]], dtype=dtype)
                setattr(self, key, nn.Parameter(data))

        def keep(self, *cached):
            self._cache = cached
            kept.extend(cached)

        def take(self):
            if self._cache is None:
                raise RuntimeError(f"{self.label}: backward() was called before forward() "
                                   f"(or twice for one forward); each forward allows one")
            cached, self._cache = self._cache, None
            return cached

    class Taps(StandIn):                            # in a convolution's place
        def __init__(self, name, in_channels, out_channels, stride):
            super().__init__(name, "weight")
            self.first = np.arange(out_channels) % in_channels
            self.second, self.step = (self.first + 1) % in_channels, stride

        def forward(self, x):
            s, w = self.step, self.weight.data[:, :, None, None]
            a, b = x[:, self.first, ::s, ::s], x[:, self.second, ::s, ::s]
            out = np.tanh(w[:, 0] * a + w[:, 1] * b)
            self.keep(x, a, b, out)
            return out

        def backward(self, dout):
            x, a, b, out = self.take()
            dz = dout * (1 - out * out)
            self.weight.grad += np.stack([(dz * a).sum(axis=(0, 2, 3)),
                                          (dz * b).sum(axis=(0, 2, 3))], axis=1)
            dx, s, w = np.zeros_like(x), self.step, self.weight.data
            for k, (i, j) in enumerate(zip(self.first, self.second)):
                dx[:, i, ::s, ::s] += w[k, 0] * dz[:, k]
                dx[:, j, ::s, ::s] += w[k, 1] * dz[:, k]
            return dx

    class Mix(StandIn):                             # in a BatchNorm's place
        def __init__(self, name):
            super().__init__(name, "weight", "bias")

        def forward(self, x):
            t = np.tanh(x + 0.5 * np.roll(x, -1, axis=1))
            self.keep(t)
            return self.weight.data[:, None, None] * t + self.bias.data[:, None, None]

        def backward(self, dout):
            (t,) = self.take()
            self.weight.grad += (dout * t).sum(axis=(0, 2, 3))
            self.bias.grad += dout.sum(axis=(0, 2, 3))
            du = dout * self.weight.data[:, None, None] * (1 - t * t)
            return du + 0.5 * np.roll(du, 1, axis=1)

    class Smooth(StandIn):                          # in a ReLU's place
        def forward(self, x):
            self.keep(x)
            return np.logaddexp(0, x)

        def backward(self, dout):
            (x,) = self.take()
            return dout * (0.5 + 0.5 * np.tanh(0.5 * x))   # the sigmoid

    c_in, planes, stride = call["in_planes"], call["planes"], call["stride"]
    layers = {"conv1": Taps("conv1", c_in, planes, stride), "bn1": Mix("bn1"),
              "relu": Smooth("relu"), "conv2": Taps("conv2", planes, planes, 1),
              "bn2": Mix("bn2"), "relu_out": Smooth("relu_out")}
    block = models.BasicBlock(c_in, planes, stride, rng=0, dtype=dtype)
    for name, layer in layers.items():
        setattr(block, name, layer)
    block.downsample = None
    if stride != 1 or c_in != planes:
        layers["downsample.0"] = Taps("downsample.0", c_in, planes, stride)
        layers["downsample.1"] = Mix("downsample.1")
        block.downsample = nn.Sequential(layers["downsample.0"], layers["downsample.1"])
    params = [(f"{name}.{key}", param) for name, layer in layers.items()
              for key, param in layer.named_parameters()]
    return block, layers, params, kept


def block_forward(layers, x):
    """The block's forward as its docstring writes it, ``relu_out(main(x) + shortcut(x))``,
    run by the check on the stand-ins (``check_block``): the student's backward gets the
    caches the check made, whatever the submission's ``forward`` does."""
    main = x
    for name in ("conv1", "bn1", "relu", "conv2", "bn2"):
        main = layers[name].forward(main)
    shortcut = x
    if "downsample.0" in layers:
        shortcut = layers["downsample.1"].forward(layers["downsample.0"].forward(x))
    return layers["relu_out"].forward(main + shortcut)


def _block_call(call, arrays, np, importlib):
    """For each of ``rounds`` (``[x, dout]`` array names): the check's forward of the block,
    then the submission's ``block.backward(dout)``; saved: dx, every parameter's ``.grad``
    (accumulated over the rounds), dout as the call left it, and dx again after the check
    overwrote dout and every cached array (a caller may reuse them)."""
    nn = importlib.import_module("minicnn.nn")
    models = importlib.import_module(call["module"])
    block, layers, params, kept = check_block(call, arrays, np, nn, models)
    outputs = {}
    for r, (x_name, dout_name) in enumerate(call["rounds"]):
        dout = np.array(arrays[dout_name], copy=True)
        block_forward(layers, np.array(arrays[x_name], copy=True))
        dx = block.backward(dout)
        outputs[f"{r}/dx"] = _as_array(dx, np)
        outputs.update({f"{r}/{name}": _as_array(p.grad, np) for name, p in params})
        outputs[f"{r}/dout"] = _as_array(dout, np)
        for array in [dout] + kept:
            array[...] = np.nan
        kept.clear()
        outputs[f"{r}/dx_later"] = _as_array(dx, np)
    return outputs


def execute_call(call, arrays, ref_caches=None):
    """Run one call; return ``{output name: array}``. Exceptions propagate to the caller."""
    import importlib

    import numpy as np

    if call.get("kind") == "optimizer":
        return _optimizer_call(call, arrays, np, importlib)
    if call.get("kind") == "explain":
        return _explain_call(call, arrays, np, importlib)
    if call.get("kind") == "residual_block":
        return _block_call(call, arrays, np, importlib)
    module = importlib.import_module(call["module"])
    outputs = {}
    if call.get("forward"):
        forward = getattr(module, call["forward"])
        args = [decode_arg(s, arrays, np) for s in call.get("args", [])]
        kwargs = {k: decode_arg(s, arrays, np) for k, s in call.get("kwargs", {}).items()}
        result = forward(*args, **kwargs)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"{call['forward']} returned {type(result).__name__}, "
                            f"expected a pair (out, cache)")
        out, cache = result
        if call.get("describe"):                 # before backward can touch the cache
            outputs.update(describe_result(out, cache, np))
        outputs["out"] = _as_array(out, np)
        for index in call.get("save_args", []):
            outputs[f"arg{index}"] = _as_array(args[index], np)
    else:
        cache = (ref_caches or {})[call["ref_cache"]]
    if call.get("backward"):
        backward = getattr(module, call["backward"])
        if call.get("dout") is None:
            grads = backward(cache)
        else:
            grads = backward(np.array(arrays[call["dout"]], copy=True), cache)
        if not isinstance(grads, tuple):
            grads = (grads,)
        for i, grad in enumerate(grads):
            outputs[f"grad{i}"] = None if grad is None else _as_array(grad, np)
        outputs = {k: v for k, v in outputs.items() if v is not None}
    return outputs


def _describe(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if os.path.basename(frame.filename) != os.path.basename(__file__):
            where = f" (at {os.path.basename(frame.filename)}:{frame.lineno} in {frame.name})"
            break
    return f"{type(exc).__name__}: {exc}{where}"


#: Address space a submission may use: well above what grading needs (benchmarks/HISTORY.md,
#: "Grading: the time budget of realistic-size cases"), so a runaway allocation (an im2col
#: matrix with the wrong dimensions, say) fails at once with MemoryError instead of swapping
#: the grader's machine.
MEMORY_LIMIT = 4 * 1024 ** 3


def limit_resources():
    """No core dumps, no file larger than 64 MB (a print loop cannot fill the disk), and at
    most MEMORY_LIMIT bytes of address space."""
    try:
        import resource
    except ImportError:            # not a POSIX system: no limits to set
        return
    for which, limit in ((resource.RLIMIT_FSIZE, 64 * 1024 * 1024),
                         (resource.RLIMIT_CORE, 0),
                         (resource.RLIMIT_AS, MEMORY_LIMIT)):
        try:
            hard = resource.getrlimit(which)[1]
            if hard != resource.RLIM_INFINITY:
                limit = min(limit, hard)
            resource.setrlimit(which, (limit, limit))   # hard too: the code cannot lift it
        except (ValueError, OSError):
            pass


def main(argv):
    root, work, site = argv[0], argv[1], argv[2]
    limit_resources()
    sys.path[:0] = [root, site]          # the submission first, then NumPy and Numba only
    import pickle

    import numpy as np

    with open(os.path.join(work, "spec.json")) as fh:
        spec = json.load(fh)
    with np.load(os.path.join(work, "inputs.npz"), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    ref_caches = {}
    if os.path.exists(os.path.join(work, "ref_caches.pkl")):
        with open(os.path.join(work, "ref_caches.pkl"), "rb") as fh:
            ref_caches = pickle.load(fh)
    out_dir = os.path.join(work, "out")
    os.makedirs(out_dir, exist_ok=True)
    devnull = open(os.devnull, "w")
    for n, call in enumerate(spec["calls"]):
        status = {"id": call["id"], "ok": False}
        try:
            sys.stdout = devnull                     # what the student prints goes nowhere
            outputs = execute_call(call, arrays, ref_caches)
            sys.stdout = sys.__stdout__
            np.savez(os.path.join(out_dir, f"{n}.npz"), **outputs)
            status["ok"] = True
        except SystemExit as exc:                    # sys.exit() in student code
            status["error"] = f"SystemExit({exc.code!r}): the code called sys.exit()"
        except BaseException as exc:                 # noqa: BLE001 - report everything
            status["error"] = _describe(exc)[:2000]
        sys.stdout = sys.__stdout__
        with open(os.path.join(out_dir, f"{n}.json"), "w") as fh:
            json.dump(status, fh)
    with open(os.path.join(out_dir, "done"), "w") as fh:
        fh.write("done")


if __name__ == "__main__":
    main(sys.argv[1:])
