"""Label smoothing in cross_entropy_forward / cross_entropy_backward and nn.CrossEntropyLoss:
PyTorch's semantics (with and without class weights, mean reduction), gradient-checked."""

import numpy as np
import pytest

from minicnn import nn
from minicnn.functional.loss import cross_entropy_backward, cross_entropy_forward
from minicnn.gradcheck import check_gradients

SMOOTHINGS = [0.05, 0.1, 0.4, 1.0]


def _case(rng, n, k, weighted, dtype=np.float64):
    logits = (rng.standard_normal((n, k)) * 3).astype(dtype)
    labels = rng.integers(0, k, size=n)
    weight = (rng.random(k) + 0.2).astype(dtype) if weighted else None
    return logits, labels, weight


def _slow_smoothed_loss(logits, labels, weight, eps):
    """The docstring's formula, one sample and one class at a time."""
    n, k = logits.shape
    w = np.ones(k) if weight is None else weight.astype(np.float64)
    total = numerator = 0.0
    for i in range(n):
        z = logits[i].astype(np.float64)
        log_p = z - z.max() - np.log(np.sum(np.exp(z - z.max())))
        numerator += (1 - eps) * w[labels[i]] * -log_p[labels[i]]
        numerator += eps / k * sum(w[j] * -log_p[j] for j in range(k))
        total += w[labels[i]]
    return numerator / total


@pytest.mark.parametrize("n, k", [(6, 5), (1, 3), (4, 1), (3, 10)])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("eps", SMOOTHINGS)
def test_gradient_matches_finite_differences(rng, n, k, weighted, eps):
    _, labels, weight = _case(rng, n, k, weighted)
    kwargs = {"labels": labels, "label_smoothing": eps}
    if weighted:
        kwargs["weight"] = weight
    report = check_gradients(cross_entropy_forward, cross_entropy_backward,
                             {"logits": rng.standard_normal((n, k)) * 3}, kwargs)
    assert report.passed, str(report)


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("eps", SMOOTHINGS)
def test_loss_is_the_docstring_formula(rng, weighted, eps):
    logits, labels, weight = _case(rng, 7, 4, weighted)
    loss, _ = cross_entropy_forward(logits, labels, weight, label_smoothing=eps)
    assert float(loss) == pytest.approx(_slow_smoothed_loss(logits, labels, weight, eps),
                                        rel=1e-12)


def test_unweighted_smoothing_is_cross_entropy_against_the_soft_target(rng):
    logits, labels, _ = _case(rng, 5, 6, False)
    eps = 0.2
    target = np.full((5, 6), eps / 6)
    target[np.arange(5), labels] += 1 - eps
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss, cache = cross_entropy_forward(logits, labels, label_smoothing=eps)
    assert float(loss) == pytest.approx(-np.mean(np.sum(target * log_p, axis=1)), rel=1e-12)
    np.testing.assert_allclose(cross_entropy_backward(cache), (np.exp(log_p) - target) / 5,
                               rtol=1e-12, atol=1e-15)


def test_no_smoothing_keeps_the_three_item_cache_and_the_same_numbers(rng):
    logits, labels, weight = _case(rng, 6, 5, True)
    loss, cache = cross_entropy_forward(logits, labels, weight)
    loss0, cache0 = cross_entropy_forward(logits, labels, weight, label_smoothing=0.0)
    assert len(cache) == len(cache0) == 3
    assert float(loss) == float(loss0)
    np.testing.assert_array_equal(cross_entropy_backward(cache), cross_entropy_backward(cache0))


def test_smoothing_adds_itself_to_the_cache(rng):
    logits, labels, weight = _case(rng, 6, 5, True)
    _, cache = cross_entropy_forward(logits, labels, weight, label_smoothing=0.25)
    probs, cached_labels, cached_weight, eps = cache
    assert eps == 0.25 and cached_labels is labels and cached_weight is weight
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(rng, dtype):
    logits, labels, weight = _case(rng, 4, 3, True, dtype)
    loss, cache = cross_entropy_forward(logits, labels, weight, label_smoothing=0.1)
    assert loss.dtype == dtype and cross_entropy_backward(cache).dtype == dtype


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.1", True])
def test_label_smoothing_outside_0_1_is_an_error_naming_it(rng, bad):
    logits, labels, _ = _case(rng, 3, 4, False)
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\]"):
        cross_entropy_forward(logits, labels, label_smoothing=bad)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=bad)


