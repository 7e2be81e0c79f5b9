"""Catalogued variants of ReLU, Linear and Dropout (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant, edit

RELU_FORWARD = "relu_forward"
RELU_BACKWARD = "relu_backward"

_RELU = [
    Variant(RELU_FORWARD, "cache_holds_output", "bug",
            "caches the output instead of the input (the docstring's cache is (x,))",
            body="out = np.maximum(x, 0)\ncache = (out,)"),
    Variant(RELU_FORWARD, "float64_mask", "bug",
            "multiplies by a float64 mask: float32 input gives float64 output",
            body="out = x * (x > 0).astype(np.float64)\ncache = (x,)"),
    Variant(RELU_FORWARD, "leaky", "bug", "a leaky ReLU (0.01 x below 0), not ReLU",
            body="out = np.maximum(x, 0.01 * x)\ncache = (x,)"),
    Variant(RELU_FORWARD, "zeroes_the_input_in_place", "bug",
            "clips the caller's x in place, so the cached input is no longer the input",
            body="x[x < 0] = 0\nout = x\ncache = (x,)"),
    Variant(RELU_FORWARD, "where", "alternative", "np.where with a zeros array",
            body="out = np.where(x > 0, x, np.zeros_like(x))\ncache = (x,)"),
    Variant(RELU_FORWARD, "boolean_mask_product", "alternative", "x times the boolean mask",
            body="out = x * (x > 0)\ncache = (x,)"),
    Variant(RELU_BACKWARD, "greater_equal", "bug",
            "passes the gradient at x == 0 too (x >= 0): the derivative at 0 is 0",
            body="dx = dout * (x >= 0)"),
    Variant(RELU_BACKWARD, "mask_from_dout", "bug", "masks with the sign of dout, not of x",
            body="dx = dout * (dout > 0)"),
    Variant(RELU_BACKWARD, "float64_mask", "bug",
            "a float64 mask: float32 dout gives a float64 dx",
            body="dx = dout * (x > 0).astype(np.float64)"),
    Variant(RELU_BACKWARD, "elementwise_finite_difference", "bug",
            "central differences of relu_forward, all elements at once (wrong at the kink)",
            body="h = 1e-6\n"
                 "plus, _ = relu_forward(x + h)\n"
                 "minus, _ = relu_forward(x - h)\n"
                 "dx = (dout * (plus - minus) / (2 * h)).astype(dout.dtype)"),
    Variant(RELU_BACKWARD, "where", "alternative", "np.where on x > 0",
            body="dx = np.where(x > 0, dout, np.zeros_like(dout))"),
]

LINEAR_FORWARD = "linear_forward"
LINEAR_BACKWARD = "linear_backward"

_LINEAR_BACKWARD_EINSUM = """
dx = np.einsum("no,oi->ni", dout, weight)
dweight = np.einsum("no,ni->oi", dout, x)
dbias = None if bias is None else dout.sum(axis=0)
"""

# A "backward" by central differences of the student's own forward: right to ~1e-9 on small
# cases (Linear is linear), hopeless at a realistic size (2 forward calls per input element):
# only the timed case catches it.
_LINEAR_BACKWARD_FINITE_DIFFERENCES = """
h = 1e-6
x64, w64 = x.astype(np.float64), weight.astype(np.float64)
b64 = None if bias is None else bias.astype(np.float64)
d64 = dout.astype(np.float64)
grads = []
for array in (x64, w64, b64):
    if array is None:
        grads.append(None)
        continue
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + h
        plus = np.sum(linear_forward(x64, w64, b64)[0] * d64)
        array[index] = old - h
        minus = np.sum(linear_forward(x64, w64, b64)[0] * d64)
        array[index] = old
        grad[index] = (plus - minus) / (2 * h)
    grads.append(grad.astype(dout.dtype))
