"""Finite-difference gradient checking, for students and for the test suite.

A hand-written backward pass is checked by comparing it with central differences of the
forward pass. For a forward ``out = f(x)`` and a random upstream gradient ``dout``, the
scalar ``L = sum(f(x) * dout)`` has gradient ``dL/dx`` = what ``backward(dout, cache)``
returns, and numerically

    dL/dx[i] ~= (L(x + h e_i) - L(x - h e_i)) / (2h)          (error O(h^2))

Typical use::

    from minicnn.gradcheck import check_gradients
    from minicnn.functional import linear_forward, linear_backward

    report = check_gradients(linear_forward, linear_backward,
                             {"x": x, "weight": w, "bias": b})
    print(report)            # PASS  linear  max rel error 3.1e-11  (x 3.1e-11, weight ...)
    assert report.passed

``python -m minicnn.gradcheck`` checks every layer of ``minicnn.functional`` this way, then
the whole network's input gradient (``check_input_gradient``: the lecture CNN and its GAP
variant, every backward pass chained), and exits non-zero if any fails; ``--only conv2d``
runs just the checks whose name holds that text.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

DEFAULT_THRESHOLD = 1e-7

_TINY = 1e-300


def numerical_gradient(f, x, dout=None, h=1e-6):
    """Central-difference gradient of ``sum(f() * dout)`` with respect to the array ``x``.

    dgrad[i] = (sum(f(x + h e_i) * dout) - sum(f(x - h e_i) * dout)) / (2h)

    Parameters
    ----------
    f : callable with no arguments returning an array or a scalar; it must read ``x``
        (a closure over it), because ``x`` is perturbed in place, one entry at a time
    x : float ndarray, perturbed in place and restored (also if ``f`` raises)
    dout : array shaped like ``f()``'s result, or None for 1 (use None for a scalar loss)
    h : step size; 1e-6 suits float64 (float32 cannot resolve such steps: check in float64)

    Returns
    -------
    grad : float64 array of x's shape
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient: x must be a float ndarray, got {type(x).__name__}")
    weights = 1.0 if dout is None else np.asarray(dout, dtype=np.float64)
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            # copy: f may return x itself (an identity layer), which the next step changes
            plus = np.array(f(), dtype=np.float64, copy=True)
            x[index] = original - h
            minus = np.array(f(), dtype=np.float64, copy=True)
        finally:
            x[index] = original
        grad[index] = np.sum((plus - minus) * weights) / (2 * h)
    return grad


def rel_error(a, b):
    """Norm-based relative error ``||a - b|| / max(||a|| + ||b||, tiny)`` (Frobenius norms).

    Why norms and not ``max |a_i - b_i| / (|a_i| + |b_i|)``: entries of a gradient that are
    close to zero (a ReLU that is barely on, a weight that barely matters) have a relative
    error dominated by finite-difference noise, e.g. 1e-12 against 1e-11 is "10% wrong". The
    elementwise maximum then reports failure for a correct backward pass. Measured on the whole
    array, the error says how much of the gradient is wrong, which is what training feels.
    Two all-zero arrays have error 0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), _TINY))


@dataclass
class GradCheckReport:
    """The outcome of one gradient check.

    Attributes
    ----------
    name : what was checked (e.g. ``"batch_norm2d train"``)
    errors : relative error (``rel_error``) of each checked input's gradient, by input name
    threshold : an input passes when its error is below this
    problems : inputs whose gradient could not be compared, with the reason (e.g. the backward
        pass returned None or the wrong shape), or ``{"<run>": message}`` when the check could
        not run at all
    """

    name: str
    errors: dict = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    problems: dict = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        """The largest relative error over the inputs (inf when something could not run)."""
        if self.problems:
            return float("inf")
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        """True when every input's gradient matched, below ``threshold``."""
        return not self.problems and all(e < self.threshold for e in self.errors.values())

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        parts = [f"{name} {error:.1e}" for name, error in self.errors.items()]
        parts += [f"{name}: {message}" for name, message in self.problems.items()]
        shown = "inf" if self.problems else f"{self.max_error:.1e}"
        return (f"{status}  {self.name:<32} max rel error {shown:>7} (< {self.threshold:.0e}"
                f" required)  [{', '.join(parts)}]")


