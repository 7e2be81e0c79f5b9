"""Learning-rate schedulers with PyTorch's rules: ReduceLROnPlateau, StepLR, CosineAnnealingLR.

A scheduler changes ``group["lr"]`` in its optimiser's ``param_groups``. Call
``scheduler.step()`` once per epoch after the epoch's optimiser steps
(``ReduceLROnPlateau.step(metric)`` takes the validation loss, or accuracy with
``mode="max"``). ``get_last_lr()`` returns the learning rate of each group.
"""

from __future__ import annotations

import math
import numbers
import warnings

from minicnn.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"]


def _check_optimizer(optimizer, owner: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: {type(optimizer).__name__} is not a minicnn.optim Optimizer")


class _SchedulerState:
    """What every scheduler shares: the last learning rates and a plain-data state."""

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group after the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Every attribute except the optimiser (plain scalars and lists)."""
        return {key: (list(value) if isinstance(value, list) else value)
                for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected entries "
                             f"{sorted(unknown)} (a state from another scheduler?)")
        self.__dict__.update(state_dict)


class LRScheduler(_SchedulerState):
    """Base of the epoch-indexed schedulers: ``last_epoch`` counts ``step()`` calls.

    On construction each group's ``"initial_lr"`` is recorded (``base_lrs``) and ``step()`` is
    called once, so ``last_epoch`` is 0 and the learning rate is the initial one, as in PyTorch.
    ``last_epoch=k`` is accepted as in PyTorch: the optimiser's groups must already hold
    ``"initial_lr"`` (as one restored from a state dict does), and the constructor's step makes
    ``last_epoch`` k + 1. To carry on exactly where a run stopped, use ``state_dict()`` and
    ``load_state_dict()`` instead (as ``minicnn train --resume`` does).
    """

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(optimizer, type(self).__name__)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) \
                or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an int >= -1, "
                             f"got {last_epoch!r}")
        self.optimizer = optimizer
        for index, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param 'initial_lr' is not specified in "
                               f"param_groups[{index}] when resuming with last_epoch="
                               f"{last_epoch}; load the optimiser's state_dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each group at epoch ``self.last_epoch``."""
        raise NotImplementedError

    def _closed_form_lr(self) -> list[float]:
        """The learning rate at ``self.last_epoch`` from ``base_lrs`` alone (for a jump)."""
        return self.get_lr()

    def step(self, epoch=None) -> None:
        """Advance one epoch and set each group's learning rate.

        ``step(epoch)`` jumps to ``epoch`` instead (deprecated in PyTorch, which warns; so
        does this): the rate then comes from the closed form, not from the current one.
        """
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
            self.last_epoch = int(epoch)
            values = self._closed_form_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


_EPOCH_DEPRECATION = ("passing an epoch to scheduler.step() is deprecated (as in PyTorch); "
                      "call step() once per epoch, or pass last_epoch when you build the "
                      "scheduler to resume")


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    lr(epoch) = initial_lr * gamma ** (epoch // step_size)

    (computed as PyTorch does, by multiplying the current lr by gamma at each multiple of
    step_size, so the two agree to the last bit).
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral) \
                or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial learning rate down to ``eta_min`` over ``T_max`` epochs.

    lr(epoch) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    (the closed form; PyTorch computes the same values recursively, equal to rounding error).
    After T_max epochs the cosine continues, rising back towards initial_lr, as in PyTorch.

    Built with ``last_epoch=k``, it keeps the optimiser's current rates for epoch k + 1, as
    PyTorch does; from then on it follows the closed form, where PyTorch's recursion carries
    that repeated rate along (its resumed schedule lags the formula by one epoch).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if isinstance(T_max, bool) or not isinstance(T_max, numbers.Integral) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)
        self._resuming = last_epoch != -1      # only for the step the constructor takes
        super().__init__(optimizer, last_epoch)
        self._resuming = False

    def get_lr(self):
        if self._resuming:
            return [group["lr"] for group in self.optimizer.param_groups]
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class ReduceLROnPlateau(_SchedulerState):
    """Reduce the learning rate when a metric has stopped improving, with PyTorch's rules.

    After each ``step(metric)``:

    - the metric is *better* than the best so far when (mode, threshold_mode) is
      (min, rel): metric < best * (1 - threshold);   (min, abs): metric < best - threshold;
      (max, rel): metric > best * (1 + threshold);   (max, abs): metric > best + threshold.
      Better: best = metric and the count of bad epochs restarts at 0; otherwise it grows by 1.
    - during a cooldown (``cooldown`` epochs after each reduction) bad epochs are not counted;
    - when the count exceeds ``patience``, every group's lr becomes
      max(lr * factor, min_lr), unless that changes it by no more than ``eps``; then the
      cooldown starts and the count restarts.

    Parameters
    ----------
    optimizer : a minicnn.optim Optimizer
    mode : "min" (a loss) or "max" (an accuracy)
    factor : < 1, the multiplier of a reduction (default 0.1)
    patience : bad epochs tolerated before reducing (default 10)
    threshold, threshold_mode : how much better counts as better ("rel" or "abs")
    cooldown : epochs to wait after a reduction before counting bad epochs again
    min_lr : a float or one per group, the floor of the learning rate
    eps : reductions smaller than this are skipped
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor!r}")
        _check_optimizer(optimizer, "ReduceLROnPlateau")
        self.factor = float(factor)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"ReduceLROnPlateau: expected {len(optimizer.param_groups)} "
                                 f"min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = [float(v) for v in min_lr]
        else:
            self.default_min_lr = float(min_lr)
            self.min_lrs = [float(min_lr)] * len(optimizer.param_groups)
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.eps = float(eps)
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch=None) -> None:
        """Record this epoch's metric (e.g. the validation loss) and reduce the lr if needed.

        ``epoch`` only sets ``last_epoch`` (deprecated in PyTorch, which warns; so does this).
        """
        current = float(metrics)
        if epoch is None:
            self.last_epoch += 1
        else:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
            self.last_epoch = int(epoch)
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0                 # bad epochs in a cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError("ReduceLROnPlateau: the optimiser's number of parameter "
                                   "groups changed; set min_lrs to one value per group")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a, best) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold            # max, abs

    def _init_is_better(self, mode, threshold, threshold_mode) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold,
                             threshold_mode=self.threshold_mode)
