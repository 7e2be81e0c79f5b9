"""Catalogued variants of the batch-normalisation tasks (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant, edit

FORWARD = "batch_norm_forward"
BACKWARD = "batch_norm_backward"

_FORWARD_NUMPY = """
axes = (0,) + tuple(range(2, x.ndim))                  # every axis but the channels
shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
if training:
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)                              # biased: divides by m
    if running_mean is not None:
        m = x.size // x.shape[1]
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        running_var[...] = (1 - momentum) * running_var + momentum * var * m / (m - 1)
else:
    mean, var = running_mean, running_var
inv_std = 1.0 / np.sqrt(var + eps)
out = (x - mean.reshape(shape)) * inv_std.reshape(shape)
if weight is not None:
    out = out * weight.reshape(shape)
if bias is not None:
    out = out + bias.reshape(shape)
out = out.astype(x.dtype, copy=False)
cache = (x, mean.astype(x.dtype), inv_std.astype(x.dtype), weight, bias, bool(training))
"""

_BACKWARD_NUMPY = """
axes = (0,) + tuple(range(2, x.ndim))
shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
m = x.size // x.shape[1]
x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
gamma = np.ones(x.shape[1], dtype=x.dtype) if weight is None else weight
dweight = None if weight is None else np.sum(dout * x_hat, axis=axes)
dbias = None if bias is None else np.sum(dout, axis=axes)
scale = (gamma * inv_std).reshape(shape)
if training:
    dx = scale / m * (m * dout - np.sum(dout, axis=axes).reshape(shape)
                      - x_hat * np.sum(dout * x_hat, axis=axes).reshape(shape))
else:
    dx = scale * dout
"""

_FORWARD = [
    Variant(FORWARD, "unbiased_batch_variance", "bug",
            "normalises with the unbiased variance (m - 1); the batch's is biased (m)",
            body=edit(_FORWARD_NUMPY, ("var = x.var(axis=axes)  ", "var = x.var(axis=axes, "
                                                                    "ddof=1)"),
                      ("momentum * var * m / (m - 1)", "momentum * var"))),
    Variant(FORWARD, "running_var_biased", "bug",
            "updates running_var with the biased variance (no m / (m - 1))",
            body=edit(_FORWARD_NUMPY, ("momentum * var * m / (m - 1)", "momentum * var"))),
    Variant(FORWARD, "cache_std_not_inverse", "bug",
            "caches the standard deviation, not its inverse (inv_std)",
            body=edit(_FORWARD_NUMPY, ("inv_std.astype(x.dtype), weight",
                                       "np.sqrt(var + eps).astype(x.dtype), weight"))),
    Variant(FORWARD, "running_stats_rebound", "bug",
            "rebinds running_mean/running_var instead of updating the caller's arrays in place",
            body=edit(_FORWARD_NUMPY,
                      ("running_mean[...] = ", "running_mean = "),
                      ("running_var[...] = ", "running_var = "))),
    Variant(FORWARD, "momentum_reversed", "bug",
            "running = momentum * running + (1 - momentum) * batch (PyTorch's is the reverse)",
            body=edit(_FORWARD_NUMPY,
                      ("(1 - momentum) * running_mean + momentum * mean",
                       "momentum * running_mean + (1 - momentum) * mean"),
                      ("(1 - momentum) * running_var + momentum * var",
                       "momentum * running_var + (1 - momentum) * var"))),
    Variant(FORWARD, "batch_statistics_in_eval", "bug",
            "normalises with the batch statistics in evaluation mode too",
            body=edit(_FORWARD_NUMPY, ("else:\n    mean, var = running_mean, running_var\n",
                                       "else:\n    mean, var = x.mean(axis=axes), "
                                       "x.var(axis=axes)\n"))),
    Variant(FORWARD, "cache_training_always_true", "bug",
            "the cache says training=True even in evaluation mode",
            body=edit(_FORWARD_NUMPY, ("bias, bool(training))", "bias, True)"))),
    Variant(FORWARD, "numpy_formulas", "alternative",
            "NumPy mean/var over the non-channel axes (no kernels)", body=_FORWARD_NUMPY),
]

_BACKWARD = [
    Variant(BACKWARD, "mean_term_missing", "bug",
            "drops the path through the batch mean (- sum(dout) / m)",
            body=edit(_BACKWARD_NUMPY, ("m * dout - np.sum(dout, axis=axes).reshape(shape)",
                                        "m * dout"))),
    Variant(BACKWARD, "variance_term_missing", "bug",
            "drops the path through the batch variance (- x_hat sum(dout x_hat) / m)",
            body=edit(_BACKWARD_NUMPY, (
                "\n                      - x_hat * np.sum(dout * x_hat, axis=axes).reshape(shape))",
                ")"))),
    Variant(BACKWARD, "evaluation_as_training", "bug",
            "uses the training formula in evaluation mode (mean, inv_std do not depend on x)",
            body=edit(_BACKWARD_NUMPY, ("if training:", "if True:"))),
    Variant(BACKWARD, "gamma_forgotten", "bug", "dx without the factor gamma",
            body=edit(_BACKWARD_NUMPY, ("scale = (gamma * inv_std).reshape(shape)",
                                        "scale = inv_std.reshape(shape)"))),
    Variant(BACKWARD, "dgamma_from_raw_x", "bug", "dgamma = sum(dout * x), not dout * x_hat",
            body=edit(_BACKWARD_NUMPY, ("np.sum(dout * x_hat, axis=axes)\ndbias",
                                        "np.sum(dout * x, axis=axes)\ndbias"))),
    Variant(BACKWARD, "numpy_formulas", "alternative", "the compact formula in NumPy",
            body=_BACKWARD_NUMPY),
]

VARIANTS = _FORWARD + _BACKWARD