def _cast(value, dtype):
    """A private copy of a float array, in ``dtype`` when one is given; others unchanged."""
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return np.array(value, dtype=dtype or value.dtype, copy=True)
    return value


def check_gradients(forward, backward, inputs, kwargs=None, *, name=None, loss=None,
                    threshold=DEFAULT_THRESHOLD, h=1e-6, seed=12345, dtype=np.float64):
    """Compare every analytic gradient of a forward/backward pair with finite differences.

    The pair follows minicnn's contract: ``forward(**inputs, **kwargs) -> (out, cache)`` and
    ``backward(dout, cache)`` returns one gradient per entry of ``inputs``, in the same order
    (a tuple, or a single array when there is one input). For a loss (``out`` a scalar) the
    backward pass takes only the cache: ``backward(cache)``, the gradient of the loss itself.

    Parameters
    ----------
    forward, backward : the function pair, e.g. ``batch_norm_forward, batch_norm_backward``
    inputs : dict name -> array, the differentiated arguments, in the order the backward
        pass returns their gradients (e.g. ``{"x": x, "weight": w, "bias": b}``)
    kwargs : dict of the other keyword arguments (labels, running statistics, stride,
        training, ...), passed unchanged except that float arrays are copied (and cast), so a
        forward that updates its arguments in place does not touch the caller's arrays
    name : label for the report (default: forward's name without ``_forward``)
    loss : True if forward returns a scalar whose backward takes only the cache; None (the
        default) decides by the output: a scalar output means a loss
    threshold : an input passes when its relative error is below this (default 1e-7)
    h : finite-difference step
    seed : seeds the random upstream gradient dout (standard normal, never all ones: all ones
        hides BatchNorm and pooling bugs). Not 0 by default: inputs drawn from
        ``default_rng(0)`` would give dout == x, and for BatchNorm that dout has a zero
        gradient, so the check would compare noise with noise
    dtype : float arrays in ``inputs`` and ``kwargs`` are cast to this (default float64, in
        which a correct backward pass agrees to ~1e-9); None keeps their dtypes

    Returns
    -------
    GradCheckReport : ``print(report)``, ``report.passed``, ``report.errors[name]``
    """
    kwargs = {} if kwargs is None else kwargs
    if name is None:
        name = getattr(forward, "__name__", "layer").removesuffix("_forward")
    report = GradCheckReport(name=name, threshold=threshold)
    arrays = {key: _cast(value, dtype) for key, value in inputs.items()}
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"check_gradients: inputs[{key!r}] must be a float ndarray, got "
                            f"{type(value).__name__}; pass non-differentiated arguments in "
                            f"kwargs")
    extra = {key: _cast(value, dtype) for key, value in kwargs.items()}

    def run():
        return forward(**arrays, **extra)[0]

    out, cache = forward(**arrays, **extra)
    is_loss = np.ndim(out) == 0 if loss is None else loss
    if is_loss:
        dout = None
        grads = backward(cache)
    else:
        out = np.asarray(out)
        dout = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
        grads = backward(dout, cache)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) != len(arrays):
        report.problems["<run>"] = (f"backward returned {len(grads)} gradient(s) for "
                                    f"{len(arrays)} input(s) {list(arrays)}")
        return report
    for (key, value), grad in zip(arrays.items(), grads):
        if grad is None:
            report.problems[key] = "backward returned None"
            continue
        grad = np.asarray(grad)
        if grad.shape != value.shape:
            report.problems[key] = f"gradient has shape {grad.shape}, input has {value.shape}"
            continue
        numeric = numerical_gradient(run, value, dout, h=h)
        report.errors[key] = rel_error(grad, numeric)
    return report


