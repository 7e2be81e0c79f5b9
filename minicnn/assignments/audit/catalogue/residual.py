"""Catalogued variants of the residual block task (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant

BACKWARD = "residual_block_backward"

_D_SUM = "d_sum = self.relu_out.backward(dout)"
_SHORTCUT = "d_shortcut = d_sum if self.downsample is None else self.downsample.backward(d_sum)"
_RETURN = "return d_main + d_shortcut"

_STEP_BY_STEP = """
d_sum = self.relu_out.backward(dout)
grad = d_sum
for layer in (self.bn2, self.conv2, self.relu, self.bn1, self.conv1):
    grad = layer.backward(grad)             # conv1's dx: a new array, safe to add into
if self.downsample is None:
    grad += d_sum
else:
    grad += self.downsample.backward(d_sum)
return grad
"""

_SHORTCUT_FIRST = """
d_sum = self.relu_out.backward(dout)
if self.downsample is not None:
    d_shortcut = self.downsample[0].backward(self.downsample[1].backward(d_sum))
else:
    d_shortcut = d_sum
d_main = self.bn2.backward(d_sum)
d_main = self.conv2.backward(d_main)
d_main = self.relu.backward(d_main)
d_main = self.bn1.backward(d_main)
d_main = self.conv1.backward(d_main)
return d_shortcut + d_main
"""

_RELU_OUT_PER_PATH = """
d_main = self.conv1.backward(self.bn1.backward(self.relu.backward(
    self.conv2.backward(self.bn2.backward(self.relu_out.backward(dout))))))
if self.downsample is None:
    d_shortcut = self.relu_out.backward(dout)
else:
    d_shortcut = self.downsample.backward(self.relu_out.backward(dout))
return d_main + d_shortcut
"""

VARIANTS = [
    Variant(BACKWARD, "shortcut_dropped", "bug",
            "returns the main path's gradient alone: the shortcut's share of dx is lost",
            edits=((_RETURN, "return d_main"),)),
    Variant(BACKWARD, "relu_out_skipped", "bug",
            "sends dout down both paths as it is, without the ReLU after the sum",
            edits=((_D_SUM, "d_sum = dout"),)),
    Variant(BACKWARD, "identity_where_projection", "bug",
            "the shortcut's gradient is d_sum even when the shortcut is downsample",
            edits=((_SHORTCUT, "d_shortcut = d_sum"),)),
    Variant(BACKWARD, "relu_out_per_path", "bug",
            "runs relu_out's backward once for each path: the ReLU after the sum is one layer "
            "with one cache", body=_RELU_OUT_PER_PATH),
    Variant(BACKWARD, "projection_batch_norm_skipped", "bug",
            "the shortcut's gradient goes through downsample's 1x1 conv only, not its "
            "BatchNorm", edits=((_SHORTCUT, "d_shortcut = d_sum if self.downsample is None "
                                            "else self.downsample[0].backward(d_sum)"),)),
    Variant(BACKWARD, "relu_and_bn1_swapped", "bug",
            "the main path's ReLU and first BatchNorm run their backward in forward order",
            edits=(("self.conv1.backward(self.bn1.backward(self.relu.backward(",
                    "self.conv1.backward(self.relu.backward(self.bn1.backward("),)),
    Variant(BACKWARD, "paths_averaged", "bug",
            "halves the sum, as TwoPaths' mean does: the block adds its paths, it does not "
            "average them", edits=((_RETURN, "return 0.5 * (d_main + d_shortcut)"),)),
    Variant(BACKWARD, "gradients_zeroed", "bug",
            "calls zero_grad() first: a second backward replaces the gradients instead of "
            "adding to them", edits=((_D_SUM, "self.zero_grad()\n" + _D_SUM),)),
    Variant(BACKWARD, "sum_written_into_dout", "bug",
            "writes the sum into dout's memory to save an allocation: the caller's dout "
            "changes, and dx is dout", edits=((_RETURN, "return np.add(d_main, d_shortcut, "
                                                        "out=dout)"),)),
    Variant(BACKWARD, "step_by_step_in_place", "alternative",
            "the main path one layer at a time in a loop, the shortcut added in place into "
            "conv1's dx", body=_STEP_BY_STEP),
    Variant(BACKWARD, "shortcut_first", "alternative",
            "the shortcut first, downsample's two layers by index, then the main path one "
            "line per layer", body=_SHORTCUT_FIRST),
]