dx, dweight, dbias = grads
"""

_LINEAR = [
    Variant(LINEAR_FORWARD, "weight_not_transposed", "bug",
            "x @ W instead of x @ W.T (W is (out, in), PyTorch's layout)",
            edits=(("out = x @ weight.T", "out = x @ weight"),)),
    Variant(LINEAR_FORWARD, "bias_forgotten", "bug", "no bias term",
            edits=(("    out += bias\n", "    pass\n"),)),
    Variant(LINEAR_FORWARD, "cache_holds_output", "bug", "caches the output instead of x",
            edits=(("cache = (x, weight, bias)", "cache = (out, weight, bias)"),)),
    Variant(LINEAR_FORWARD, "float64_product", "bug",
            "computes in float64: float32 input gives float64 output",
            edits=(("out = x @ weight.T", "out = x.astype(np.float64) @ weight.T"),)),
    Variant(LINEAR_FORWARD, "einsum", "alternative", "np.einsum",
            body='out = np.einsum("ni,oi->no", x, weight)\n'
                 'if bias is not None:\n'
                 '    out = out + bias\n'
                 'cache = (x, weight, bias)'),
    Variant(LINEAR_BACKWARD, "dweight_transposed", "bug",
            "x^T dout: the shape of W transposed",
            edits=(("dweight = dout.T @ x", "dweight = x.T @ dout"),)),
    Variant(LINEAR_BACKWARD, "dbias_mean", "bug", "the mean of dout over the batch, not the sum",
            edits=(("np.add.reduce(dout, axis=0)", "np.mean(dout, axis=0)"),)),
    Variant(LINEAR_BACKWARD, "dbias_wrong_axis", "bug", "sums over the features, not the batch",
            edits=(("np.add.reduce(dout, axis=0)", "np.add.reduce(dout, axis=1)"),)),
    Variant(LINEAR_BACKWARD, "dx_uses_weight_transposed", "bug", "dout W^T instead of dout W",
            edits=(("dx = dout @ weight\n", "dx = dout @ weight.T\n"),)),
    Variant(LINEAR_BACKWARD, "finite_differences", "bug",
            "central differences of linear_forward: right, but far too slow at a realistic "
            "size (caught only by the time budget)", body=_LINEAR_BACKWARD_FINITE_DIFFERENCES),
    Variant(LINEAR_BACKWARD, "einsum", "alternative", "np.einsum",
            body=_LINEAR_BACKWARD_EINSUM),
]

DROPOUT_FORWARD = "dropout_forward"
DROPOUT_BACKWARD = "dropout_backward"

_DROPOUT_KEEP_BELOW = """
if not training or p == 0:
    return x, (None,)
if p == 1:
    mask = np.zeros_like(x)
else:
    keep = rng.random(x.shape) < 1 - p
    mask = (keep / (1 - p)).astype(x.dtype)
out = x * mask
cache = (mask,)
"""

_DROPOUT = [
    Variant(DROPOUT_FORWARD, "not_rescaled", "bug", "keeps x unscaled (not inverted dropout)",
            edits=(("mask = np.multiply(keep, x.dtype.type(1.0 / (1.0 - p)), dtype=x.dtype)",
                    "mask = keep.astype(x.dtype)"),)),
    Variant(DROPOUT_FORWARD, "keeps_with_probability_p", "bug",
            "keeps a unit with probability p (p is the probability of dropping it)",
            edits=(("rng.random(x.shape, dtype=x.dtype) >= p",
                    "rng.random(x.shape, dtype=x.dtype) < p"),)),
    Variant(DROPOUT_FORWARD, "global_random_state", "bug",
            "draws from np.random, not from the rng argument",
            edits=(("rng.random(x.shape, dtype=x.dtype) >= p",
                    "np.random.random(x.shape) >= p"),)),
    Variant(DROPOUT_FORWARD, "p_one_divides_by_zero", "bug",
            "no special case for p == 1: 1 / (1 - p) divides by zero",
            body=edit(_DROPOUT_KEEP_BELOW, ("if p == 1:\n    mask = np.zeros_like(x)\nelse:\n"
                                            "    keep", "if True:\n    keep"))),
    Variant(DROPOUT_FORWARD, "cache_keeps_boolean_mask", "bug",
            "caches the boolean keep mask, not the scaled mask the docstring documents",
            body=edit(_DROPOUT_KEEP_BELOW, ("cache = (mask,)", "cache = (mask != 0,)"))),
    Variant(DROPOUT_FORWARD, "float64_mask", "bug",
            "a float64 mask: float32 input gives float64 output",
            body=edit(_DROPOUT_KEEP_BELOW, ("mask = (keep / (1 - p)).astype(x.dtype)",
                                            "mask = keep / (1 - p)"))),
    Variant(DROPOUT_FORWARD, "keep_below", "alternative",
            "keep where rng.random() < 1 - p (a different, equally valid draw)",
            body=_DROPOUT_KEEP_BELOW),
    Variant(DROPOUT_BACKWARD, "mask_not_scaled", "bug",
            "multiplies by the 0/1 pattern of the mask, dropping the 1/(1-p) scale",
            body="dx = dout if mask is None else dout * (mask != 0)"),
    Variant(DROPOUT_BACKWARD, "identity_case_forgotten", "bug",
            "multiplies by the mask even when it is None (evaluation, p == 0)",
            body="dx = dout * mask"),
    Variant(DROPOUT_BACKWARD, "divides_by_the_mask", "bug", "dout / mask instead of dout * mask",
            body="dx = dout if mask is None else dout / np.where(mask == 0, 1, mask)"),
    Variant(DROPOUT_BACKWARD, "where", "alternative", "np.where on the kept units",
            body="dx = dout if mask is None else np.where(mask != 0, dout * mask, 0).astype("
                 "dout.dtype)"),
]

VARIANTS = _RELU + _LINEAR + _DROPOUT
