"""SGD, Adam and AdamW step for step against torch.optim (float64), plus param groups,
state_dict round trips, dtype preservation and argument errors."""

import numpy as np
import pytest

from minicnn import optim
from minicnn.nn import Parameter

SHAPES = [(3, 4), (5,), (2, 3, 2, 2)]


def _params(rng):
    return [Parameter(rng.standard_normal(shape)) for shape in SHAPES]


def _gradients(rng, steps):
    return [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(steps)]


def torch_optimizer_steps(torch, name, kwargs, groups, initial, gradients):
    """``torch.optim.<name>`` on tensors holding ``initial``, in parameter groups ``groups``
    ([(parameter indices, options)], or None for one group with ``kwargs``), stepped once per
    entry of ``gradients``: each parameter after each step, stacked ("param <i>")."""
    params = [torch.tensor(value.copy(), requires_grad=True) for value in initial]
    make = getattr(torch.optim, name)
    if groups is None:
        optimizer = make(params, **kwargs)
    else:
        optimizer = make([dict(options, params=[params[i] for i in indices])
                          for indices, options in groups], **kwargs)
    steps = [[] for _ in params]
    for step_gradients in gradients:
        optimizer.zero_grad()
        for param, gradient in zip(params, step_gradients):
            param.grad = torch.tensor(gradient)
        optimizer.step()
        for trajectory, param in zip(steps, params):
            trajectory.append(param.detach().clone())
    return {f"param {i}": torch.stack(trajectory) for i, trajectory in enumerate(steps)}


def _run_both(torch_reference, name, kwargs, rng, steps=8, groups=None):
    """minicnn's and PyTorch's optimizer ``name`` from the same parameters with the same
    gradient sequence: every parameter must agree after every step. Returns minicnn's."""
    ours = _params(rng)
    initial = [p.data.copy() for p in ours]
    make = getattr(optim, name)
    if groups is None:
        opt = make(ours, **kwargs)
    else:
        opt = make([dict(options, params=[ours[i] for i in indices])
                    for indices, options in groups], **kwargs)
    gradients = _gradients(rng, steps)
    expected = torch_reference(torch_optimizer_steps, name, kwargs, groups, initial, gradients)
    for step, grads in enumerate(gradients):
        opt.zero_grad()
        for p, g in zip(ours, grads):
            p.grad += g
        opt.step()
        for i, p in enumerate(ours):
            np.testing.assert_allclose(p.data, expected[f"param {i}"][step], rtol=1e-12,
                                       atol=1e-14, err_msg=f"parameter {i}, step {step}")
    return opt


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=1e-2),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
]


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", SGD_CASES, ids=str)
def test_sgd_matches_torch(torch_reference, rng, kwargs):
    _run_both(torch_reference, "SGD", kwargs, rng)


ADAM_CASES = [dict(), dict(lr=1e-2, weight_decay=1e-2), dict(lr=3e-3, betas=(0.8, 0.99),
                                                             eps=1e-6, weight_decay=1e-4)]


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adam_with_l2_weight_decay_matches_torch(torch_reference, rng, kwargs):
    _run_both(torch_reference, "Adam", kwargs, rng, steps=12)


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", [dict(), dict(lr=1e-2, weight_decay=0.1)], ids=str)
def test_adamw_decoupled_weight_decay_matches_torch(torch_reference, rng, kwargs):
    _run_both(torch_reference, "AdamW", kwargs, rng, steps=12)


@pytest.mark.torch
def test_param_groups_with_their_own_hyperparameters_match_torch(torch_reference, rng):
    groups = [([0, 1], dict(lr=1e-2, weight_decay=0.1)), ([2], dict())]
    opt = _run_both(torch_reference, "Adam", dict(lr=1e-3), rng, groups=groups)
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 1e-3]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)


def test_adam_and_adamw_differ_only_through_weight_decay(rng):
    a, b = _params(rng), None
    b = [Parameter(p.data) for p in a]
    adam, adamw = optim.Adam(a, weight_decay=0), optim.AdamW(b, weight_decay=0)
    for grads in _gradients(rng, 3):
        for p, q, g in zip(a, b, grads):
            p.grad[...] = g
            q.grad[...] = g
        adam.step()
        adamw.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: optim.Adam(p, weight_decay=1e-2),
                                  lambda p: optim.AdamW(p)], ids=["sgd", "adam", "adamw"])
def test_float32_parameters_and_state_stay_float32_and_update_in_place(rng, make):
    param = Parameter(rng.standard_normal((4, 3)).astype(np.float32))
    data = param.data
    opt = make([param])
    param.grad[...] = rng.standard_normal((4, 3))
    opt.step()
    assert param.data is data and param.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[param].values()
               if isinstance(v, np.ndarray))


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda p: optim.Adam(p, lr=1e-2, weight_decay=1e-3),
                                  lambda p: optim.AdamW(p, lr=1e-2)], ids=["sgd", "adam", "adamw"])
def test_state_dict_round_trip_resumes_exactly(rng, make):
    grads = _gradients(rng, 6)
    straight = _params(np.random.default_rng(1))
    opt = make(straight)
    for step_grads in grads:
        for p, g in zip(straight, step_grads):
            p.grad[...] = g
        opt.step()
    resumed = _params(np.random.default_rng(1))
    first = make(resumed)
    for step_grads in grads[:3]:
        for p, g in zip(resumed, step_grads):
            p.grad[...] = g
        first.step()
    state = first.state_dict()
    fresh = make(resumed)
    fresh.load_state_dict(state)
    for step_grads in grads[3:]:
        for p, g in zip(resumed, step_grads):
            p.grad[...] = g
        fresh.step()
    for p, q in zip(straight, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    assert state["param_groups"][0]["params"] == [0, 1, 2]
    assert all(isinstance(v, (np.ndarray, int, float)) for s in state["state"].values()
               for v in s.values())


def test_load_state_dict_rejects_a_state_for_other_parameters(rng):
    opt = optim.Adam(_params(rng))
    for p in opt.param_groups[0]["params"]:
        p.grad[...] = 1
    opt.step()
    other = optim.Adam([Parameter(np.zeros((3, 4))), Parameter(np.zeros(6)),
                        Parameter(np.zeros((2, 3, 2, 2)))])
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 1 has shape \(5,\), the "
                                         r"parameter has shape \(6,\)"):
        other.load_state_dict(opt.state_dict())
    assert other.state == {}
    with pytest.raises(ValueError, match="group 0 has 3 parameters in the state but 1"):
        optim.Adam([Parameter(np.zeros(3))]).load_state_dict(opt.state_dict())


def test_argument_errors_are_clear(rng):
    params = _params(rng)
    with pytest.raises(ValueError, match="invalid learning rate"):
        optim.SGD(params, lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires momentum > 0"):
        optim.SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas must be a pair"):
        optim.Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="pass model.parameters"):
        optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": params}, {"params": params[:1]}], lr=0.1)


def test_zero_grad_and_frozen_parameters(rng):
    frozen = Parameter(np.ones(3), requires_grad=False)
    live = Parameter(np.ones(3))
    opt = optim.SGD([frozen, live], lr=1.0)
    frozen.grad[...] = 1
    live.grad[...] = 1
    opt.step()
    np.testing.assert_array_equal(frozen.data, 1)
    np.testing.assert_array_equal(live.data, 0)
    opt.zero_grad()
    assert not frozen.grad.any() and not live.grad.any()
