"""The bug catalogue: realistic student mistakes, and correct alternatives, for every task.

``minicnn assignment audit`` grades each entry (:mod:`minicnn.assignments.audit.run`): every
*bug* must lose points on its own task and on no other, every *alternative* (a correct
implementation written differently: einsum, sliding windows, ...) must keep full points.
So the hidden checks are themselves tested: a check that misses a catalogued bug, or
rejects a correct implementation, fails the audit (and the test suite).

A variant replaces ONE solution region (the task's first) of a copy of the reference tree:
either by a whole ``body`` (dedented source, as a student would write it between the
markers), or by ``edits`` of the reference region's text (``(old, new)`` pairs, each
``old`` found exactly once), for one-token mistakes such as ``=`` for ``+=``.

This package reveals solutions (and the mistakes the checks look for): it is left out of a
student release, like ``checks/hidden_grids.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("bug", "alternative")


class CatalogueError(ValueError):
    """A variant does not apply (its edit's text is not in the reference region)."""


@dataclass(frozen=True)
class Variant:
    task: str
    name: str
    kind: str                    # "bug" or "alternative"
    note: str                    # what is wrong (a bug) or different (an alternative)
    body: str | None = None      # the whole replacement of the region, or
    edits: tuple = ()            # ((old, new), ...) applied to the reference region

    def __post_init__(self):
        if self.kind not in KINDS:
            raise CatalogueError(f"{self.task}/{self.name}: kind must be one of {KINDS}")
        if (self.body is None) == (not self.edits):
            raise CatalogueError(f"{self.task}/{self.name}: give a body or edits, not both")

    @property
    def key(self) -> str:
        return f"{self.task}/{self.name}"

    def region(self, reference: str) -> str:
        """The variant's region text, given the reference region's (dedented) text."""
        if self.body is not None:
            return self.body
        return edit(reference, *self.edits, where=self.key)


def edit(text: str, *pairs, where: str = "") -> str:
    """``text`` with each ``(old, new)`` replaced; ``old`` must occur exactly once."""
    for old, new in pairs:
        count = text.count(old)
        if count != 1:
            raise CatalogueError(f"{where}: {old!r} occurs {count} times in the text it "
                                 f"edits (expected once): the reference changed?")
        text = text.replace(old, new)
    return text


def variants(task_ids=None) -> list[Variant]:
    """Every catalogued variant (of the given tasks), in registry order."""
    from minicnn.assignments.audit.catalogue import (conv, elementwise, explain, loss, norm,
                                                     optim, pool, residual)
    from minicnn.assignments.registry import TASKS

    found = [v for module in (elementwise, conv, pool, norm, loss, residual, optim, explain)
             for v in module.VARIANTS]
    order = {task: i for i, task in enumerate(TASKS)}
    unknown = sorted({v.task for v in found} - set(order))
    if unknown:
        raise CatalogueError(f"variants of unknown task(s): {', '.join(unknown)}")
    keys = [v.key for v in found]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise CatalogueError(f"variants listed twice: {', '.join(duplicates)}")
    selected = [v for v in found if task_ids is None or v.task in task_ids]
    return sorted(selected, key=lambda v: order[v.task])
