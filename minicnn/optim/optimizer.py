"""``Optimizer``: parameter groups, ``zero_grad``, ``state_dict`` -- what SGD and Adam share.

As in PyTorch, an optimiser holds ``param_groups``, a list of dicts, each with ``"params"`` (a
list of ``Parameter``\\ s), ``"lr"`` and the other hyperparameters; schedulers change
``group["lr"]`` between steps. ``Optimizer(model.parameters(), lr=...)`` makes one group;
a list of dicts makes several (``[{"params": ..., "lr": 1e-2}, {"params": ...}]``), each
taking the constructor's values for the keys it leaves out.

``state[param]`` holds per-parameter arrays (momentum buffers, Adam's moments) and the step
count. ``state_dict()`` refers to parameters by their position (0, 1, ... across groups in
order), as PyTorch does, and holds only arrays and plain scalars.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

from minicnn.nn.module import Parameter

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: subclasses define ``defaults`` checks and ``step``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Parameter):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters "
                            f"(e.g. model.parameters()), got a single Parameter")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group: ``{"params": [...], "lr": ..., ...}``; missing keys take the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for param in params:
            if not isinstance(param, Parameter):
                raise TypeError(f"{name} can only optimise minicnn.nn.Parameter objects, got "
                                f"{type(param).__name__} (pass model.parameters())")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: some parameters appear in more than one group")
        full = {key: value for key, value in group.items() if key != "params"}
        for key, value in self.defaults.items():
            full.setdefault(key, value)
        self._check_hyperparameters(full)
        full["params"] = params
        self.param_groups.append(full)

    def _check_hyperparameters(self, group: dict) -> None:
        lr = group.get("lr")
        if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate lr={lr!r} (need a "
                             f"number >= 0)")
        group["lr"] = float(lr)

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter this optimiser updates to zeros."""
        for group in self.param_groups:
            for param in group["params"]:
                param.zero_grad()

    def step(self) -> None:
        raise NotImplementedError

    def _params_to_update(self, group):
        """The group's parameters that have a gradient and are trainable."""
        for param in group["params"]:
            if param.grad is not None and param.requires_grad:
                yield param

    # -- saving and restoring -------------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or scalar}}, "param_groups": [{..., "params":
        [indices]}]}`` -- copies, as in PyTorch (parameters numbered across groups in order)."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = []
            for param in group["params"]:
                index.setdefault(id(param), len(index))
                packed["params"].append(index[id(param)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for param in group["params"]:
                if param in self.state:
                    state[index[id(param)]] = {
                        key: value.copy() if isinstance(value, np.ndarray) else value
                        for key, value in self.state[param].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (for the same parameters, in the same order).

        Checks everything first (number of groups and parameters, every state array's shape)
        and changes nothing if a check fails.
        """
        name = type(self).__name__
        try:
            groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups'") from None
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(groups)} parameter "
                             f"group(s), this optimiser has {len(self.param_groups)}")
        params_by_index = {}
        for number, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {number} has "
                                 f"{len(saved['params'])} parameters in the state but "
                                 f"{len(group['params'])} in this optimiser")
            for saved_index, param in zip(saved["params"], group["params"]):
                params_by_index[int(saved_index)] = param
        new_state = {}
        for saved_index, entries in saved_state.items():
            param = params_by_index.get(int(saved_index))
            if param is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {saved_index}, "
                                 f"which no group lists")
            restored = {}
            for key, value in entries.items():
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    if value.shape != param.data.shape:
                        raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter "
                                         f"{saved_index} has shape {value.shape}, the parameter "
                                         f"has shape {param.data.shape}")
                    value = value.astype(param.data.dtype, copy=True)
                elif isinstance(value, np.ndarray):
                    value = value.item()
                restored[key] = value
            new_state[param] = restored
        for saved, group in zip(groups, self.param_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = tuple(value) if isinstance(value, list) and key == "betas" \
                        else value
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"
