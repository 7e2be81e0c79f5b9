"""Catalogued variants of the optimizer tasks (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant, edit

SGD = "sgd_step"
ADAM = "adam_step"

_FIRST_BUFFER = 'buffer = state["momentum_buffer"] = np.array(grad, copy=True)'

_SGD_FUNCTIONAL = """
d_p = p.grad if weight_decay == 0 else p.grad + weight_decay * p.data
if momentum != 0:
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = d_p.copy()
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * d_p
    buf = state["momentum_buffer"]
    d_p = d_p + momentum * buf if nesterov else buf
p.data[...] = p.data - lr * d_p
"""

_SGD = [
    Variant(SGD, "weight_decay_decoupled", "bug",
            "shrinks the weights directly (AdamW's form) instead of adding weight_decay * p to "
            "the gradient: differs once momentum is on",
            edits=(("    grad = grad + weight_decay * p.data\n",
                    "    p.data *= 1 - lr * weight_decay\n"),)),
    Variant(SGD, "dampening_on_the_first_step", "bug",
            "the first momentum buffer is (1 - dampening) * g; PyTorch's is g",
            edits=((_FIRST_BUFFER, 'buffer = state["momentum_buffer"] = '
                                   '(1 - dampening) * np.array(grad, copy=True)'),)),
    Variant(SGD, "buffer_not_kept", "bug",
            "the momentum buffer is not stored in the state: every step is a first step",
            edits=((_FIRST_BUFFER, "buffer = np.array(grad, copy=True)"),)),
    Variant(SGD, "buffer_aliases_the_gradient", "bug",
            "the buffer IS p.grad (no copy): the next backward overwrites the momentum",
            edits=((_FIRST_BUFFER, 'buffer = state["momentum_buffer"] = grad'),)),
    Variant(SGD, "nesterov_swapped", "bug", "Nesterov as b + mu * g instead of g + mu * b",
            edits=(("grad + momentum * buffer if nesterov", "buffer + momentum * grad if "
                                                        "nesterov"),)),
    Variant(SGD, "functional_form", "alternative",
            "new arrays each step, the buffer replaced in the state, p.data written in place",
            body=_SGD_FUNCTIONAL),
]

_ADAM_NUMPY = """
state["step"] += 1
t = state["step"]
bias_correction1 = 1 - beta1 ** t
bias_correction2 = 1 - beta2 ** t
grad = p.grad
if weight_decay != 0:
    if self._decoupled:                 # AdamW: shrink the weights directly
        p.data *= 1 - lr * weight_decay
    else:                               # Adam: L2 term in the gradient
        grad = grad + weight_decay * p.data
m += (1 - beta1) * (grad - m)
v *= beta2
v += (1 - beta2) * grad * grad
denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps
p.data -= (lr / bias_correction1) * m / denom
"""

_ADAM_TEXTBOOK = """
state["step"] += 1
t = state["step"]
grad = p.grad
if weight_decay != 0 and self._decoupled:
    p.data *= 1 - lr * weight_decay
elif weight_decay != 0:
    grad = grad + weight_decay * p.data
m[...] = beta1 * m + (1 - beta1) * grad
v[...] = beta2 * v + (1 - beta2) * grad ** 2
m_hat = m / (1 - beta1 ** t)
v_hat = v / (1 - beta2 ** t)
p.data -= lr * m_hat / (np.sqrt(v_hat) + eps)
"""

_ADAM_UPDATE = ("denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps\n"
                "p.data -= (lr / bias_correction1) * m / denom")

_ADAM = [
    Variant(ADAM, "no_bias_correction", "bug", "m and v used without bias correction",
            body=edit(_ADAM_NUMPY, (_ADAM_UPDATE, "p.data -= lr * m / (np.sqrt(v) + eps)"))),
    Variant(ADAM, "eps_inside_the_sqrt", "bug", "sqrt(v_hat + eps) instead of sqrt(v_hat) + eps",
            body=edit(_ADAM_NUMPY, ("np.sqrt(v) / math.sqrt(bias_correction2) + eps",
                                    "np.sqrt(v / bias_correction2 + eps)"))),
    Variant(ADAM, "adamw_as_l2", "bug", "AdamW's weight decay added to the gradient (L2)",
            body=edit(_ADAM_NUMPY, ("if self._decoupled:", "if False:"))),
    Variant(ADAM, "decay_after_the_step", "bug",
            "AdamW shrinks the weights after the Adam step instead of before",
            body=edit(_ADAM_NUMPY, ("        p.data *= 1 - lr * weight_decay\n",
                                    "        pass\n"),
                      ("p.data -= (lr / bias_correction1) * m / denom",
                       "p.data -= (lr / bias_correction1) * m / denom\n"
                       "if weight_decay != 0 and self._decoupled:\n"
                       "    p.data *= 1 - lr * weight_decay"))),
    Variant(ADAM, "step_counted_after_use", "bug",
            "t read before the increment: the first step has t = 0",
            body=edit(_ADAM_NUMPY, ('state["step"] += 1\nt = state["step"]',
                                    't = state["step"]\nstate["step"] += 1'))),
    Variant(ADAM, "moments_rebound", "bug",
            "m = beta1*m + ... rebinds a local name: the state's moments stay 0",
            body=edit(_ADAM_NUMPY, ("m += (1 - beta1) * (grad - m)\nv *= beta2\n"
                                    "v += (1 - beta2) * grad * grad",
                                    "m = beta1 * m + (1 - beta1) * grad\n"
                                    "v = beta2 * v + (1 - beta2) * grad * grad"))),
    Variant(ADAM, "second_moment_of_abs", "bug", "v from |g| instead of g**2",
            body=edit(_ADAM_NUMPY, ("v += (1 - beta2) * grad * grad",
                                    "v += (1 - beta2) * np.abs(grad)"))),
    Variant(ADAM, "numpy_path", "alternative", "the NumPy update only (no fused kernel)",
            body=_ADAM_NUMPY),
    Variant(ADAM, "textbook_form", "alternative", "m_hat and v_hat written out",
            body=_ADAM_TEXTBOOK),
]

VARIANTS = _SGD + _ADAM