def check_input_gradient(model, x, *, name=None, threshold=DEFAULT_THRESHOLD, h=1e-6,
                         seed=12345):
    """Check a whole network's input gradient, ``dx = model.backward(dout)``, against finite
    differences of ``model(x)``: every layer's backward pass, chained, as ``minicnn.explain``
    uses it.

    dL/dx ~= (L(x + h e_i) - L(x - h e_i)) / (2h),  L = sum(model(x) * dout), dout random

    The model runs in evaluation mode (BatchNorm uses its running statistics, Dropout is the
    identity: the function is then deterministic and each image's logits depend on that image
    only). Its modes, ``Parameter.grad``\\ s and caches are restored afterwards.

    Parameters
    ----------
    model : a minicnn model in float64 (``model.double()``: float32 cannot resolve h)
    x : (N, C, H, W) float64 array; copied, the caller's array is not changed
    name : label for the report (default ``"<ModelClass> input gradient"``)
    threshold, h, seed : as for ``check_gradients``

    Returns
    -------
    GradCheckReport with one entry, ``x``
    """
    from minicnn.explain import explaining

    if model.dtype != np.float64:
        raise TypeError(f"check_input_gradient: the model's parameters are {model.dtype}; "
                        f"check in float64 (model.double()), where h = {h:g} is resolvable")
    with explaining(model):
        return check_gradients(lambda x: (model(x), None),
                               lambda dout, cache: model.backward(dout), {"x": x},
                               name=name or f"{type(model).__name__} input gradient",
                               threshold=threshold, h=h, seed=seed)


# --------------------------------------------------------------------------- every layer


def _distinct(rng, shape):
    """Values without ties, spaced far more than h apart: max pooling's gradient is only
    defined when each window's maximum is unique."""
    size = int(np.prod(shape))
    return (rng.permutation(size) / size * 4.0 - 2.0).reshape(shape)


def _away_from_zero(rng, shape):
    """Normal values pushed at least 0.05 from 0, where ReLU's kink would spoil differences."""
    x = rng.standard_normal(shape)
    return x + np.where(x >= 0, 0.05, -0.05)


def _bn_label(kind, training, affine):
    return f"batch_norm{kind} {'train' if training else 'eval'}{'' if affine else ' affine=False'}"


