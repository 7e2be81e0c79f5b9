"""A network's training step and inference pass, float32, minicnn against PyTorch in the same
run with the same thread count (the lecture's CNN at batch 64 by default; ``--model lenet5``,
batch 256, or ``--model resnet20``, batch 128, on 1x28x28 images); where minicnn's time goes, layer
by layer; and start-up time (process start to the end of the first training step), cold
(empty Numba cache: everything compiles) and warm (cache hit).

    python benchmarks/train_step.py           # about 2 minutes on 2 cores (the cold start-up
                                              # compiles every Numba kernel once)
    python benchmarks/train_step.py --quick   # seconds; the figures mean nothing
    python benchmarks/train_step.py --model resnet20 --threads 1 --no-startup --tag resnet20
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/train_step.py --tag coretype-unset

A training step is: zero_grad, forward, cross-entropy loss, backward, an optimiser step:
Adam (lr 1e-3, weight_decay 1e-4, the lecture's recipe), or for the ResNets the SGD of their
recipe (lr 0.1, momentum 0.9, weight_decay 5e-4; ``benchmarks/recipe.py``). PyTorch's LeNet-5
and ResNets are the tests' twins (``tests/support/torch_models.py``). Inference is a forward pass in eval mode (PyTorch:
under ``torch.inference_mode()``). Both frameworks get the same random batch (normal images,
uniform labels) and ``--threads`` threads: PyTorch's intra-op pool, Numba and BLAS (through
threadpoolctl) alike.

The per-layer breakdown times each leaf module's forward and backward inside real training
steps, alternating one minicnn step and one PyTorch step: minicnn's ``forward``/``backward``
methods are wrapped on the instances; PyTorch's modules get forward and full-backward hooks
(conv1's input needs no gradient, as in any training loop, so its backward is the tail of
``loss.backward()``). Plus the loss, zero_grad and the optimiser step; "unattributed" is the
step time no timer saw (containers, hooks, Python).

A cProfile listing of minicnn's step (own time per function) shows which Python functions and
kernels the time lands in.

Thread scaling (``--scaling``): each framework alone in a fresh process per thread count
(``--scaling-threads``, default 1 and 2), timing training steps only; nothing else runs in
that process, so neither framework's thread pool competes with the other's.

    python benchmarks/train_step.py --scaling --tag scaling   # about 2 minutes

Outputs in ``--out`` (default benchmarks/results/): train_step[_TAG].md, .json, and
train_step_layers[_TAG].png (bar chart of the per-layer times); with ``--scaling``,
train_step_scaling[_TAG].md and .json instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import _common as common
from minicnn.cores import IDLE_THREAD_SETTINGS

BATCH = 64            # the lecture's
TRAIN_TARGET = 1.3   # issue 14: training-step throughput / PyTorch's, one thread

#: ``--model``: (default batch, its name in the reports, issue 27's training-step target).
MODELS = {"cnn": (BATCH, "The lecture's CNN", TRAIN_TARGET),
          "lenet5": (256, "LeNet-5", 1.0),
          "resnet20": (128, "ResNet-20", 1.2),
          "resnet32": (128, "ResNet-32", None),
          "resnet56": (128, "ResNet-56", None)}


def describe(args) -> str:
    """What a report measures, e.g. "ResNet-20, batch 128, float32, SGD"."""
    optimiser = "SGD" if args.model.startswith("resnet") else "Adam"
    return f"{MODELS[args.model][1]}, batch {args.batch}, 1x28x28, float32, {optimiser}"


# ---------------------------------------------------------------------------------------------
# The two models
# ---------------------------------------------------------------------------------------------

def make_batch(n: int = BATCH, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=n, dtype=np.int64)
    return images, labels


def minicnn_setup(conv_method=None, seed: int = 0, model: str = "cnn"):
    """The lecture's CNN (or ``model``), CrossEntropyLoss and Adam(lr=1e-3, weight_decay=1e-4)
    in minicnn; the ResNets with SGD(lr=0.1, momentum=0.9, weight_decay=5e-4)."""
    import numpy as np
    from minicnn import nn, optim
    from minicnn.models import CNN, build
    kwargs = {"rng": np.random.default_rng(seed)}
    if conv_method is not None:
        kwargs["conv_method"] = conv_method
    if model == "cnn":
        network = CNN(num_classes=10, dropout=0.4, **kwargs)
    else:
        network = build(model, num_classes=10, in_channels=1, image_size=28, **kwargs)
    criterion = nn.CrossEntropyLoss()
    network.input_layer().input_gradient = False     # as in training: the images need none
    if model.startswith("resnet"):
        optimizer = optim.SGD(network.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    else:
        optimizer = optim.Adam(network.parameters(), lr=1e-3, weight_decay=1e-4)
    return network, criterion, optimizer


def minicnn_step_fns(model, criterion, optimizer, images, labels):
    def train_step():
        optimizer.zero_grad()
        logits = model(images)
        loss = criterion(logits, labels)
        model.backward(criterion.backward())
        optimizer.step()
        return loss

    def inference():
        return model(images)

    return train_step, inference


def torch_setup(torch, seed: int = 0, model: str = "cnn"):
    """The lecture's PyTorch model (section 7), verbatim, with the same loss and optimiser; or
    the tests' PyTorch twin of ``model`` with the optimiser ``minicnn_setup`` gives it."""
    nn = torch.nn
    if model != "cnn":
        network = common.torch_twin(torch, model, seed, num_classes=10, in_channels=1)
        if model.startswith("resnet"):
            optimizer = torch.optim.SGD(network.parameters(), lr=0.1, momentum=0.9,
                                        weight_decay=5e-4)
        else:
            optimizer = torch.optim.Adam(network.parameters(), lr=1e-3, weight_decay=1e-4)
        return network, nn.CrossEntropyLoss(), optimizer

    class CNN(nn.Module):
        def __init__(self, num_classes=10, dropout=0.4):
            super().__init__()
            self.conv_block1 = nn.Sequential(
                nn.Conv2d(in_channels=1, out_channels=32, kernel_size=3, padding=1),
                nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(kernel_size=2))
            self.conv_block2 = nn.Sequential(
                nn.Conv2d(in_channels=32, out_channels=64, kernel_size=3, padding=1),
                nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(kernel_size=2))
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.BatchNorm1d(256), nn.ReLU(),
                nn.Dropout(dropout), nn.Linear(256, num_classes))

        def forward(self, x):
            return self.classifier(self.conv_block2(self.conv_block1(x)))

    torch.manual_seed(seed)
    model = CNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    return model, criterion, optimizer