def test_backward_names_a_wrong_cache():
    with pytest.raises(TypeError, match="cache must be the tuple that cross_entropy_forward"):
        cross_entropy_backward(np.zeros((3, 4)))


def test_module_passes_smoothing_and_weight_through(rng):
    logits, labels, weight = _case(rng, 8, 5, True)
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)
    loss = criterion(logits, labels)
    expected, cache = cross_entropy_forward(logits, labels, weight, label_smoothing=0.1)
    assert float(loss) == float(expected)
    np.testing.assert_array_equal(criterion.backward(), cross_entropy_backward(cache))
    assert "label_smoothing=0.1" in repr(criterion)
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


def test_the_student_copy_leaves_smoothing_to_the_student():
    # the smoothing lives inside the solution regions: a release strips it with the rest, and
    # no code outside them computes it (only the argument check sees label_smoothing)
    import ast
    from pathlib import Path

    from minicnn.assignments.regions import stub_regions
    from minicnn.functional import loss as loss_module

    functions = ("cross_entropy_forward", "cross_entropy_backward")
    source = Path(loss_module.__file__).read_text()
    released = stub_regions(source, {name: name for name in functions})
    lines = released.splitlines()
    left = []
    for node in ast.parse(released).body:
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            for statement in node.body[1:]:                 # after the docstring
                text = "\n".join(lines[statement.lineno - 1:statement.end_lineno])
                if "smooth" in text:
                    left.append(text.strip())
    assert left == ["_check_cross_entropy_args(logits, labels, weight, label_smoothing)"]
    namespace = {"__name__": "released_loss"}
    exec(compile(released, "released_loss.py", "exec"), namespace)
    with pytest.raises(NotImplementedError):
        namespace["cross_entropy_forward"](np.zeros((2, 3)), np.array([0, 2]),
                                           label_smoothing=0.1)


# ----------------------------------------------------------------------------- PyTorch


def _torch_smoothed(torch, logits, labels, weight, eps):
    """PyTorch's smoothed cross_entropy and its dlogits (recorded in tests/torch_recordings/
    for runs without torch)."""
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(
        t_logits, torch.tensor(labels), label_smoothing=eps,
        weight=None if weight is None else torch.tensor(weight))
    t_loss.backward()
    return t_loss.detach().numpy(), t_logits.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("eps", SMOOTHINGS)
def test_functional_matches_torch(torch_reference, rng, dtype, weighted, eps):
    logits, labels, weight = _case(rng, 64, 10, weighted, dtype)
    loss_t, dlogits_t = torch_reference(_torch_smoothed, logits, labels, weight, eps)
    loss, cache = cross_entropy_forward(logits, labels, weight, label_smoothing=eps)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(loss, loss_t, **tol)
    np.testing.assert_allclose(cross_entropy_backward(cache), dlogits_t, **tol)


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_module_matches_torch_module(torch_reference, rng, weighted):
    logits, labels, weight = _case(rng, 32, 7, weighted, np.float32)
    ours = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)
    loss_t, dlogits_t = torch_reference(_torch_module_smoothed, logits, labels, weight)
    np.testing.assert_allclose(ours(logits, labels), loss_t, rtol=1e-5)
    np.testing.assert_allclose(ours.backward(), dlogits_t, rtol=1e-5, atol=1e-7)


def _torch_module_smoothed(torch, logits, labels, weight):
    """torch.nn.CrossEntropyLoss(label_smoothing=0.1) and its dlogits (recorded likewise)."""
    theirs = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else torch.tensor(weight), label_smoothing=0.1)
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = theirs(t_logits, torch.tensor(labels))
    t_loss.backward()
    return t_loss.item(), t_logits.grad
