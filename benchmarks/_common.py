"""Helpers shared by the benchmark scripts: arguments, threads, machine info, timing, output.

The scripts are plain programs (``python benchmarks/conv.py --help``); this module is found
because Python puts the script's own folder first on ``sys.path``.

Only the standard library is imported at module level, so a script can parse ``--threads``
and set the thread-count environment variables *before* NumPy, Numba or PyTorch is loaded
(:func:`configure_threads` then also applies the limits at run time, with threadpoolctl).

Timing rules (see ``benchmarks/RESULTS.md``): every figure is the median of several repeats,
with its spread, and every speed is also given as a ratio to a reference measured in the same
run, because the machine is shared and absolute times drift.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "results"

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ---------------------------------------------------------------------------------------------
# Arguments and threads
# ---------------------------------------------------------------------------------------------

def make_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script shares: --quick, --threads, --out, --tag."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="tiny problem sizes and few repeats: runs in seconds (the test "
                             "suite's smoke test); the figures mean nothing")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for BLAS, Numba and PyTorch alike "
                             "(default: all %(default)s cores)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for the Markdown, JSON and PNG outputs "
                             "(default: benchmarks/results/)")
    parser.add_argument("--tag", default="",
                        help="suffix for the output file names, e.g. 'coretype-unset', so "
                             "runs under different settings do not overwrite each other")
    parser.add_argument("--no-torch", action="store_true",
                        help="leave PyTorch out even when it is installed")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's malloc thresholds alone; by default they are "
                             "raised as `minicnn train` does (minicnn.malloc), so freed "
                             "multi-megabyte buffers are reused instead of page-faulted in "
                             "again every step (applies to PyTorch in the same process too)")
    parser.add_argument("--wait-quiet", type=float, default=None, metavar="SECONDS",
                        help="before timing, wait up to SECONDS for other jobs to leave the "
                             "cores idle (default 120; 0 with --quick)")
    return parser


def configure_threads(n: int) -> int:
    """Use ``n`` threads everywhere: BLAS, OpenMP (PyTorch), Numba and PyTorch's intra-op pool.

    Sets the environment variables (effective for libraries not loaded yet and for child
    processes), then applies the limits at run time. Returns the thread count in force.
    """
    n = max(1, int(n))
    for var in THREAD_ENV_VARS:
        if var == "NUMBA_NUM_THREADS" and "numba" in sys.modules:
            continue  # Numba reads it once at import; changing it afterwards makes it complain
        os.environ[var] = str(n)
    # idle BLAS/OpenMP threads sleep soon instead of spinning on the cores minicnn's own
    # threads need, as in `minicnn train` (minicnn/cores.py); before NumPy loads
    import minicnn
    minicnn.settle_idle_threads()
    import numpy  # noqa: F401  (load BLAS so threadpoolctl can see it)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=n)
    import numba
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    torch = import_torch()
    if torch is not None:
        torch.set_num_threads(n)
    return n


def configure_threads_env_only(n: int) -> None:
    """Set the thread-count environment variables only (for a fresh child process, before
    anything heavy is imported): start-up timings then include no extra imports."""
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(max(1, int(n)))


_TORCH = None


def import_torch(disabled: bool = False):
    """PyTorch, or None when it is not installed (or ``disabled``)."""
    global _TORCH
    if disabled:
        return None
    if _TORCH is None:
        try:
            import torch
        except ImportError:
            _TORCH = False
        else:
            _TORCH = torch
    return _TORCH or None


def torch_twin(torch, name: str, seed: int, **kwargs):
    """PyTorch's twin of ``minicnn.models.build(name, ...)`` (LeNet-5, the ResNets), seeded:
    the tests' definition (tests/support/torch_models.py), one for tests and benchmarks."""
    tests = str(REPO_DIR / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from support.torch_models import torch_module
    torch.manual_seed(seed)
    return torch_module(torch, name, **kwargs)


def output_path(args, stem: str, suffix: str) -> Path:
    """``<out>/<stem>[_<tag>].<suffix>``, creating the folder."""
    args.out.mkdir(parents=True, exist_ok=True)
    tag = f"_{args.tag}" if args.tag else ""
    if args.quick:
        tag += "_quick"
    return args.out / f"{stem}{tag}.{suffix}"


# ---------------------------------------------------------------------------------------------
# Machine information
# ---------------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> list[dict]:
    """What threadpoolctl reports for the loaded BLAS libraries (kernel = ``architecture``)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl not installed (pip install threadpoolctl)"}]
    return [{k: v for k, v in lib.items() if k != "filepath"} | {"file": Path(lib["filepath"]).name}
            for lib in threadpool_info()]


def apply_malloc(args) -> str:
    """Raise glibc's mmap/trim thresholds the way ``minicnn train`` does, unless
    ``--default-malloc``; returns what was done, for the report."""
    if getattr(args, "default_malloc", False):
        return "glibc defaults (--default-malloc)"
    try:
        from minicnn.malloc import keep_freed_memory
    except ImportError:
        return "glibc defaults (minicnn.malloc not available)"
    if keep_freed_memory():
        return "freed buffers kept in the process (minicnn.malloc.keep_freed_memory, as `minicnn train`)"
    return "glibc defaults (mallopt unavailable)"


def settle(args) -> float | None:
    """Apply ``--wait-quiet`` (default 120 s, 0 with --quick); returns the busy fraction."""
    wait = args.wait_quiet if args.wait_quiet is not None else (0.0 if args.quick else 120.0)
    if wait <= 0:
        return None
    return wait_for_quiet(wait)


def start_run(args, threads: int) -> dict:
    """What every timing script does before its first measurement: wait for a quiet machine
    (``--wait-quiet``), apply the malloc setting (``--default-malloc``), then record and print
    the machine. Returns the machine information (with ``malloc`` and
    ``other_cpu_busy_at_start``) for the script's outputs."""
    busy = settle(args)
    malloc = apply_malloc(args)
    info = machine_info(threads)
    info["malloc"] = malloc
    info["other_cpu_busy_at_start"] = busy
    log(format_machine(info))
    return info


def machine_info(threads: int | None = None) -> dict:
    """Cores, CPU, Python, NumPy + BLAS (and its kernel), Numba, PyTorch, thread counts, env."""
    import numpy as np
    import numba
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": _numba_threading_layer(),
        "threads": threads,
        "blas": blas_info(),
        "env": {var: os.environ.get(var, "(unset)") for var in BLAS_ENV_VARS},
        "load_average_at_start": load_average(),
        "other_cpu_busy_at_start": None,
    }
    torch = import_torch()
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    else:
        info["torch"] = "(not installed)"
    try:
        info["minicnn_commit"] = _git_head()
    except Exception:  # noqa: BLE001  (informational only)
        info["minicnn_commit"] = "(unknown)"
    return info