def torch_step_fns(torch, model, criterion, optimizer, images, labels):
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    def inference():
        with torch.inference_mode():
            return model(x)

    return train_step, inference


# ---------------------------------------------------------------------------------------------
# Throughput
# ---------------------------------------------------------------------------------------------

def throughput(args, torch) -> dict:
    """Median time of a training step and of inference, for each framework, interleaved in
    rounds so that both see the same machine load."""
    images, labels = make_batch(args.batch)
    fns = {}
    model, criterion, optimizer = minicnn_setup(args.conv_method, model=args.model)
    fns["minicnn"] = (model,) + minicnn_step_fns(model, criterion, optimizer, images, labels)
    if torch is not None:
        tmodel, tcriterion, toptimizer = torch_setup(torch, model=args.model)
        fns["torch"] = (tmodel,) + torch_step_fns(torch, tmodel, tcriterion, toptimizer,
                                                  images, labels)
    results = {name: {} for name in fns}
    repeats = 4 if args.quick else args.repeats * args.rounds
    for kind, index in (("train", 1), ("inference", 2)):
        for mdl, *_ in fns.values():
            mdl.train(kind == "train")
        timings = common.measure_interleaved({name: f[index] for name, f in fns.items()},
                                             repeats=repeats, warmup=2, min_repeat_time=0)
        for name, timing in timings.items():
            results[name][kind] = timing.times
    for mdl, *_ in fns.values():
        mdl.train()
    out = {}
    for name, res in results.items():
        out[name] = {}
        for kind, times in res.items():
            timing = common.Timing(times)
            out[name][kind] = timing.to_dict() | {"images_per_s": args.batch / timing.median}
            common.log(f"  {name:>7} {kind:>9}: {timing.median * 1e3:8.2f} ms "
                       f"(IQR {timing.iqr_text()} ms, n={timing.repeats}) = "
                       f"{args.batch / timing.median:8.0f} images/s")
    return out


