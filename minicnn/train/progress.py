"""What a run shows while it works: the progress bar and the note on compiling.

The bar is tqdm's, showing the running loss, accuracy and images/s: ``tqdm.auto`` draws a
widget in Jupyter (when ipywidgets is installed) and a one-line text bar on a terminal;
``minicnn train`` shows it only when stderr is a terminal (``--progress`` / ``--no-progress``
decide otherwise), so logs do not fill with redraws.

The first run on a machine compiles the engine's Numba kernels, seconds in which the bar does
not move (about 20-30 for the lecture's CNN); ``CompileNotice`` says so when it starts and,
after the epoch, how long it took.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["ProgressBar", "CompileNotice", "stderr_is_terminal"]


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


class CompileNotice:
    """A context that tells ``log`` when Numba starts compiling a kernel inside it (once), and
    on ``report()`` how many it compiled since the last report and in how long.

    Numba announces a compilation with its ``"numba:compile"`` event only when the kernel is
    not in its on-disk cache, so a run on a machine that has compiled them before says
    nothing. Kernels that compile others count once (the outermost), and parts of a batch on
    several threads may compile at the same time: their wall time is counted from the first
    start to the last end of each burst. ``log=None`` is silent.
    """

    def __init__(self, log):
        self.log = log
        self.kernels = 0                # outermost compilations started
        self.seconds = 0.0              # wall time of the bursts ended since the last report
        self._reported = 0
        self._lock = threading.Lock()
        self._running = 0               # compilations started and not yet ended
        self._depth = threading.local()  # per thread: nesting of compilations
        self._burst_start = 0.0
        self._context = None

    def __enter__(self):
        if self.log is not None:
            from numba.core import event

            notice = self

            class _Listener(event.Listener):
                def on_start(self, _event):
                    notice._started()

                def on_end(self, _event):
                    notice._ended()

            self._context = event.install_listener("numba:compile", _Listener())
            self._context.__enter__()
        return self

    def __exit__(self, *exc_info):
        if self._context is not None:
            self._context.__exit__(*exc_info)
            self._context = None
        return False

    def report(self):
        """Tell ``log`` how many kernels were compiled, and in how long, since the last report
        (nothing if none were)."""
        with self._lock:
            kernels, seconds = self.kernels - self._reported, self.seconds
            self._reported, self.seconds = self.kernels, 0.0
        if kernels and self.log is not None:
            self.log(f"note: compiled {kernels} kernel{'s' if kernels != 1 else ''} in "
                     f"{seconds:.0f} s (cached: later runs on this machine skip it)")

    def _started(self):
        depth = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        if depth:                       # a kernel compiled by another: counted with it
            return
        with self._lock:
            first = self.kernels == 0
            self.kernels += 1
            if self._running == 0:
                self._burst_start = time.perf_counter()
            self._running += 1
        if first:
            self.log("note: compiling the engine's Numba kernels for this machine (once; the "
                     "first batches wait for it)")

    def _ended(self):
        depth = getattr(self._depth, "value", 0)
        if depth == 0:                  # began before the listener was installed: not ours
            return
        self._depth.value = depth - 1
        if depth > 1:
            return
        with self._lock:
            self._running -= 1
            if self._running == 0:
                self.seconds += time.perf_counter() - self._burst_start
