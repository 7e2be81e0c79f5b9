"""Cross-entropy loss on raw logits, as PyTorch's ``nn.CrossEntropyLoss`` (lecture, section 5):
log-softmax and negative log-likelihood in one numerically stable step.

    log p[n, k] = z[n, k] - max_j z[n, j] - log sum_j exp(z[n, j] - max_j z[n, j])
    loss        = sum_n w[y_n] * (-log p[n, y_n]) / sum_n w[y_n]     (w = 1: the plain mean)

With label smoothing eps (PyTorch's ``label_smoothing``), the target of sample n is
(1 - eps) on its label plus eps / K spread over all K classes:

    loss = sum_n [(1 - eps) w[y_n] (-log p[n, y_n]) + (eps / K) sum_k w[k] (-log p[n, k])]
           / sum_n w[y_n]
"""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.functional._common import check_array, check_finite

_FUNC = "cross_entropy"


def _check_cross_entropy_args(logits, labels, weight, label_smoothing):
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
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{_FUNC}: label_smoothing must be a number in [0, 1] (0: no "
                         f"smoothing), got {label_smoothing!r}")


def _check_cross_entropy_cache(cache):
    if not isinstance(cache, (tuple, list)) or len(cache) not in (3, 4):
        got = (f"a {type(cache).__name__} of {len(cache)} items" if isinstance(cache, (tuple, list))
               else f"{type(cache).__name__}" + (f" of shape {cache.shape}"
                                                 if isinstance(cache, np.ndarray) else ""))
        raise TypeError(f"cross_entropy_backward: cache must be the tuple that "
                        f"cross_entropy_forward returned second ((probs, labels, weight), plus "
                        f"label_smoothing when it is not 0), got {got}; there is no dout: "
                        f"call dlogits = cross_entropy_backward(cache)")


def cross_entropy_forward(logits, labels, weight=None, label_smoothing=0.0):
    """Mean cross-entropy of raw logits against integer labels, optionally class-weighted and
    label-smoothed (PyTorch's ``cross_entropy(..., weight, label_smoothing)``).

    Stable log-softmax (subtract each row's max before exponentiating):
        shifted = z - max_k z[:, k],   log p = shifted - log sum_k exp(shifted)
    Negative log-likelihood, averaged with per-sample weights w_n = weight[y_n] (1 if None):
        loss = sum_n w_n * (-log p[n, y_n]) / sum_n w_n
    With label smoothing eps > 0, each sample also pays eps / K of the (class-weighted)
    cross-entropy against every class, and (1 - eps) of its own:
        loss = sum_n [(1 - eps) w_n (-log p[n, y_n]) + (eps / K) sum_k weight[k] (-log p[n, k])]
               / sum_n w_n
    (without ``weight``: the cross-entropy against the soft target
    q[n, k] = (1 - eps) 1[k == y_n] + eps / K, averaged over N).

    Parameters
    ----------
    logits : (N, K) raw scores (no softmax applied), float32 or float64, finite
    labels : (N,) integer class indices in [0, K)
    weight : (K,) per-class weights, or None (every class 1; the plain mean over N)
    label_smoothing : float in [0, 1], eps above (default 0: no smoothing)

    Returns
    -------
    loss : 0-d numpy array of the logits' dtype (``float(loss)`` gives a Python float)
    cache : tuple ``(probs, labels, weight)`` when label_smoothing is 0, else
        ``(probs, labels, weight, label_smoothing)``
        probs  -- (N, K) softmax probabilities, logits' dtype
        labels -- (N,) the labels, as passed
        weight -- (K,) the class weights as passed, or None
        label_smoothing -- the float eps, as passed (only when it is not 0)

    Raises
    ------
    TypeError when labels are not integers; ValueError when a label is outside [0, K), shapes
    do not match, label_smoothing is outside [0, 1], or logits hold NaN or infinity (a
    diverged model).
    """
    _check_cross_entropy_args(logits, labels, weight, label_smoothing)
    # BEGIN SOLUTION
    n_batch = logits.shape[0]
    shifted = logits - np.max(logits, axis=1, keepdims=True)        # <= 0: exp cannot overflow
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    nll = -log_probs[np.arange(n_batch), labels]                    # (N,)
    if weight is None:
        total_weight = n_batch
        loss = np.mean(nll)
    else:
        sample_weight = weight[labels].astype(logits.dtype)
        total_weight = np.sum(sample_weight)
        if total_weight == 0:
            raise ValueError(f"{_FUNC}: the class weights of this batch's labels sum to 0, so "
                             f"the weighted mean is undefined")
        loss = np.sum(sample_weight * nll) / total_weight
    cache = (np.exp(log_probs), labels, weight)
    if label_smoothing:
        n_classes = logits.shape[1]
        # sum_k weight[k] * (-log p[n, k]), summed over the batch too
        smooth = -np.sum(log_probs if weight is None else log_probs * weight.astype(logits.dtype))
        loss = (1 - label_smoothing) * loss + label_smoothing / n_classes * smooth / total_weight
        cache = cache + (float(label_smoothing),)
    loss = np.asarray(loss, dtype=logits.dtype)
    # END SOLUTION
    return loss, cache


def cross_entropy_backward(cache):
    """Gradient of the (scalar) cross-entropy loss with respect to the logits.

    dloss/dz[n, k] = w_n * (p[n, k] - 1[k == y_n]) / sum_m w_m
    (w_n = weight[y_n], or 1: then simply (p - onehot(y)) / N)

    With label smoothing eps (d(-log p[n, j]) / dz[n, k] = p[n, k] - 1[k == j]):
    dloss/dz[n, k] = [(1 - eps) w_n (p[n, k] - 1[k == y_n])
                      + (eps / K) (p[n, k] sum_j weight[j] - weight[k])] / sum_m w_m
    (without ``weight``: (p - q) / N, q the soft target of ``cross_entropy_forward``).

    There is no ``dout``: the loss is the end of the chain, dloss/dloss = 1.

    Parameters
    ----------
    cache : tuple ``(probs, labels, weight)`` or ``(probs, labels, weight, label_smoothing)``
        from ``cross_entropy_forward``

    Returns
    -------
    dlogits : (N, K), the logits' dtype
    """
    _check_cross_entropy_cache(cache)
    probs, labels, weight = cache[:3]
    # BEGIN SOLUTION
    n_batch = probs.shape[0]
    dlogits = probs.copy()
    dlogits[np.arange(n_batch), labels] -= 1
    if weight is None:
        dlogits /= n_batch
    else:
        sample_weight = weight[labels].astype(probs.dtype)
        dlogits *= (sample_weight / np.sum(sample_weight))[:, None]
    label_smoothing = cache[3] if len(cache) == 4 else 0.0
    if label_smoothing:
        n_classes = probs.shape[1]
        if weight is None:      # (1 - eps)(p - onehot) / N + eps (p - 1/K) / N
            smooth = (probs - 1.0 / n_classes) / n_batch
        else:
            class_weight = weight.astype(probs.dtype)
            total_weight = np.sum(weight[labels].astype(probs.dtype))
            smooth = (probs * np.sum(class_weight) - class_weight) / (n_classes * total_weight)
        dlogits = (1 - label_smoothing) * dlogits + label_smoothing * smooth
    # END SOLUTION
    return dlogits