# ---------------------------------------------------------------------------------------------
# Per-layer breakdown
# ---------------------------------------------------------------------------------------------

def leaf_modules(module, prefix: str = ""):
    """``(dotted_name, module)`` for every module without children, in forward order."""
    children = list(module.named_children()) if hasattr(module, "named_children") else []
    if not children:
        yield prefix or type(module).__name__, module
        return
    for name, child in children:
        yield from leaf_modules(child, f"{prefix}.{name}" if prefix else name)


class LayerTimer:
    """Wraps ``forward`` and ``backward`` of each leaf module instance and adds up seconds.

    Records per step: ``begin_step()`` starts a new record, ``times[(name, pass)]`` holds one
    total per step.
    """

    def __init__(self):
        self.current: dict = {}
        self.steps: list[dict] = []

    def wrap(self, name: str, obj, method: str, key_pass: str):
        original = getattr(obj, method)
        key = (name, key_pass)
        current = self  # closure over the timer, not over a dict that is replaced per step

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                current.current[key] = current.current.get(key, 0.0) + time.perf_counter() - t0

        setattr(obj, method, timed)
        return key

    def begin_step(self):
        self.current = {}

    def end_step(self):
        self.steps.append(self.current)

    def medians(self) -> dict:
        import statistics
        keys = {k for step in self.steps for k in step}
        return {k: statistics.median(step.get(k, 0.0) for step in self.steps) for k in keys}


def minicnn_layer_step(args):
    """A minicnn training step whose leaf modules, loss and optimiser are wrapped by a
    LayerTimer. Returns ``(step, timer, order)``; ``step()`` returns the step's seconds."""
    images, labels = make_batch(args.batch)
    model, criterion, optimizer = minicnn_setup(args.conv_method, model=args.model)
    train_step, _ = minicnn_step_fns(model, criterion, optimizer, images, labels)
    model.train()
    for _ in range(3):  # compile and warm up before wrapping
        train_step()
    timer = LayerTimer()
    order = []
    for name, leaf in leaf_modules(model):
        order.append((name, type(leaf).__name__))
        timer.wrap(name, leaf, "forward", "fwd")
        timer.wrap(name, leaf, "backward", "bwd")
    timer.wrap(LOSS, criterion, "forward", "fwd")
    timer.wrap(LOSS, criterion, "backward", "bwd")
    timer.wrap(OPTIMIZER, optimizer, "zero_grad", "zero_grad")
    timer.wrap(OPTIMIZER, optimizer, "step", "step")

    def step():
        timer.begin_step()
        t0 = time.perf_counter()
        train_step()
        total = time.perf_counter() - t0
        timer.end_step()
        return total

    return step, timer, order


LOSS = "loss (CrossEntropyLoss)"
OPTIMIZER = "optimizer"


def torch_layer_step(torch, args):
    """A PyTorch training step timed per leaf module with hooks: forward = forward pre-hook
    to forward hook; backward = full backward pre-hook to full backward hook. conv1's input
    needs no gradient, so its backward hook fires early: its backward is taken as the rest of
    ``loss.backward()`` after its pre-hook. Returns ``(step, timer, order)``."""
    images, labels = make_batch(args.batch)
    model, criterion, optimizer = torch_setup(torch, model=args.model)
    model.train()
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    timer = LayerTimer()
    leaves = list(leaf_modules(model))
    started: dict = {}
    first_name = leaves[0][0]
    last_name = leaves[-1][0]

    def add(key, seconds):
        timer.current[key] = timer.current.get(key, 0.0) + seconds

    for name, leaf in leaves:
        leaf.register_forward_pre_hook(
            lambda mod, inp, name=name: started.__setitem__((name, "fwd"), time.perf_counter()))
        leaf.register_forward_hook(
            lambda mod, inp, out, name=name: add(
                (name, "fwd"), time.perf_counter() - started[(name, "fwd")]))
        leaf.register_full_backward_pre_hook(
            lambda mod, gout, name=name: started.__setitem__((name, "bwd"), time.perf_counter()))
        if name != first_name:
            leaf.register_full_backward_hook(
                lambda mod, gin, gout, name=name: add(
                    (name, "bwd"), time.perf_counter() - started[(name, "bwd")]))

    def step():
        timer.begin_step()
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        logits = model(x)
        t2 = time.perf_counter()
        loss = criterion(logits, y)
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        optimizer.step()
        t5 = time.perf_counter()
        add((OPTIMIZER, "zero_grad"), t1 - t0)
        add((LOSS, "fwd"), t3 - t2)
        add((LOSS, "bwd"), started[(last_name, "bwd")] - t3)
        add((first_name, "bwd"), t4 - started[(first_name, "bwd")])
        add((OPTIMIZER, "step"), t5 - t4)
        timer.end_step()
        return t5 - t0

    import warnings
    with warnings.catch_warnings():  # conv1's early backward hook: expected, handled above
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(3):
            step()
    timer.steps.clear()
    return step, timer, [(n, type(m).__name__) for n, m in leaves]


