"""ReduceLROnPlateau, StepLR and CosineAnnealingLR step for step against torch.optim, plus
state_dict round trips and argument errors."""

import math
import warnings

import numpy as np
import pytest

from minicnn import optim
from minicnn.nn import Parameter
from minicnn.optim import lr_scheduler

# flat stretches, small improvements below the threshold, recoveries and a rise
METRICS = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8999, 0.85, 0.85, 0.86, 0.87, 0.85, 0.84, 0.84, 0.84,
           0.84, 0.84, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]


def _sgd(lr=0.1, groups=1):
    """minicnn's SGD with ``groups`` parameter groups, at learning rates lr, 2 lr, ..."""
    return optim.SGD([{"params": [Parameter(np.zeros(2))], "lr": lr * (i + 1)}
                      for i in range(groups)], lr=lr)


def _torch_sgd(torch, lr=0.1, groups=1):
    """The same optimiser in PyTorch."""
    return torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)],
                             "lr": lr * (i + 1)} for i in range(groups)], lr=lr)


def _deprecation_warned(caught):
    return any(issubclass(w.category, UserWarning) and "deprecated" in str(w.message)
               for w in caught)


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


def torch_plateau_steps(torch, kwargs, groups, metrics):
    """torch's ReduceLROnPlateau(**kwargs) on an SGD of ``groups`` groups, stepped once per
    metric: after each step the rates, num_bad_epochs, cooldown_counter and best."""
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_sgd(torch, groups=groups),
                                                           **kwargs)
    steps = {"lr": [], "num_bad_epochs": [], "cooldown_counter": [], "best": []}
    for metric in metrics:
        scheduler.step(metric)
        steps["lr"].append(scheduler.get_last_lr())
        for name in ("num_bad_epochs", "cooldown_counter", "best"):
            steps[name].append(getattr(scheduler, name))
    return steps


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=str)
def test_reduce_lr_on_plateau_matches_torch(torch_reference, kwargs):
    groups = len(kwargs["min_lr"]) if isinstance(kwargs.get("min_lr"), list) else 2
    ours_opt = _sgd(groups=groups)
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    theirs = torch_reference(torch_plateau_steps, kwargs, groups, metrics)
    reductions = 0
    for epoch, metric in enumerate(metrics):
        before = ours.get_last_lr()
        ours.step(metric)
        assert ours.get_last_lr() == pytest.approx(theirs["lr"][epoch].tolist(), rel=1e-15), \
            epoch
        assert [g["lr"] for g in ours_opt.param_groups] == ours.get_last_lr()
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.best) == \
            tuple(theirs[name][epoch] for name in ("num_bad_epochs", "cooldown_counter",
                                                   "best")), epoch
        reductions += ours.get_last_lr() != before
    assert reductions >= 1


def test_reduce_lr_on_plateau_state_dict_resumes():
    ours_opt = _sgd()
    first = lr_scheduler.ReduceLROnPlateau(ours_opt, patience=1, factor=0.5, cooldown=1)
    for metric in METRICS[:9]:
        first.step(metric)
    state = first.state_dict()
    opt2 = _sgd()
    opt2.load_state_dict(ours_opt.state_dict())
    second = lr_scheduler.ReduceLROnPlateau(opt2, mode="max")
    second.load_state_dict(state)
    for metric in METRICS[9:]:
        first.step(metric)
        second.step(metric)
        assert first.get_last_lr() == second.get_last_lr()
    assert second.mode == "min"


def torch_epoch_schedule(torch, name, kwargs, epochs, resume_at=None):
    """torch's ``lr_scheduler.<name>(**kwargs)`` on a two-group SGD: the rates and last_epoch
    after the constructor and after each of ``epochs`` optimizer-then-scheduler steps. With
    ``resume_at`` = k, k steps of a first scheduler come before, and the scheduler recorded is
    a second one, built with last_epoch=k on the same optimiser (resuming a run)."""
    optimizer = _torch_sgd(torch, groups=2)
    make = getattr(torch.optim.lr_scheduler, name)
    if resume_at is not None:
        first = make(optimizer, **kwargs)
        for _ in range(resume_at):
            optimizer.step()
            first.step()
        scheduler = make(optimizer, last_epoch=resume_at, **kwargs)
    else:
        scheduler = make(optimizer, **kwargs)
    lrs, last_epochs = [scheduler.get_last_lr()], [scheduler.last_epoch]
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        last_epochs.append(scheduler.last_epoch)
    return {"lr": lrs, "last_epoch": last_epochs}


