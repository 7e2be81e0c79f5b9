"""Cross-entropy loss on raw logits, as PyTorch's ``nn.CrossEntropyLoss`` (lecture, section 5):
log-softmax and negative log-likelihood in one numerically stable step.

    log p[n, k] = z[n, k] - max_j z[n, j] - log sum_j exp(z[n, j] - max_j z[n, j])
    loss        = sum_n w[y_n] * (-log p[n, y_n]) / sum_n w[y_n]     (w = 1: the plain mean)
"""

from __future__ import annotations

import numpy as np

from minicnn.functional._common import check_array, check_finite

_FUNC = "cross_entropy"


def _check_cross_entropy_args(logits, labels, weight):
    check_array(logits, "logits", _FUNC, ndim=2)
    n_batch, n_classes = logits.shape
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"{_FUNC}: labels must be a numpy.ndarray of class indices, got "
                        f"{type(labels).__name__}")
    if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{_FUNC}: labels must be integer class indices, got dtype "
                        f"{labels.dtype} (convert with labels.astype(np.int64); one-hot or "
                        f"probability targets are not supported)")
    if labels.ndim != 1 or labels.shape[0] != n_batch:
        raise ValueError(f"{_FUNC}: labels must have shape (N,) = ({n_batch},) to match logits "
                         f"of shape {logits.shape}, got shape {labels.shape}")
    if n_batch == 0:
        raise ValueError(f"{_FUNC}: the batch is empty (logits of shape {logits.shape}); the "
                         f"mean loss of no samples is undefined")
    if n_classes == 0:
        raise ValueError(f"{_FUNC}: logits of shape {logits.shape} have no classes")
    out_of_range = (labels < 0) | (labels >= n_classes)
    if out_of_range.any():
        index = int(np.flatnonzero(out_of_range)[0])
        raise ValueError(f"{_FUNC}: label {int(labels[index])} (at index {index}) is out of "
                         f"range for {n_classes} classes: labels must be in [0, {n_classes})")
    check_finite(logits, "logits", _FUNC)
    if weight is not None:
        check_array(weight, "weight", _FUNC, ndim=1)
        if weight.shape[0] != n_classes:
            raise ValueError(f"{_FUNC}: weight must have one entry per class, shape "
                             f"({n_classes},), got shape {weight.shape}")
        check_finite(weight, "weight", _FUNC)


def cross_entropy_forward(logits, labels, weight=None):
    """Mean cross-entropy of raw logits against integer labels, optionally class-weighted.

    Stable log-softmax (subtract each row's max before exponentiating):
        shifted = z - max_k z[:, k],   log p = shifted - log sum_k exp(shifted)
    Negative log-likelihood, averaged with per-sample weights w_n = weight[y_n] (1 if None):
        loss = sum_n w_n * (-log p[n, y_n]) / sum_n w_n

    Parameters
    ----------
    logits : (N, K) raw scores (no softmax applied), float32 or float64, finite
    labels : (N,) integer class indices in [0, K)
    weight : (K,) per-class weights, or None (every class 1; the plain mean over N)

    Returns
    -------
    loss : 0-d numpy array of the logits' dtype (``float(loss)`` gives a Python float)
    cache : tuple ``(probs, labels, weight)``
        probs  -- (N, K) softmax probabilities, logits' dtype
        labels -- (N,) the labels, as passed
        weight -- (K,) the class weights as passed, or None

    Raises
    ------
    TypeError when labels are not integers; ValueError when a label is outside [0, K), shapes
    do not match, or logits hold NaN or infinity (a diverged model).
    """
    _check_cross_entropy_args(logits, labels, weight)
    # BEGIN SOLUTION
    n_batch = logits.shape[0]
    shifted = logits - np.max(logits, axis=1, keepdims=True)        # <= 0: exp cannot overflow
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    nll = -log_probs[np.arange(n_batch), labels]                    # (N,)
    if weight is None:
        loss = np.mean(nll)
    else:
        sample_weight = weight[labels].astype(logits.dtype)
        total_weight = np.sum(sample_weight)
        if total_weight == 0:
            raise ValueError(f"{_FUNC}: the class weights of this batch's labels sum to 0, so "
                             f"the weighted mean is undefined")
        loss = np.sum(sample_weight * nll) / total_weight
    loss = np.asarray(loss, dtype=logits.dtype)
    cache = (np.exp(log_probs), labels, weight)
    # END SOLUTION
    return loss, cache


def cross_entropy_backward(cache):
    """Gradient of the (scalar) cross-entropy loss with respect to the logits.

    dloss/dz[n, k] = w_n * (p[n, k] - 1[k == y_n]) / sum_m w_m
    (w_n = weight[y_n], or 1: then simply (p - onehot(y)) / N)

    There is no ``dout``: the loss is the end of the chain, dloss/dloss = 1.

    Parameters
    ----------
    cache : tuple ``(probs, labels, weight)`` from ``cross_entropy_forward``

    Returns
    -------
    dlogits : (N, K), the logits' dtype
    """
    probs, labels, weight = cache
    # BEGIN SOLUTION
    n_batch = probs.shape[0]
    dlogits = probs.copy()
    dlogits[np.arange(n_batch), labels] -= 1
    if weight is None:
        dlogits /= n_batch
    else:
        sample_weight = weight[labels].astype(probs.dtype)
        dlogits *= (sample_weight / np.sum(sample_weight))[:, None]
    # END SOLUTION
    return dlogits