def layer_breakdown(args, torch) -> dict:
    """Median seconds per step in each leaf module's forward and backward, the loss, zero_grad
    and Adam's step, for minicnn and PyTorch, inside real training steps that alternate between
    the two (so both see the same machine load)."""
    import statistics
    import warnings
    steps = 3 if args.quick else args.layer_steps
    runners = {"minicnn": minicnn_layer_step(args)}
    if torch is not None:
        runners["torch"] = torch_layer_step(torch, args)
    totals = {name: [] for name in runners}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            for name, (step, _, _) in runners.items():
                totals[name].append(step())
    out = {}
    for name, (_, timer, order) in runners.items():
        unattributed = [total - sum(record.values())
                        for total, record in zip(totals[name], timer.steps)]
        out[name] = {"order": order,
                     "medians": {f"{k[0]}|{k[1]}": v for k, v in timer.medians().items()},
                     "step_median": statistics.median(totals[name]),
                     "unattributed": statistics.median(unattributed), "steps": steps}
    return out


def layer_table(mini: dict, tor: dict | None) -> tuple[str, list]:
    """Rows: one per layer (forward and backward), then loss, optimiser and the remainder."""
    rows = []
    names = [(n, kind) for n, kind in mini["order"]]
    names += [(LOSS, "loss"), (OPTIMIZER, "optimiser")]
    total = mini["step_median"]
    data = []
    for name, kind in names:
        for pass_name in ("fwd", "bwd", "zero_grad", "step"):
            key = f"{name}|{pass_name}"
            if key not in mini["medians"]:
                continue
            t = mini["medians"][key]
            tt = tor["medians"].get(key) if tor else None
            data.append({"layer": name, "kind": kind, "pass": pass_name, "minicnn_s": t,
                         "torch_s": tt})
            rows.append([name, kind, pass_name, common.fmt(t * 1e3),
                         common.fmt(100 * t / total, 2),
                         common.fmt(tt * 1e3) if tt is not None else "–",
                         (common.fmt(t / tt) + "x") if tt else "–"])
    rest = mini["unattributed"]
    data.append({"layer": "unattributed", "kind": "", "pass": "", "minicnn_s": rest,
                 "torch_s": tor["unattributed"] if tor else None})
    rows.append(["unattributed (containers, hooks, Python)", "", "", common.fmt(rest * 1e3),
                 common.fmt(100 * rest / total, 2),
                 common.fmt(tor["unattributed"] * 1e3) if tor else "–", "–"])
    rows.append(["**whole training step**", "", "", f"**{common.fmt(total * 1e3)}**", "100",
                 f"**{common.fmt(tor['step_median'] * 1e3)}**" if tor else "–",
                 f"**{common.fmt(total / tor['step_median'])}x**" if tor else "–"])
    headers = ["layer", "module", "pass", "minicnn ms", "% of minicnn step", "PyTorch ms",
               "minicnn / PyTorch"]
    return common.markdown_table(headers, rows, align="lllrrrr"), data


