"""Peak memory (resident set size) of training the lecture's CNN, minicnn against PyTorch,
each in its own fresh process.

    python benchmarks/memory.py               # 200 steps of batch 64 each (about a minute)
    python benchmarks/memory.py --quick       # 5 steps; seconds
    python benchmarks/memory.py --steps 844   # a whole epoch of 54,000 training images

Each child process records ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the peak RSS since
the process started) and its current RSS (``/proc/self/statm``) at four points:

- baseline: after ``import numpy`` and the framework (minicnn's modules, or ``torch``);
- after building the model, the loss and Adam;
- after the first training step (Numba kernels loaded from the cache or compiled; BLAS and
  OpenMP buffers allocated);
- after ``--steps`` training steps: the peak of the run.

The batches are random (normal images, uniform labels), drawn step by step with NumPy in both
processes, so no data set sits in memory and the figures are the engines' own. minicnn runs
with the default Numba cache (warm after the first run on a machine); a cold cache adds
LLVM's compile-time memory to the peak, shown separately when ``--cold`` is given.

Outputs in ``--out`` (default benchmarks/results/): memory[_TAG].md and memory[_TAG].json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import _common as common

BATCH = 64


def rss_now_mib() -> float:
    """Current resident set size in MiB (Linux ``/proc/self/statm``; else the peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError):
        return peak_rss_mib()


def peak_rss_mib() -> float:
    """``ru_maxrss``: KiB on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024


def mark(marks: dict, name: str) -> None:
    marks[name] = {"rss_mib": rss_now_mib(), "peak_mib": peak_rss_mib(), "time": time.time()}


def child(framework: str, steps: int, threads: int) -> int:
    """Train ``steps`` steps in this (fresh) process; print the marks as JSON."""
    marks: dict = {}
    mark(marks, "interpreter")
    import numpy as np
    if framework == "minicnn":
        from minicnn import nn, optim  # noqa: F401
        from minicnn.models import CNN  # noqa: F401
    else:
        import torch  # noqa: F401
        torch.set_num_threads(threads)
    mark(marks, "baseline (after import)")

    from train_step import (minicnn_setup, minicnn_step_fns, torch_setup,  # noqa: E402
                            torch_step_fns)
    rng = np.random.default_rng(0)
    images = np.empty((BATCH, 1, 28, 28), dtype=np.float32)
    labels = np.empty(BATCH, dtype=np.int64)
    if framework == "minicnn":
        model, criterion, optimizer = minicnn_setup()
        train_step, _ = minicnn_step_fns(model, criterion, optimizer, images, labels)
    else:
        model, criterion, optimizer = torch_setup(torch)
        train_step, _ = torch_step_fns(torch, model, criterion, optimizer, images, labels)
    model.train()
    mark(marks, "model built")

    def next_batch():  # fill the arrays in place: the step functions hold views of them
        images[...] = rng.standard_normal(images.shape, dtype=np.float32)
        labels[...] = rng.integers(0, 10, size=BATCH)

    next_batch()
    train_step()
    mark(marks, "after 1 step")
    for _ in range(steps - 1):
        next_batch()
        train_step()
    mark(marks, f"after {steps} steps")
    print(json.dumps(marks), flush=True)
    return 0


def run_child(framework: str, steps: int, threads: int, extra_env: dict | None = None,
              default_malloc: bool = False) -> dict:
    env = dict(os.environ) | (extra_env or {})
    cmd = [sys.executable, os.path.abspath(__file__), "--child", framework, "--steps",
           str(steps), "--threads", str(threads)] + (["--default-malloc"] if default_malloc else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{framework} child failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(results: dict, steps: int) -> str:
    headers = ["run", "interpreter RSS", "baseline RSS (after import)", "after building model",
               "peak after 1 step", f"peak after {steps} steps (ru_maxrss)",
               "peak - baseline", f"current RSS after {steps} steps"]
    rows = []
    for name, marks in results.items():
        keys = list(marks)
        base = marks["baseline (after import)"]
        end = marks[keys[-1]]
        rows.append([name, f"{marks['interpreter']['rss_mib']:.0f}",
                     f"{base['rss_mib']:.0f}", f"{marks['model built']['rss_mib']:.0f}",
                     f"{marks['after 1 step']['peak_mib']:.0f}", f"**{end['peak_mib']:.0f}**",
                     f"{end['peak_mib'] - base['rss_mib']:.0f}", f"{end['rss_mib']:.0f}"])
    return common.markdown_table(headers, rows) + "\n\nAll figures in MiB."


def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200,
                        help="training steps of batch 64 per process (default %(default)s; "
                             "844 = one epoch of 54,000 images)")
    parser.add_argument("--cold", action="store_true",
                        help="also run minicnn with an empty Numba cache (compile memory)")
    parser.add_argument("--child", choices=("minicnn", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        common.configure_threads_env_only(args.threads)
        common.apply_malloc(args)
        return child(args.child, args.steps, args.threads)
    if args.quick:
        args.steps = min(args.steps, 5)

    threads = common.configure_threads(args.threads)
    torch = common.import_torch(disabled=args.no_torch)
    malloc = common.apply_malloc(args)
    info = common.machine_info(threads)
    info["malloc"] = malloc
    common.log(common.format_machine(info))

    results = {}
    results["minicnn"] = run_child("minicnn", args.steps, threads, default_malloc=args.default_malloc)
    common.log(f"  minicnn: peak {results['minicnn'][f'after {args.steps} steps']['peak_mib']:.0f} MiB")
    if args.cold:
        cache_dir = tempfile.mkdtemp(prefix="minicnn-numba-cache-")
        try:
            results["minicnn, cold Numba cache"] = run_child(
                "minicnn", args.steps, threads, {"NUMBA_CACHE_DIR": cache_dir},
                default_malloc=args.default_malloc)
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
    if torch is not None:
        results["PyTorch"] = run_child("torch", args.steps, threads, default_malloc=args.default_malloc)
        common.log(f"  PyTorch: peak {results['PyTorch'][f'after {args.steps} steps']['peak_mib']:.0f} MiB")

    md = [f"# Memory benchmark{' (QUICK)' if args.quick else ''}", "",
          f"Command: `{common.command_line()}`", "", common.format_machine(info), "",
          f"The lecture's CNN, batch 64, float32, Adam; {args.steps} training steps on random "
          "batches, each framework in its own fresh process. Peak = `ru_maxrss`; baseline = "
          "current RSS after importing NumPy and the framework.", "",
          table(results, args.steps), ""]
    md_path = common.output_path(args, "memory", "md")
    common.write_text(md_path, "\n".join(md))
    common.write_json(common.output_path(args, "memory", "json"),
                      {"command": common.command_line(), "machine": info, "steps": args.steps,
                       "results": results})
    common.log(table(results, args.steps))
    common.log(f"wrote {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
