"""Catalogued variants of the cross-entropy tasks (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant

FORWARD = "cross_entropy_forward"
BACKWARD = "cross_entropy_backward"

_FORWARD = [
    Variant(FORWARD, "no_max_subtraction", "bug",
            "exp of the raw logits (no max subtracted): large logits overflow",
            edits=(("shifted = logits - np.max(logits, axis=1, keepdims=True)",
                    "shifted = logits"),)),
    Variant(FORWARD, "sum_not_mean", "bug", "the sum over the batch, not the mean",
            edits=(("loss = np.mean(nll)", "loss = np.sum(nll)"),)),
    Variant(FORWARD, "weighted_mean_over_n", "bug",
            "the weighted sum divided by N instead of by the sum of the weights",
            edits=(("loss = np.sum(sample_weight * nll) / total_weight",
                    "loss = np.sum(sample_weight * nll) / n_batch"),)),
    Variant(FORWARD, "python_float_loss", "bug",
            "returns a Python float; the docstring's loss is a 0-d array of the logits' dtype",
            edits=(("loss = np.asarray(loss, dtype=logits.dtype)", "loss = float(loss)"),)),
    Variant(FORWARD, "float64_loss", "bug", "a float64 loss for float32 logits",
            edits=(("loss = np.asarray(loss, dtype=logits.dtype)",
                    "loss = np.asarray(loss, dtype=np.float64)"),)),
    Variant(FORWARD, "cache_log_probs", "bug",
            "caches the log-probabilities instead of the probabilities",
            edits=(("cache = (np.exp(log_probs), labels, weight)",
                    "cache = (log_probs, labels, weight)"),)),
    Variant(FORWARD, "smoothing_over_k_minus_1", "bug",
            "spreads eps over the K - 1 other classes (another convention), not over all K",
            edits=(("label_smoothing / n_classes * smooth", "label_smoothing / (n_classes - 1) "
                                                        "* smooth"),)),
    Variant(FORWARD, "smoothing_without_class_weights", "bug",
            "the smoothing term ignores the class weights",
            edits=(("log_probs if weight is None else log_probs * weight.astype(logits.dtype)",
                    "log_probs"),)),
    Variant(FORWARD, "smoothing_not_cached", "bug",
            "label_smoothing left out of the cache (the backward cannot know it)",
            edits=(("    cache = cache + (float(label_smoothing),)\n", ""),)),
    Variant(FORWARD, "logaddexp_reduce", "alternative",
            "log-softmax as logits - logaddexp.reduce (a stable log-sum-exp)",
            edits=(("shifted = logits - np.max(logits, axis=1, keepdims=True)        # <= 0: "
                    "exp cannot overflow\n"
                    "log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, "
                    "keepdims=True))",
                    "log_probs = logits - np.logaddexp.reduce(logits, axis=1, "
                    "keepdims=True)"),)),
]

_BACKWARD = [
    Variant(BACKWARD, "not_divided_by_n", "bug", "the gradient of the sum, not of the mean",
            edits=(("dlogits /= n_batch", "dlogits /= 1"),)),
    Variant(BACKWARD, "onehot_added", "bug", "p + onehot instead of p - onehot",
            edits=(("dlogits[np.arange(n_batch), labels] -= 1",
                    "dlogits[np.arange(n_batch), labels] += 1"),)),
    Variant(BACKWARD, "weighted_divided_by_n", "bug",
            "class-weighted gradient divided by N instead of by the sum of the weights",
            edits=(("dlogits *= (sample_weight / np.sum(sample_weight))[:, None]",
                    "dlogits *= (sample_weight / n_batch)[:, None]"),)),
    Variant(BACKWARD, "float64_dlogits", "bug", "a float64 gradient for float32 probabilities",
            edits=(("dlogits = probs.copy()", "dlogits = probs.astype(np.float64)"),)),
    Variant(BACKWARD, "smoothing_ignored", "bug", "the label-smoothing term is left out",
            edits=(("if label_smoothing:", "if False:"),)),
    Variant(BACKWARD, "smoothing_without_class_weights", "bug",
            "the unweighted smoothing gradient (p - 1/K) / N used with class weights too",
            edits=(("    if weight is None:      # (1 - eps)(p - onehot) / N + eps (p - 1/K) / N",
                    "    if True:"),)),
    Variant(BACKWARD, "onehot_matrix", "alternative", "probs minus a one-hot matrix",
            edits=(("dlogits = probs.copy()\ndlogits[np.arange(n_batch), labels] -= 1",
                    "dlogits = probs - np.eye(probs.shape[1], dtype=probs.dtype)[labels]"),)),
]

VARIANTS = _FORWARD + _BACKWARD