def plot_layers(data: list, path, title: str, batch: int = BATCH) -> None:
    plt = common.pyplot()
    import numpy as np
    rows = [d for d in data if d["layer"] != "unattributed"]
    labels = [f"{d['layer']} {d['pass']}" for d in rows]
    mini = np.array([d["minicnn_s"] * 1e3 for d in rows])
    tor = np.array([(d["torch_s"] or 0.0) * 1e3 for d in rows])
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.5))
    ax.barh(y - 0.2, mini, height=0.4, label="minicnn", color="tab:blue")
    if tor.any():
        ax.barh(y + 0.2, tor, height=0.4, label="PyTorch", color="tab:green")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"ms per training step (batch {batch})")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def profile_minicnn(args, top: int = 25) -> tuple[str, list]:
    """cProfile over ``--profile-steps`` warm training steps: the functions with the most
    time of their own (tottime), per step. Returns (text report, rows for the table)."""
    import cProfile
    import io
    import pstats
    images, labels = make_batch(args.batch)
    model, criterion, optimizer = minicnn_setup(args.conv_method, model=args.model)
    train_step, _ = minicnn_step_fns(model, criterion, optimizer, images, labels)
    model.train()
    for _ in range(3):
        train_step()
    steps = 2 if args.quick else args.profile_steps
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        train_step()
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _) in sorted(
            stats.stats.items(), key=lambda item: -item[1][2])[:top]:
        where = os.path.relpath(filename, common.REPO_DIR) if filename.startswith(
            str(common.REPO_DIR)) else os.path.basename(filename)
        rows.append({"function": f"{where}:{line}({func})" if line else func,
                     "calls_per_step": nc / steps, "tottime_ms_per_step": 1e3 * tt / steps,
                     "cumtime_ms_per_step": 1e3 * ct / steps})
    return f"cProfile of {steps} minicnn training steps\n\n" + stream.getvalue(), rows


def profile_table(rows: list, limit: int = 15) -> str:
    body = [[f"`{r['function']}`", common.fmt(r["calls_per_step"]),
             common.fmt(r["tottime_ms_per_step"]), common.fmt(r["cumtime_ms_per_step"])]
            for r in rows[:limit]]
    return common.markdown_table(["function", "calls / step", "own ms / step",
                                  "cumulative ms / step"], body)


# ---------------------------------------------------------------------------------------------
# Start-up time
# ---------------------------------------------------------------------------------------------

def scaling_child(framework: str, steps: int, conv_method, model: str = "cnn",
                  batch: int = BATCH) -> int:
    """Time ``steps`` training steps (after 3 warm-up steps) of one framework in this fresh
    process, with the thread counts already set in the environment; print them as JSON."""
    import numpy as np
    images, labels = make_batch(batch)
    if framework == "minicnn":
        from minicnn.train import set_threads
        set_threads(int(os.environ["OMP_NUM_THREADS"]))     # minicnn's own layers too
        network, criterion, optimizer = minicnn_setup(conv_method, model=model)
        train_step, _ = minicnn_step_fns(network, criterion, optimizer, images, labels)
    else:
        torch = common.import_torch()
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        network, criterion, optimizer = torch_setup(torch, model=model)
        train_step, _ = torch_step_fns(torch, network, criterion, optimizer, images, labels)
    network.train()
    times = []
    for step in range(3 + steps):
        t0 = time.perf_counter()
        train_step()
        if step >= 3:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "median": float(np.median(times))}), flush=True)
    return 0


