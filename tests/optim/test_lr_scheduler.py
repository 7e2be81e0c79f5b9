"""ReduceLROnPlateau, StepLR and CosineAnnealingLR step for step against torch.optim."""

import math

import numpy as np
import pytest

from minicnn import optim
from minicnn.nn import Parameter
from minicnn.optim import lr_scheduler

pytestmark = pytest.mark.torch

# flat stretches, small improvements below the threshold, recoveries and a rise
METRICS = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8999, 0.85, 0.85, 0.86, 0.87, 0.85, 0.84, 0.84, 0.84,
           0.84, 0.84, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]


def _pair(torch, lr=0.1, groups=1):
    ours = optim.SGD([{"params": [Parameter(np.zeros(2))], "lr": lr * (i + 1)}
                      for i in range(groups)], lr=lr)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)],
                               "lr": lr * (i + 1)} for i in range(groups)], lr=lr)
    return ours, theirs


PLATEAU_CASES = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=1, factor=0.5, cooldown=2),
    dict(patience=0, factor=0.3, cooldown=1, min_lr=0.004),
    dict(mode="max", patience=1, factor=0.5),
    dict(mode="max", patience=2, threshold=0.05, threshold_mode="abs", cooldown=1),
    dict(patience=1, threshold=0.02, threshold_mode="abs", min_lr=[0.01, 0.05]),
    dict(patience=0, factor=0.5, eps=0.02),
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=str)
def test_reduce_lr_on_plateau_matches_torch(torch, kwargs):
    groups = len(kwargs["min_lr"]) if isinstance(kwargs.get("min_lr"), list) else 2
    ours_opt, theirs_opt = _pair(torch, groups=groups)
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    reductions = 0
    for epoch, metric in enumerate(metrics):
        before = ours.get_last_lr()
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15), epoch
        assert [g["lr"] for g in ours_opt.param_groups] == ours.get_last_lr()
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.best) == \
            (theirs.num_bad_epochs, theirs.cooldown_counter, theirs.best), epoch
        reductions += ours.get_last_lr() != before
    assert reductions >= 1


def test_reduce_lr_on_plateau_state_dict_resumes(torch):
    ours_opt, _ = _pair(torch)
    first = lr_scheduler.ReduceLROnPlateau(ours_opt, patience=1, factor=0.5, cooldown=1)
    for metric in METRICS[:9]:
        first.step(metric)
    state = first.state_dict()
    opt2, _ = _pair(torch)
    opt2.load_state_dict(ours_opt.state_dict())
    second = lr_scheduler.ReduceLROnPlateau(opt2, mode="max")
    second.load_state_dict(state)
    for metric in METRICS[9:]:
        first.step(metric)
        second.step(metric)
        assert first.get_last_lr() == second.get_last_lr()
    assert second.mode == "min"


@pytest.mark.parametrize("kwargs", [dict(step_size=3), dict(step_size=2, gamma=0.5)], ids=str)
def test_step_lr_matches_torch(torch, kwargs):
    ours_opt, theirs_opt = _pair(torch, groups=2)
    ours = lr_scheduler.StepLR(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.StepLR(theirs_opt, **kwargs)
    assert ours.get_last_lr() == theirs.get_last_lr()
    for epoch in range(12):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr(), epoch    # bit for bit
        assert ours.last_epoch == theirs.last_epoch


@pytest.mark.parametrize("kwargs", [dict(T_max=5), dict(T_max=7, eta_min=1e-3)], ids=str)
def test_cosine_annealing_matches_torch(torch, kwargs):
    ours_opt, theirs_opt = _pair(torch, groups=2)
    ours = lr_scheduler.CosineAnnealingLR(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, **kwargs)
    for epoch in range(3 * kwargs["T_max"]):       # past T_max the cosine rises again
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12,
                                   atol=1e-15, err_msg=f"epoch {epoch}")
    assert ours.get_last_lr()[0] == pytest.approx(
        kwargs.get("eta_min", 0) + (0.1 - kwargs.get("eta_min", 0))
        * (1 + math.cos(math.pi * ours.last_epoch / kwargs["T_max"])) / 2)


def test_epoch_schedulers_state_dict_round_trip(torch):
    opt, _ = _pair(torch)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    opt2, _ = _pair(torch)
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=3)
    sched2.load_state_dict(state)
    sched.step()
    sched2.step()
    assert sched.get_last_lr() == sched2.get_last_lr()
    with pytest.raises(ValueError, match="unexpected entries"):
        lr_scheduler.StepLR(opt2, step_size=2).load_state_dict(state)