@pytest.mark.parametrize("kwargs", [dict(step_size=3), dict(step_size=2, gamma=0.5)], ids=str)
def test_step_lr_matches_torch(torch_reference, kwargs):
    ours_opt = _sgd(groups=2)
    ours = lr_scheduler.StepLR(ours_opt, **kwargs)
    theirs = torch_reference(torch_epoch_schedule, "StepLR", kwargs, epochs=12)
    assert ours.get_last_lr() == theirs["lr"][0].tolist()
    for epoch in range(12):
        ours_opt.step()
        ours.step()
        assert ours.get_last_lr() == theirs["lr"][epoch + 1].tolist(), epoch   # bit for bit
        assert ours.last_epoch == theirs["last_epoch"][epoch + 1]


@pytest.mark.parametrize("kwargs", [dict(T_max=5), dict(T_max=7, eta_min=1e-3)], ids=str)
def test_cosine_annealing_matches_torch(torch_reference, kwargs):
    ours_opt = _sgd(groups=2)
    ours = lr_scheduler.CosineAnnealingLR(ours_opt, **kwargs)
    epochs = 3 * kwargs["T_max"]                  # past T_max the cosine rises again
    theirs = torch_reference(torch_epoch_schedule, "CosineAnnealingLR", kwargs, epochs)
    for epoch in range(epochs):
        ours_opt.step()
        ours.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs["lr"][epoch + 1], rtol=1e-12,
                                   atol=1e-15, err_msg=f"epoch {epoch}")
    assert ours.get_last_lr()[0] == pytest.approx(
        kwargs.get("eta_min", 0) + (0.1 - kwargs.get("eta_min", 0))
        * (1 + math.cos(math.pi * ours.last_epoch / kwargs["T_max"])) / 2)


def test_epoch_schedulers_state_dict_round_trip():
    opt = _sgd()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    opt2 = _sgd()
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=3)
    sched2.load_state_dict(state)
    sched.step()
    sched2.step()
    assert sched.get_last_lr() == sched2.get_last_lr()
    with pytest.raises(ValueError, match="unexpected entries"):
        lr_scheduler.StepLR(opt2, step_size=2).load_state_dict(state)