def scaling(args) -> int:
    """A training step on 1, 2, ... threads, each framework alone in a fresh process; both
    frameworks take turns thread count by thread count, so they see similar machine load."""
    rows = []
    frameworks = ["minicnn"] + ([] if args.no_torch or common.import_torch() is None
                                else ["torch"])
    steps = 3 if args.quick else args.scaling_steps
    for threads in args.scaling_threads:
        for framework in frameworks:
            busy = common.cpu_busy_fraction(1.0)
            cmd = [sys.executable, os.path.abspath(__file__), "--scaling-child", framework,
                   "--threads", str(threads), "--scaling-steps", str(steps),
                   "--model", args.model, "--batch", str(args.batch)]
            if args.conv_method:
                cmd += ["--conv-method", args.conv_method]
            env = dict(os.environ)
            for var in common.THREAD_ENV_VARS:
                env[var] = str(threads)
            if framework == "minicnn":      # as `minicnn train` sets them; PyTorch keeps its
                for var, value in IDLE_THREAD_SETTINGS.items():     # own OpenMP defaults
                    env.setdefault(var, value)
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"scaling child failed:\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append({"framework": framework, "threads": threads,
                         "other_cpu_busy_before": busy} | result)
            common.log(f"  {framework:>7} {threads} threads: {result['median'] * 1e3:.1f} ms "
                       f"a step (machine {busy:.0%} busy before)" if busy is not None else "")
    one = {r["framework"]: r["median"] for r in rows if r["threads"] == 1}
    body = []
    for r in rows:
        timing = common.Timing(r["times"])
        body.append([r["framework"].replace("torch", "PyTorch"), r["threads"],
                     f"{timing.median * 1e3:.1f} ({timing.q1 * 1e3:.1f}–{timing.q3 * 1e3:.1f})",
                     f"{args.batch / timing.median:.0f}",
                     f"{one[r['framework']] / timing.median:.2f}x" if r["framework"] in one
                     else "–",
                     "–" if r.get("other_cpu_busy_before") is None
                     else f"{r['other_cpu_busy_before']:.0%}"])
    table = common.markdown_table(["framework", "threads", "step ms (IQR)", "images/s",
                                   "speedup over 1 thread", "cores busy before (all jobs)"],
                                  body)
    info = common.machine_info(None)
    md = [f"# Training step against threads{' (QUICK)' if args.quick else ''}", "",
          f"Command: `{common.command_line()}`", "", common.format_machine(info), "",
          f"{describe(args)}; {steps} timed steps after 3 warm-up "
          "steps, each framework and thread count alone in a fresh process (thread counts set "
          f"in the environment before import). This machine has {os.cpu_count()} cores, "
          "shared with other jobs: the busy column is the whole machine's load just before "
          "each process started.", "", table, ""]
    md_path = common.output_path(args, "train_step_scaling", "md")
    common.write_text(md_path, "\n".join(md))
    common.write_json(common.output_path(args, "train_step_scaling", "json"),
                      {"command": common.command_line(), "machine": info, "rows": rows})
    common.log(table)
    common.log(f"wrote {md_path}")
    return 0


def startup_child(conv_method) -> int:
    """Run in a fresh process: import minicnn, build the model, one training step; print
    timestamps (``time.time()``) as JSON on the last line of stdout."""
    marks = {"start": time.time()}
    import numpy  # noqa: F401
    marks["numpy_imported"] = time.time()
    from minicnn import nn, optim  # noqa: F401
    from minicnn.models import CNN  # noqa: F401
    marks["minicnn_imported"] = time.time()
    images, labels = make_batch()
    model, criterion, optimizer = minicnn_setup(conv_method)
    train_step, _ = minicnn_step_fns(model, criterion, optimizer, images, labels)
    marks["model_built"] = time.time()
    train_step()
    marks["first_step_done"] = time.time()
    train_step()
    marks["second_step_done"] = time.time()
    print(json.dumps(marks), flush=True)
    return 0


def run_startup(conv_method, cache_dir: str | None, threads: int) -> dict:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [sys.executable, os.path.abspath(__file__), "--startup-child", "--threads", str(threads)]
    if conv_method:
        cmd += ["--conv-method", conv_method]
    launched = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    exited = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"start-up child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    marks = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"to_first_step": marks["first_step_done"] - launched,
            "interpreter_start": marks["start"] - launched,
            "import_numpy": marks["numpy_imported"] - marks["start"],
            "import_minicnn": marks["minicnn_imported"] - marks["numpy_imported"],
            "build_model": marks["model_built"] - marks["minicnn_imported"],
            "first_step": marks["first_step_done"] - marks["model_built"],
            "second_step": marks["second_step_done"] - marks["first_step_done"],
            "process_total": exited - launched}