def test_scheduler_argument_errors(torch):
    opt, _ = _pair(torch)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="maximum")
    with pytest.raises(TypeError, match="is not a minicnn.optim Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)


def _resumed_pair(torch, make_ours, make_theirs, epochs):
    """A scheduler run for ``epochs`` steps, then a second one built with
    ``last_epoch=epochs`` on an optimiser holding the first's learning rates."""
    ours_opt, theirs_opt = _pair(torch, groups=2)
    ours, theirs = make_ours(ours_opt), make_theirs(theirs_opt)
    for _ in range(epochs):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
    return ours_opt, theirs_opt


SCHEDULERS = {
    "step": (lambda o, **kw: lr_scheduler.StepLR(o, step_size=3, gamma=0.5, **kw),
             lambda t, o, **kw: t.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5, **kw)),
    "cosine": (lambda o, **kw: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=1e-3, **kw),
               lambda t, o, **kw: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7,
                                                                         eta_min=1e-3, **kw)),
}


def test_step_lr_last_epoch_resumes_like_torch(torch):
    make_ours, make_theirs = SCHEDULERS["step"]
    ours_opt, theirs_opt = _resumed_pair(torch, make_ours, lambda o: make_theirs(torch, o), 5)
    ours = make_ours(ours_opt, last_epoch=5)
    theirs = make_theirs(torch, theirs_opt, last_epoch=5)
    for epoch in range(6, 16):
        assert ours.last_epoch == theirs.last_epoch == epoch
        assert ours.get_last_lr() == theirs.get_last_lr(), epoch      # bit for bit
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()


def test_cosine_last_epoch_keeps_the_current_rate_then_follows_the_formula(torch):
    make_ours, make_theirs = SCHEDULERS["cosine"]
    ours_opt, theirs_opt = _resumed_pair(torch, make_ours, lambda o: make_theirs(torch, o), 5)
    rates_after_5 = [g["lr"] for g in ours_opt.param_groups]
    ours = make_ours(ours_opt, last_epoch=5)
    theirs = make_theirs(torch, theirs_opt, last_epoch=5)
    # what the constructor does is PyTorch's: one step, the current rates kept
    assert ours.last_epoch == theirs.last_epoch == 6
    assert ours.get_last_lr() == rates_after_5
    np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
    for epoch in range(7, 20):                  # then the closed form (see the docstring)
        ours.step()
        expected = [1e-3 + (base - 1e-3) * (1 + math.cos(math.pi * epoch / 7)) / 2
                    for base in ours.base_lrs]
        np.testing.assert_allclose(ours.get_last_lr(), expected, rtol=1e-13)


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_step_with_an_epoch_jumps_and_warns_like_torch(torch, name):
    make_ours, make_theirs = SCHEDULERS[name]
    ours_opt, theirs_opt = _pair(torch, groups=2)
    ours, theirs = make_ours(ours_opt), make_theirs(torch, theirs_opt)
    for epoch in (4, 9, 2):
        with pytest.warns(UserWarning, match="deprecated"):
            ours.step(epoch)
        with pytest.warns(UserWarning):
            theirs.step(epoch)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        assert ours.last_epoch == theirs.last_epoch == epoch


def test_reduce_lr_on_plateau_step_with_an_epoch_sets_last_epoch(torch):
    ours_opt, theirs_opt = _pair(torch)
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, patience=0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, patience=0)
    with pytest.warns(UserWarning, match="deprecated"):
        ours.step(1.0, epoch=7)
    with pytest.warns(UserWarning):
        theirs.step(1.0, epoch=7)
    ours.step(2.0)
    theirs.step(2.0)
    assert ours.last_epoch == theirs.last_epoch == 8
    assert ours.get_last_lr() == theirs.get_last_lr()


def test_last_epoch_needs_a_resumed_optimizer(torch):
    fresh, _ = _pair(torch)
    with pytest.raises(KeyError, match="'initial_lr' is not specified in param_groups\\[0\\]"):
        lr_scheduler.StepLR(fresh, step_size=2, last_epoch=3)
    with pytest.raises(ValueError, match="last_epoch must be an int >= -1"):
        lr_scheduler.CosineAnnealingLR(fresh, T_max=3, last_epoch=-2)