def test_scheduler_argument_errors():
    opt = _sgd()
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="maximum")
    with pytest.raises(TypeError, match="is not a minicnn.optim Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)


# name -> (the class in minicnn.optim.lr_scheduler and in torch.optim.lr_scheduler, kwargs)
SCHEDULERS = {"step": ("StepLR", dict(step_size=3, gamma=0.5)),
              "cosine": ("CosineAnnealingLR", dict(T_max=7, eta_min=1e-3))}


def _resumed(name, epochs):
    """minicnn's scheduler ``name`` run for ``epochs`` steps, then a second one built with
    ``last_epoch=epochs`` on the optimiser holding the first's rates: (the optimiser, its rates
    before the second scheduler was built, the second scheduler)."""
    cls, kwargs = SCHEDULERS[name]
    make = getattr(lr_scheduler, cls)
    optimizer = _sgd(groups=2)
    first = make(optimizer, **kwargs)
    for _ in range(epochs):
        optimizer.step()
        first.step()
    rates = [group["lr"] for group in optimizer.param_groups]
    return optimizer, rates, make(optimizer, last_epoch=epochs, **kwargs)


def test_step_lr_last_epoch_resumes_like_torch(torch_reference):
    ours_opt, _, ours = _resumed("step", 5)
    theirs = torch_reference(torch_epoch_schedule, *SCHEDULERS["step"], epochs=10, resume_at=5)
    for check, epoch in enumerate(range(6, 16)):
        assert ours.last_epoch == theirs["last_epoch"][check] == epoch
        assert ours.get_last_lr() == theirs["lr"][check].tolist(), epoch      # bit for bit
        ours_opt.step()
        ours.step()


def test_cosine_last_epoch_keeps_the_current_rate_then_follows_the_formula(torch_reference):
    _, rates_after_5, ours = _resumed("cosine", 5)
    theirs = torch_reference(torch_epoch_schedule, *SCHEDULERS["cosine"], epochs=0,
                             resume_at=5)
    # what the constructor does is PyTorch's: one step, the current rates kept
    assert ours.last_epoch == theirs["last_epoch"][0] == 6
    assert ours.get_last_lr() == rates_after_5
    np.testing.assert_allclose(ours.get_last_lr(), theirs["lr"][0], rtol=1e-12)
    for epoch in range(7, 20):                  # then the closed form (see the docstring)
        ours.step()
        expected = [1e-3 + (base - 1e-3) * (1 + math.cos(math.pi * epoch / 7)) / 2
                    for base in ours.base_lrs]
        np.testing.assert_allclose(ours.get_last_lr(), expected, rtol=1e-13)


def torch_schedule_with_epochs(torch, name, kwargs, epochs):
    """torch's ``lr_scheduler.<name>(**kwargs)`` on a two-group SGD, stepped with step(epoch)
    for each epoch: whether it warned that the argument is deprecated, the rates, last_epoch."""
    scheduler = getattr(torch.optim.lr_scheduler, name)(_torch_sgd(torch, groups=2), **kwargs)
    steps = {"warned": [], "lr": [], "last_epoch": []}
    for epoch in epochs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scheduler.step(epoch)
        steps["warned"].append(_deprecation_warned(caught))
        steps["lr"].append(scheduler.get_last_lr())
        steps["last_epoch"].append(scheduler.last_epoch)
    return steps


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_step_with_an_epoch_jumps_and_warns_like_torch(torch_reference, name):
    cls, kwargs = SCHEDULERS[name]
    ours = getattr(lr_scheduler, cls)(_sgd(groups=2), **kwargs)
    epochs = (4, 9, 2)
    theirs = torch_reference(torch_schedule_with_epochs, cls, kwargs, epochs)
    for check, epoch in enumerate(epochs):
        with pytest.warns(UserWarning, match="deprecated"):
            ours.step(epoch)
        assert theirs["warned"][check]
        np.testing.assert_allclose(ours.get_last_lr(), theirs["lr"][check], rtol=1e-12)
        assert ours.last_epoch == theirs["last_epoch"][check] == epoch


def torch_plateau_with_an_epoch(torch):
    """torch's ReduceLROnPlateau(patience=0) after step(1.0, epoch=7) then step(2.0): whether
    the first warned that epoch is deprecated, then last_epoch and the rates."""
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_sgd(torch), patience=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler.step(1.0, epoch=7)
    scheduler.step(2.0)
    return _deprecation_warned(caught), scheduler.last_epoch, scheduler.get_last_lr()


def test_reduce_lr_on_plateau_step_with_an_epoch_sets_last_epoch(torch_reference):
    ours = lr_scheduler.ReduceLROnPlateau(_sgd(), patience=0)
    with pytest.warns(UserWarning, match="deprecated"):
        ours.step(1.0, epoch=7)
    ours.step(2.0)
    warned_t, last_epoch_t, lr_t = torch_reference(torch_plateau_with_an_epoch)
    assert warned_t
    assert ours.last_epoch == last_epoch_t == 8
    assert ours.get_last_lr() == lr_t.tolist()


def test_last_epoch_needs_a_resumed_optimizer():
    fresh = _sgd()
    with pytest.raises(KeyError, match="'initial_lr' is not specified in param_groups\\[0\\]"):
        lr_scheduler.StepLR(fresh, step_size=2, last_epoch=3)
    with pytest.raises(ValueError, match="last_epoch must be an int >= -1"):
        lr_scheduler.CosineAnnealingLR(fresh, T_max=3, last_epoch=-2)