def startup(args) -> dict:
    """Cold: a fresh, empty NUMBA_CACHE_DIR (every kernel compiles). Warm: the same folder
    again (every kernel loads from the cache), median of several runs."""
    import statistics
    if args.quick:  # no cold compile in the smoke test: one run with the default cache
        return {"default_cache": run_startup(args.conv_method, None, args.threads)}
    cache_dir = tempfile.mkdtemp(prefix="minicnn-numba-cache-")
    try:
        cold = run_startup(args.conv_method, cache_dir, args.threads)
        common.log(f"  cold start: {cold['to_first_step']:.2f} s to the end of step 1")
        warm_runs = [run_startup(args.conv_method, cache_dir, args.threads)
                     for _ in range(args.warm_runs)]
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    warm = {k: statistics.median(r[k] for r in warm_runs) for k in warm_runs[0]}
    warm["runs"] = [r["to_first_step"] for r in warm_runs]
    common.log(f"  warm start: {warm['to_first_step']:.2f} s (median of {len(warm_runs)})")
    return {"cold": cold, "warm": warm}


def startup_table(res: dict) -> str:
    cols = [("to_first_step", "process start -> end of step 1"),
            ("interpreter_start", "interpreter start"), ("import_numpy", "import numpy"),
            ("import_minicnn", "import minicnn"), ("build_model", "build model"),
            ("first_step", "first training step"), ("second_step", "second training step")]
    rows = []
    for label, r in res.items():
        rows.append([label] + [f"{r[k]:.3f}" for k, _ in cols])
    return common.markdown_table(["run"] + [c for _, c in cols], rows)