def _numba_threading_layer() -> str:
    import numba
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return f"(not chosen yet; config {numba.config.THREADING_LAYER})"


def _git_head() -> str:
    import subprocess
    out = subprocess.run(["git", "-C", str(REPO_DIR), "log", "-1", "--format=%h %s"],
                         capture_output=True, text=True, timeout=10)
    dirty = subprocess.run(["git", "-C", str(REPO_DIR), "status", "--porcelain", "minicnn"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return out.stdout.strip() + (" (+ uncommitted changes in minicnn/)" if dirty else "")


def blas_summary(info: dict) -> str:
    """One line: 'openblas 0.3.31 SkylakeX, pthreads, 2 threads'."""
    parts = []
    for lib in info["blas"]:
        if lib.get("user_api") == "blas":
            parts.append(f"{lib.get('internal_api')} {lib.get('version')} kernel "
                         f"{lib.get('architecture')} ({lib.get('threading_layer')}, "
                         f"{lib.get('num_threads')} threads)")
    return "; ".join(parts) or "(no BLAS found by threadpoolctl)"


def format_machine(info: dict) -> str:
    """The machine block printed by each script and written at the top of each report."""
    env = ", ".join(f"{k}={v}" for k, v in info["env"].items())
    lines = [
        f"- date: {info['date']}",
        f"- CPU: {info['cpu']}, {info['cores']} cores",
        f"- Python {info['python']}, NumPy {info['numpy']}, Numba {info['numba']} "
        f"({info['numba_threads']} threads, layer {info['numba_threading_layer']}), "
        f"PyTorch {info['torch']}"
        + (f" ({info['torch_threads']} threads)" if "torch_threads" in info else ""),
        f"- BLAS: {blas_summary(info)}",
        f"- environment: {env}",
        f"- threads requested: {info['threads']}; load average (1/5/15 min) at start "
        f"{info['load_average_at_start']}"
        + (f" (cores {info['other_cpu_busy_at_start']:.0%} busy with other jobs)"
           if info.get("other_cpu_busy_at_start") is not None else "")
        + (f", at end {info['load_average_at_end']}" if "load_average_at_end" in info else ""),
        f"- minicnn: {info['minicnn_commit']}",
        f"- malloc: {info.get('malloc', 'glibc defaults')}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

class Timing:
    """Seconds per call over several repeats: median, quartiles, min, max."""

    def __init__(self, times: list[float], number: int = 1):
        self.times = sorted(times)
        self.number = number  # calls averaged inside each repeat

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def q1(self) -> float:
        return _quantile(self.times, 0.25)

    @property
    def q3(self) -> float:
        return _quantile(self.times, 0.75)

    @property
    def min(self) -> float:
        return self.times[0]

    @property
    def max(self) -> float:
        return self.times[-1]

    @property
    def repeats(self) -> int:
        return len(self.times)

    def scaled(self, factor: float) -> "Timing":
        return Timing([t * factor for t in self.times], self.number)

    def iqr_text(self, unit: float = 1e-3) -> str:
        return f"{self.q1 / unit:.3g}–{self.q3 / unit:.3g}"

    def to_dict(self) -> dict:
        return {"median": self.median, "q1": self.q1, "q3": self.q3, "min": self.min,
                "max": self.max, "repeats": self.repeats, "number": self.number}


def _quantile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def measure(fn, *, repeats: int = 7, warmup: int = 1, min_repeat_time: float = 0.05,
            budget: float | None = None, min_repeats: int = 3) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed repeats.

    A repeat runs ``fn`` ``number`` times so that it lasts at least ``min_repeat_time``
    (short calls are otherwise dominated by timer noise) and records the mean per call.
    With ``budget`` (seconds), fewer repeats are taken when one repeat is long, but never
    fewer than ``min_repeats``. The garbage collector is paused while timing, as in timeit.
    """
    for _ in range(warmup):  # first calls pay for compilation, caches, page faults
        fn()
    t0 = time.perf_counter()  # one calibration call decides ``number`` and the repeats
    fn()
    first = time.perf_counter() - t0
    number = max(1, int(math.ceil(min_repeat_time / max(first, 1e-9)))) if first < min_repeat_time else 1
    if budget is not None:
        repeats = max(min_repeats, min(repeats, int(budget / max(first * number, 1e-9))))
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(times, number)


def measure_interleaved(fns: dict, *, repeats: int = 7, warmup: dict | int = 1,
                        min_repeat_time: float = 0.05, budget: float | None = None,
                        min_repeats: int = 3) -> dict:
    """Time several functions in rounds: each round runs every function once (``number``
    calls each, as in :func:`measure`), so all of them see the same machine load; on a
    shared machine this makes their ratios far steadier than timing one after the other.

    ``warmup`` may be a dict giving each function its own number of untimed calls (e.g. 0
    for slow pure-Python code that has nothing to compile). Returns ``{name: Timing}``.
    """
    numbers, first = {}, {}
    for name, fn in fns.items():
        for _ in range(warmup.get(name, 1) if isinstance(warmup, dict) else warmup):
            fn()
        t0 = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - t0
        numbers[name] = (max(1, int(math.ceil(min_repeat_time / max(first[name], 1e-9))))
                         if first[name] < min_repeat_time else 1)
    if budget is not None:
        round_time = sum(first[name] * numbers[name] for name in fns)
        repeats = max(min_repeats, min(repeats, int(budget / max(round_time, 1e-9))))
    times: dict = {name: [] for name in fns}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in fns.items():
                number = numbers[name]
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                times[name].append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(times[name], numbers[name]) for name in fns}


def cpu_busy_fraction(interval: float = 1.0) -> float | None:
    """Fraction of all cores' time spent busy over ``interval`` seconds (Linux /proc/stat),
    counting every process on the machine; None where /proc/stat is missing. The same
    measurement as minicnn's ``--threads auto`` (minicnn.cores.busy_fraction)."""
    from minicnn.cores import busy_fraction
    return busy_fraction(interval)


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> float | None:
    """Wait (at most ``max_wait`` seconds) until the machine's other work keeps less than
    ``threshold`` of the cores busy: multi-threaded timings (OpenMP barriers above all) are
    badly hurt when another job holds a core. Returns the busy fraction finally seen."""
    busy = cpu_busy_fraction(1.0)
    deadline = time.monotonic() + max_wait
    announced = False
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        if not announced:
            log(f"machine busy ({busy:.0%} of the cores); waiting up to {max_wait:.0f} s "
                f"for it to calm down (--wait-quiet)")
            announced = True
        busy = cpu_busy_fraction(2.0)
    return busy


def load_average() -> str:
    """The 1/5/15-minute load averages: how busy the shared machine was."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "(unknown)"


def matmul_peak(n: int = 2048, repeats: int = 7) -> dict:
    """This machine's float32 matrix-product rate right now: best of ``repeats`` ``np.matmul``
    of two n x n float32 matrices, in GFLOP/s (2 n^3 flops), with the median as well."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    timing = measure(lambda: np.matmul(a, b, out=out), repeats=repeats, warmup=1,
                     min_repeat_time=0.0)
    flops = 2.0 * n ** 3
    return {"n": n, "best_gflops": flops / timing.min / 1e9,
            "median_gflops": flops / timing.median / 1e9, "timing": timing.to_dict()}


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def markdown_table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` is one character per column, 'l' or 'r'."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def fmt(value, digits: int = 3) -> str:
    """Three significant digits, or an en dash for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    return str(value)


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def write_text(path: Path, text: str) -> None:
    path.write_text(text if text.endswith("\n") else text + "\n")


def command_line() -> str:
    """The command that produced this output, as a user would type it, with BLAS env vars."""
    env = " ".join(f"{var}={os.environ[var]}" for var in BLAS_ENV_VARS if var in os.environ)
    rel = os.path.relpath(sys.argv[0], REPO_DIR) if sys.argv else "?"
    return " ".join(filter(None, [env, "python", rel, *sys.argv[1:]]))


def pyplot():
    """matplotlib.pyplot with a non-interactive backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def log(*parts) -> None:
    print(*parts, flush=True)