def _layer_checks(rng):
    """(name, thunk) pairs; each thunk returns a GradCheckReport. Imports happen inside the
    thunks, so a missing family fails its own entries and nothing else."""
    checks = []

    def add(name, make):
        checks.append((name, make))

    # -- convolution, every method, stride and padding, non-square input
    for method in ("naive", "loop", "im2col"):
        for stride, padding in ((1, 0), (2, 1), (1, 2)):
            def conv(method=method, stride=stride, padding=padding):
                from minicnn.functional.conv import conv2d_backward, conv2d_forward
                x = rng.standard_normal((2, 2, 6, 5))      # small: "naive" is pure Python
                weight = rng.standard_normal((3, 2, 3, 3))
                bias = rng.standard_normal(3)
                return check_gradients(conv2d_forward, conv2d_backward,
                                       {"x": x, "weight": weight, "bias": bias},
                                       {"stride": stride, "padding": padding, "method": method},
                                       name=f"conv2d {method} s={stride} p={padding}")
            add(f"conv2d {method} s={stride} p={padding}", conv)

    # -- pooling: non-overlapping, overlapping, padded; global average
    for kernel, stride, padding in ((2, None, 0), (3, 2, 1), (3, 1, 0)):
        def max_pool(kernel=kernel, stride=stride, padding=padding):
            from minicnn.functional.pool import max_pool2d_backward, max_pool2d_forward
            label = f"max_pool2d k={kernel} s={stride or kernel} p={padding}"
            return check_gradients(max_pool2d_forward, max_pool2d_backward,
                                   {"x": _distinct(rng, (2, 3, 7, 8))},
                                   {"kernel_size": kernel, "stride": stride, "padding": padding},
                                   name=label)
        add(f"max_pool2d k={kernel} s={stride or kernel} p={padding}", max_pool)

        def avg_pool(kernel=kernel, stride=stride, padding=padding):
            from minicnn.functional.pool import avg_pool2d_backward, avg_pool2d_forward
            label = f"avg_pool2d k={kernel} s={stride or kernel} p={padding}"
            return check_gradients(avg_pool2d_forward, avg_pool2d_backward,
                                   {"x": rng.standard_normal((2, 3, 7, 8))},
                                   {"kernel_size": kernel, "stride": stride, "padding": padding},
                                   name=label)
        add(f"avg_pool2d k={kernel} s={stride or kernel} p={padding}", avg_pool)

    def global_avg_pool():
        from minicnn.functional.pool import (global_avg_pool2d_backward,
                                             global_avg_pool2d_forward)
        return check_gradients(global_avg_pool2d_forward, global_avg_pool2d_backward,
                               {"x": rng.standard_normal((2, 3, 5, 4))}, name="global_avg_pool2d")
    add("global_avg_pool2d", global_avg_pool)

    for output_size in ((3, 2), 7):      # overlapping windows; more outputs than inputs
        def adaptive_avg_pool(output_size=output_size):
            from minicnn.functional.pool import (adaptive_avg_pool2d_backward,
                                                 adaptive_avg_pool2d_forward)
            return check_gradients(adaptive_avg_pool2d_forward, adaptive_avg_pool2d_backward,
                                   {"x": rng.standard_normal((2, 3, 5, 4))},
                                   {"output_size": output_size},
                                   name=f"adaptive_avg_pool2d {output_size}")
        add(f"adaptive_avg_pool2d {output_size}", adaptive_avg_pool)

    # -- batch norm, 1d and 2d, training and evaluation, with and without affine parameters
    for shape, kind in (((6, 5), "1d"), ((3, 4, 5, 3), "2d")):
        for training in (True, False):
            for affine in (True, False):
                def batch_norm(shape=shape, kind=kind, training=training, affine=affine):
                    from minicnn.functional.norm import batch_norm_backward, batch_norm_forward
                    channels = shape[1]
                    inputs = {"x": rng.standard_normal(shape) * 2.0 + 0.5}
                    kwargs = {"running_mean": rng.standard_normal(channels) * 0.1,
                              "running_var": rng.random(channels) + 0.5,
                              "training": training}
                    if affine:
                        inputs["weight"] = rng.standard_normal(channels)
                        inputs["bias"] = rng.standard_normal(channels)
                    else:
                        kwargs.update(weight=None, bias=None)

                    def backward(dout, cache):
                        dx, dweight, dbias = batch_norm_backward(dout, cache)
                        return (dx, dweight, dbias) if affine else dx
                    return check_gradients(batch_norm_forward, backward, inputs, kwargs,
                                           name=_bn_label(kind, training, affine))
                add(_bn_label(kind, training, affine), batch_norm)

    # -- classifier head
    def linear():
        from minicnn.functional.linear import linear_backward, linear_forward
        return check_gradients(linear_forward, linear_backward,
                               {"x": rng.standard_normal((4, 7)),
                                "weight": rng.standard_normal((5, 7)),
                                "bias": rng.standard_normal(5)}, name="linear")
    add("linear", linear)

    def flatten():
        from minicnn.functional.linear import flatten_backward, flatten_forward
        return check_gradients(flatten_forward, flatten_backward,
                               {"x": rng.standard_normal((2, 3, 4, 5))}, name="flatten")
    add("flatten", flatten)

    def relu():
        from minicnn.functional.activation import relu_backward, relu_forward
        return check_gradients(relu_forward, relu_backward,
                               {"x": _away_from_zero(rng, (3, 4, 5))}, name="relu")
    add("relu", relu)

    def dropout():
        from minicnn.functional.dropout import dropout_backward, dropout_forward

        def forward(x):     # the same seed every call: a fixed mask, so f is differentiable
            return dropout_forward(x, 0.4, True, np.random.default_rng(7))
        return check_gradients(forward, dropout_backward, {"x": rng.standard_normal((4, 6))},
                               name="dropout p=0.4 (fixed mask)")
    add("dropout p=0.4 (fixed mask)", dropout)

    for weighted in (False, True):
        def cross_entropy(weighted=weighted):
            from minicnn.functional.loss import cross_entropy_backward, cross_entropy_forward
            kwargs = {"labels": rng.integers(0, 5, size=6)}
            if weighted:
                kwargs["weight"] = rng.random(5) + 0.1
            return check_gradients(cross_entropy_forward, cross_entropy_backward,
                                   {"logits": rng.standard_normal((6, 5)) * 3.0}, kwargs,
                                   name=f"cross_entropy{' weighted' if weighted else ''}")
        add(f"cross_entropy{' weighted' if weighted else ''}", cross_entropy)

    # -- the whole network, input gradient (what minicnn.explain differentiates): the lecture
    #    CNN on one 28x28 image, the GAP variant on a batch of non-square ones
    for model_name, shape in (("CNN", (1, 1, 28, 28)), ("GAPCNN", (3, 1, 12, 10))):
        def network(model_name=model_name, shape=shape):
            from minicnn import models, nn
            model = getattr(models, model_name)(seed=int(rng.integers(2**31)),
                                                dtype=np.float64)
            for module in model.modules():      # BatchNorm's evaluation path, not identity
                if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    size = module.num_features
                    module.weight.data[...] = rng.uniform(0.5, 1.5, size)
                    module.bias.data[...] = rng.standard_normal(size) * 0.1
                    module.running_mean[...] = rng.standard_normal(size) * 0.1
                    module.running_var[...] = rng.uniform(0.5, 1.5, size)
            return check_input_gradient(model, rng.standard_normal(shape),
                                        name=f"network {model_name} input gradient")
        add(f"network {model_name} input gradient", network)
    return checks


