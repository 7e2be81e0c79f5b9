"""Peak memory (resident set size) of training the lecture's CNN (or ``--model``), minicnn
against PyTorch, each in its own fresh process.

    python benchmarks/memory.py               # 200 steps of batch 64 each (about a minute)
    python benchmarks/memory.py --model resnet20 --steps 50 --no-layers   # batch 128
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

A second study measures one convolution layer (issue 14's large-image cases: 64->64 at
112x112, batch 32, and 3->64 at 224x224, batch 16; 3x3, padding 1, float32): the extra memory
of one forward + backward pass, i.e. the peak RSS during it minus the RSS just before it
(inputs, weight and upstream gradient already allocated; every kernel compiled on a tiny layer
first), and its time, each framework and minicnn method alone in a fresh process.

    python benchmarks/memory.py --layers-only # the convolution study only (about a minute)

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


def reset_peak_rss() -> bool:
    """Start a new peak-RSS window (Linux >= 4.0: writing 5 to /proc/self/clear_refs resets
    VmHWM); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def window_peak_rss_mib() -> float:
    """VmHWM, the peak RSS since the last reset_peak_rss (else since the process started)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return peak_rss_mib()


def mark(marks: dict, name: str) -> None:
    marks[name] = {"rss_mib": rss_now_mib(), "peak_mib": peak_rss_mib(), "time": time.time()}


def child(framework: str, steps: int, threads: int, model: str = "cnn",
          batch: int = BATCH) -> int:
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
    images = np.empty((batch, 1, 28, 28), dtype=np.float32)
    labels = np.empty(batch, dtype=np.int64)
    if framework == "minicnn":
        network, criterion, optimizer = minicnn_setup(model=model)
        train_step, _ = minicnn_step_fns(network, criterion, optimizer, images, labels)
    else:
        network, criterion, optimizer = torch_setup(torch, model=model)
        train_step, _ = torch_step_fns(torch, network, criterion, optimizer, images, labels)
    network.train()
    mark(marks, "model built")

    def next_batch():  # fill the arrays in place: the step functions hold views of them
        images[...] = rng.standard_normal(images.shape, dtype=np.float32)
        labels[...] = rng.integers(0, 10, size=batch)

    next_batch()
    train_step()
    mark(marks, "after 1 step")
    for _ in range(steps - 1):
        next_batch()
        train_step()
    mark(marks, f"after {steps} steps")
    print(json.dumps(marks), flush=True)
    return 0


LAYERS = ((32, 64, 64, 112), (16, 3, 64, 224))       # (N, C_in, C_out, H = W), 3x3, pad 1
QUICK_LAYERS = ((2, 8, 8, 16),)
LAYER_RUNS = (("minicnn", "fast"), ("minicnn", "im2col"), ("torch", None))


def conv_child(framework: str, method: str | None, shape: tuple, threads: int) -> int:
    """One conv forward + backward in this (fresh) process; print its memory and time."""
    import numpy as np
    n, c_in, c_out, size = shape
    if framework == "minicnn":
        from minicnn.functional import conv2d_backward, conv2d_forward

        def forward_backward(x, weight, bias, dout):
            out, cache = conv2d_forward(x, weight, bias, 1, 1, method=method)
            return out, conv2d_backward(dout, cache)
    else:
        import torch
        torch.set_num_threads(threads)

        def forward_backward(x, weight, bias, dout):
            xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, weight, bias))
            out = torch.nn.functional.conv2d(xt, wt, bt, padding=1)
            return out, torch.autograd.grad(out, (xt, wt, bt), torch.from_numpy(dout))

    def inputs(n, c_in, c_out, size):
        rng = np.random.default_rng(0)
        return (rng.standard_normal((n, c_in, size, size), dtype=np.float32),
                rng.standard_normal((c_out, c_in, 3, 3), dtype=np.float32),
                rng.standard_normal(c_out, dtype=np.float32),
                rng.standard_normal((n, c_out, size, size), dtype=np.float32))

    forward_backward(*inputs(2, c_in, c_out, 8))  # compile / load kernels, BLAS buffers
    arrays = inputs(n, c_in, c_out, size)
    before = rss_now_mib()
    windowed = reset_peak_rss()   # else the peak of importing and compiling would count
    t0 = time.perf_counter()
    result = forward_backward(*arrays)
    seconds = time.perf_counter() - t0
    peak = window_peak_rss_mib()
    del result
    print(json.dumps({"before_mib": before, "peak_mib": peak, "extra_mib": peak - before,
                      "seconds": seconds, "peak_since": "call" if windowed else "start"}),
          flush=True)
    return 0


def run_conv_child(framework: str, method: str | None, shape: tuple, threads: int,
                   default_malloc: bool) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--conv-child", framework,
           "--conv-method", method or "", "--conv-shape", ",".join(map(str, shape)),
           "--threads", str(threads)] + (["--default-malloc"] if default_malloc else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{framework} conv child failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def layer_study(layers, threads: int, default_malloc: bool,
                with_torch: bool = True) -> list[dict]:
    rows = []
    for shape in layers:
        for framework, method in LAYER_RUNS:
            if framework == "torch" and not with_torch:       # not installed, or --no-torch
                continue
            result = run_conv_child(framework, method, shape, threads, default_malloc)
            rows.append({"shape": shape, "framework": framework, "method": method} | result)
            common.log(f"  conv N={shape[0]} {shape[1]}->{shape[2]} {shape[3]}x{shape[3]} "
                       f"{framework}{' ' + method if method else ''}: extra "
                       f"{result['extra_mib']:.0f} MiB, {result['seconds']:.2f} s")
    return rows


def layer_table(rows: list[dict]) -> str:
    torch_rows = {tuple(r["shape"]): r for r in rows if r["framework"] == "torch"}
    body = []
    for r in rows:
        t = torch_rows.get(tuple(r["shape"]))
        n, c_in, c_out, size = r["shape"]
        name = "PyTorch" if r["framework"] == "torch" else f"minicnn {r['method']}"
        body.append([f"N={n} {c_in}->{c_out} {size}x{size}", name, f"{r['before_mib']:.0f}",
                     f"{r['peak_mib']:.0f}", f"**{r['extra_mib']:.0f}**",
                     f"{r['extra_mib'] / t['extra_mib']:.2f}x" if t else "–",
                     f"{r['seconds']:.2f}", f"{r['seconds'] / t['seconds']:.2f}x" if t else "–"])
    return common.markdown_table(
        ["layer (3x3, pad 1, float32)", "run", "RSS before (MiB)", "peak during the call (MiB)",
         "extra = peak - before (MiB)", "extra / PyTorch's", "fwd+bwd seconds",
         "time / PyTorch's"], body) + (
        "\n\nOne forward + backward per fresh process; peak = VmHWM after resetting it just "
        "before the call (/proc/self/clear_refs); the time is of that single call (first-touch "
        "page faults included, as in the first step of a training run).")


def run_child(framework: str, steps: int, threads: int, extra_env: dict | None = None,
              default_malloc: bool = False, model: str = "cnn", batch: int = BATCH) -> dict:
    env = dict(os.environ) | (extra_env or {})
    cmd = [sys.executable, os.path.abspath(__file__), "--child", framework, "--steps",
           str(steps), "--threads", str(threads), "--model", model, "--batch", str(batch)]
    cmd += ["--default-malloc"] if default_malloc else []
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
                        help="training steps per process (default %(default)s; "
                             "844 of batch 64 = one epoch of 54,000 images)")
    parser.add_argument("--model", choices=("cnn", "lenet5", "resnet20", "resnet32",
                                            "resnet56"), default="cnn",
                        help="the network trained (default: the lecture's CNN)")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size (default: train_step.py's for the model: 64 for "
                             "cnn, 256 for lenet5, 128 for the ResNets)")
    parser.add_argument("--cold", action="store_true",
                        help="also run minicnn with an empty Numba cache (compile memory)")
    parser.add_argument("--layers-only", action="store_true",
                        help="only the one-convolution study (no training run)")
    parser.add_argument("--no-layers", action="store_true",
                        help="skip the one-convolution study")
    parser.add_argument("--child", choices=("minicnn", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--conv-child", choices=("minicnn", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--conv-method", default="", help=argparse.SUPPRESS)
    parser.add_argument("--conv-shape", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from train_step import MODELS, describe
    args.batch = args.batch or MODELS[args.model][0]
    if args.model != "cnn" and not args.tag:
        args.tag = args.model               # the lecture CNN's outputs stay where they are
    if args.child:
        common.configure_threads_env_only(args.threads)
        common.apply_malloc(args)
        return child(args.child, args.steps, args.threads, args.model, args.batch)
    if args.conv_child:
        common.configure_threads_env_only(args.threads)
        common.apply_malloc(args)
        shape = tuple(int(v) for v in args.conv_shape.split(","))
        return conv_child(args.conv_child, args.conv_method or None, shape, args.threads)
    if args.quick:
        args.steps = min(args.steps, 5)

    threads = common.configure_threads(args.threads)
    torch = common.import_torch(disabled=args.no_torch)
    malloc = common.apply_malloc(args)
    info = common.machine_info(threads)
    info["malloc"] = malloc
    common.log(common.format_machine(info))

    results = {}
    layer_rows = []
    if not args.no_layers:
        layer_rows = layer_study(QUICK_LAYERS if args.quick else LAYERS, threads,
                                 args.default_malloc, with_torch=torch is not None)
    if not args.layers_only:
        results["minicnn"] = run_child("minicnn", args.steps, threads,
                                       default_malloc=args.default_malloc,
                                       model=args.model, batch=args.batch)
        common.log(f"  minicnn: peak "
                   f"{results['minicnn'][f'after {args.steps} steps']['peak_mib']:.0f} MiB")
    if args.cold and not args.layers_only:
        cache_dir = tempfile.mkdtemp(prefix="minicnn-numba-cache-")
        try:
            results["minicnn, cold Numba cache"] = run_child(
                "minicnn", args.steps, threads, {"NUMBA_CACHE_DIR": cache_dir},
                default_malloc=args.default_malloc, model=args.model, batch=args.batch)
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
    if torch is not None and not args.layers_only:
        results["PyTorch"] = run_child("torch", args.steps, threads,
                                       default_malloc=args.default_malloc, model=args.model,
                                       batch=args.batch)
        common.log(f"  PyTorch: peak {results['PyTorch'][f'after {args.steps} steps']['peak_mib']:.0f} MiB")

    md = [f"# Memory benchmark{' (QUICK)' if args.quick else ''}", "",
          f"Command: `{common.command_line()}`", "", common.format_machine(info), ""]
    if results:
        md += [f"{describe(args)}; {args.steps} training steps on "
               "random batches, each framework in its own fresh process. Peak = `ru_maxrss`; "
               "baseline = current RSS after importing NumPy and the framework.", "",
               table(results, args.steps), ""]
    if layer_rows:
        md += ["## One convolution layer: extra memory of forward + backward", "",
               layer_table(layer_rows), ""]
    md_path = common.output_path(args, "memory", "md")
    common.write_text(md_path, "\n".join(md))
    common.write_json(common.output_path(args, "memory", "json"),
                      {"command": common.command_line(), "machine": info, "steps": args.steps,
                       "results": results, "layers": layer_rows})
    if results:
        common.log(table(results, args.steps))
    if layer_rows:
        common.log(layer_table(layer_rows))
    common.log(f"wrote {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