# ---------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10,
                        help="timed steps per framework = repeats x rounds "
                             "(default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="multiplies --repeats: steps alternate between minicnn and "
                             "PyTorch (default %(default)s)")
    parser.add_argument("--layer-steps", type=int, default=20,
                        help="training steps for the per-layer breakdown (default %(default)s)")
    parser.add_argument("--warm-runs", type=int, default=3,
                        help="warm start-up runs (median) (default %(default)s)")
    parser.add_argument("--conv-method", default=None,
                        help="minicnn's conv method (default: the model's default)")
    parser.add_argument("--profile-steps", type=int, default=20,
                        help="training steps under cProfile (default %(default)s)")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timing")
    parser.add_argument("--startup-child", action="store_true", help=argparse_suppress())
    parser.add_argument("--scaling", action="store_true",
                        help="only the thread-scaling study (each framework and thread count "
                             "alone in a fresh process)")
    parser.add_argument("--scaling-threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts for --scaling (default %(default)s)")
    parser.add_argument("--scaling-steps", type=int, default=40,
                        help="timed steps per process for --scaling (default %(default)s)")
    parser.add_argument("--scaling-child", choices=("minicnn", "torch"), help=argparse_suppress())
    parser.add_argument("--model", choices=tuple(MODELS), default="cnn",
                        help="the network (default: the lecture's CNN); another model skips "
                             "the start-up timing, which is the lecture CNN's")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size (default: 64 for cnn, 256 for lenet5, 128 for the "
                             "ResNets)")
    args = parser.parse_args(argv)
    args.batch = args.batch or MODELS[args.model][0]
    if args.batch < 1:
        parser.error(f"--batch must be at least 1; got {args.batch}")
    if args.model != "cnn":
        args.no_startup = True
        if not args.tag:
            args.tag = args.model           # the lecture CNN's outputs stay where they are

    if args.startup_child:
        common.configure_threads_env_only(args.threads)
        return startup_child(args.conv_method)
    if args.scaling_child:
        common.configure_threads_env_only(args.threads)
        common.apply_malloc(args)
        return scaling_child(args.scaling_child, args.scaling_steps, args.conv_method,
                             args.model, args.batch)
    if args.scaling:
        return scaling(args)

    threads = common.configure_threads(args.threads)
    torch = common.import_torch(disabled=args.no_torch)
    info = common.start_run(args, threads)

    common.log(f"throughput ({describe(args)}):")
    tp = throughput(args, torch)
    info["numba_threading_layer"] = common._numba_threading_layer()
    common.log("per-layer breakdown:")
    layers = layer_breakdown(args, torch)
    mini_layers, tor_layers = layers["minicnn"], layers.get("torch")
    layers_md, layer_data = layer_table(mini_layers, tor_layers)
    common.log(layers_md)
    common.log("cProfile:")
    profile_text, profile_rows = profile_minicnn(args)
    common.write_text(common.output_path(args, "train_step_profile", "txt"), profile_text)
    common.log(profile_table(profile_rows, 10))
    startup_res = None
    if not args.no_startup:
        common.log("start-up:")
        startup_res = startup(args)

    md = [f"# Training step benchmark{' (QUICK: the figures mean nothing)' if args.quick else ''}",
          "", f"Command: `{common.command_line()}`", "", common.format_machine(info), "",
          f"{describe(args)}. Median of "
          f"{tp['minicnn']['train']['repeats']} steps, alternating one minicnn step and one "
          "PyTorch step, IQR in brackets.", "",
          "## Throughput", ""]
    rows = []
    for kind, label in (("train", "training step"), ("inference", "inference (eval forward)")):
        m = tp["minicnn"][kind]
        row = [label, f"{m['median'] * 1e3:.2f} ({m['q1'] * 1e3:.2f}–{m['q3'] * 1e3:.2f})",
               f"{m['images_per_s']:.0f}"]
        if "torch" in tp:
            t = tp["torch"][kind]
            row += [f"{t['median'] * 1e3:.2f} ({t['q1'] * 1e3:.2f}–{t['q3'] * 1e3:.2f})",
                    f"{t['images_per_s']:.0f}", f"{m['images_per_s'] / t['images_per_s']:.2f}x"]
        else:
            row += ["–", "–", "–"]
        rows.append(row)
    md += [common.markdown_table(["", "minicnn ms", "minicnn images/s", "PyTorch ms",
                                  "PyTorch images/s", "minicnn throughput / PyTorch's"], rows), ""]
    summary = []
    target = MODELS[args.model][2]
    if "torch" in tp:
        ratio = tp["minicnn"]["train"]["images_per_s"] / tp["torch"]["train"]["images_per_s"]
        issue = "14" if args.model == "cnn" else "27"
        summary.append(f"- training throughput: {ratio:.2f}x PyTorch's" + (
            "" if target is None else f" (issue {issue}'s target >= {target}x on one thread) "
            f"-> {'MET' if ratio >= target else 'NOT MET'}"))
    md += ["## Where minicnn's training step goes", "",
           f"Median over {mini_layers['steps']} training steps, alternating one minicnn step and "
           "one PyTorch step, of the time inside each leaf module's forward and backward "
           "(minicnn: the methods wrapped on the instances; PyTorch: module hooks). The "
           "medians of the parts need not add up exactly to the median of the whole.", "",
           layers_md, ""]
    png = common.output_path(args, "train_step_layers", "png")
    plot_layers(layer_data, png, f"{describe(args)}, {threads} threads: per-layer time",
                args.batch)
    md += [f"![per-layer time]({png.name})", ""]
    md += ["## cProfile: where the Python time goes", "",
           "Functions with the most time of their own (not counting what they call) over "
           f"{2 if args.quick else args.profile_steps} warm training steps, per step; cProfile "
           "adds overhead to every Python call, so the total is larger than the step time "
           f"above. Full listing: `{common.output_path(args, 'train_step_profile', 'txt').name}`.",
           "", profile_table(profile_rows), ""]
    if startup_res:
        md += ["## Start-up: process start to the end of the first training step (seconds)", "",
               "cold = empty `NUMBA_CACHE_DIR` (every kernel compiles); warm = the same folder "
               "again (cache hit), median of runs.", "", startup_table(startup_res), ""]
        if "warm" in startup_res:
            w = startup_res["warm"]["to_first_step"]
            summary.append(f"- warm start-up: {w:.2f} s (target < 3 s) -> "
                           f"{'MET' if w < 3 else 'NOT MET'}; cold: "
                           f"{startup_res['cold']['to_first_step']:.1f} s")
    if summary:
        md += ["## Targets", "", *summary, ""]
    md_path = common.output_path(args, "train_step", "md")
    common.write_text(md_path, "\n".join(md))
    common.write_json(common.output_path(args, "train_step", "json"),
                      {"command": common.command_line(), "machine": info, "throughput": tp,
                       "layers": {"minicnn": mini_layers, "torch": tor_layers,
                                  "table": layer_data},
                       "startup": startup_res})
    common.log("\n".join(summary))
    common.log(f"wrote {md_path}")
    return 0


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