def run_all(seed=0, only=None):
    """Check every layer of ``minicnn.functional``, then the whole network's input gradient,
    in float64; returns the reports.

    ``only`` keeps the checks whose name contains that text (e.g. ``"conv2d"``). A layer
    whose check cannot run (not implemented yet, an import error, an exception in its forward
    or backward pass) gets a failing report that says why.
    """
    rng = np.random.default_rng(seed)
    reports = []
    for label, make in _layer_checks(rng):
        if only is not None and only not in label:
            continue
        try:
            reports.append(make())
        except Exception as error:                       # noqa: BLE001 - reported, not hidden
            reports.append(GradCheckReport(
                name=label, problems={"<run>": f"{type(error).__name__}: {error}"}))
    return reports


def main(argv=None) -> int:
    """Print a PASS/FAIL line per layer; return 0 when all pass, 1 otherwise (2 when
    ``--only`` matches no check)."""
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m minicnn.gradcheck",
        description="Check every backward pass of minicnn.functional, and the whole "
                    "network's input gradient, against central finite differences (float64; "
                    f"PASS when the relative error is below {DEFAULT_THRESHOLD:.0e}).")
    parser.add_argument("--only", metavar="TEXT", default=None,
                        help="run only the checks whose name contains TEXT, e.g. conv2d or pool")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random inputs and upstream gradients (default 0)")
    args = parser.parse_args(argv)
    reports = run_all(seed=args.seed, only=args.only)
    if not reports:
        names = ", ".join(label for label, _ in _layer_checks(np.random.default_rng(0)))
        print(f"no gradient check matches --only {args.only!r}; the checks are: {names}",
              file=sys.stderr)
        return 2
    for report in reports:
        print(report)
    failed = [report.name for report in reports if not report.passed]
    print()
    if failed:
        print(f"{len(failed)} of {len(reports)} gradient checks FAILED: {', '.join(failed)}")
        return 1
    print(f"all {len(reports)} gradient checks passed (relative error < "
          f"{DEFAULT_THRESHOLD:.0e} in float64)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
