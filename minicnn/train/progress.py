"""The training loop's progress bar: tqdm, showing the running loss, accuracy and images/s.

``tqdm.auto`` draws a widget in Jupyter (when ipywidgets is installed) and a one-line text bar
on a terminal; ``minicnn train`` shows it only when stderr is a terminal (``--progress`` /
``--no-progress`` decide otherwise), so logs do not fill with redraws.
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar", "stderr_is_terminal"]


class ProgressBar:
    """One epoch's bar: batches done, running loss and accuracy, images per second, time left.

    A thin shell around ``tqdm.auto.tqdm`` that keeps the loop's call,
    ``update(done, loss=..., acc=..., images=...)`` (absolute counts, not increments).
    ``close()`` removes the bar (the epoch's summary line replaces it). Does nothing when
    ``enabled`` is False.

    Parameters
    ----------
    total : number of batches in the epoch
    desc : the bar's label, e.g. ``"epoch 3/15"``
    stream : where a text bar goes (default stderr; a notebook widget ignores it)
    enabled : False for no output at all
    interval : at most one redraw per ``interval`` seconds (tqdm's ``mininterval``)
    """

    def __init__(self, total: int, *, desc: str = "", stream=None, enabled: bool = True,
                 interval: float = 0.1):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.start = time.perf_counter()
        self._bar = None
        if enabled:
            # imported here: tqdm.auto warns at import inside Jupyter without ipywidgets, and
            # a run without a bar should not pay for that
            from tqdm.auto import tqdm
            self._bar = tqdm(total=total, desc=desc, unit="batch", leave=False,
                             file=sys.stderr if stream is None else stream,
                             mininterval=interval, dynamic_ncols=True)

    def update(self, done: int, *, loss: float, acc: float, images: int) -> None:
        """``done`` batches and ``images`` images so far; ``loss`` and ``acc`` (0..1) are the
        running means over them."""
        if self._bar is None:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self._bar.set_postfix_str(f"loss {loss:.4f} acc {100 * acc:5.1f}% "
                                  f"{images / elapsed:.0f} img/s", refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal (where ``minicnn train`` shows its bar)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
