"""Convolution speed: naive Python loops vs Numba loops vs im2col vs the chunked GEMM vs the
default "fast" method (Winograd or GEMM per layer) vs PyTorch, forward and forward+backward,
on the lecture's two layers and over a sweep of channels (1-256), image size (7-224), batch,
kernel size and stride, and a few large layers.

    python benchmarks/conv.py --threads 1     # the full study (15-20 minutes on 1 thread)
    python benchmarks/conv.py --no-sweep      # the lecture's layers only
    python benchmarks/conv.py --quick         # seconds: tiny sizes, the figures mean nothing
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv.py --tag coretype-unset

Each row gives the median of several repeats and its interquartile range, the effective rate
in GFLOP/s (the direct convolution's flops over the time: a forward pass is
2 * N * C_out * H_out * W_out * C_in * k * k flops, forward + backward counted as 3x that (2x
for a network's first layer, marked "no dx", whose backward computes no dx in training; a
layer marked "no bias", as ResNet's, has no bias and so no dL/db in either framework), dx
and dW each costing one forward's worth; Winograd does fewer multiplications, so its
effective rate can exceed the matrix-product rate), the rate as a percentage of this
machine's float32 matrix-product rate measured in the same run (best of several 2048 x 2048
``np.matmul``), the speedup over the naive loops, and the throughput as a multiple of
PyTorch's (PyTorch's time / the method's time: above 1 is faster than PyTorch).

The naive and loop methods run on the lecture's layers only (``--slow-everywhere`` to time
them on the sweep too: the loops take minutes on its wide layers).

The naive method is timed on a small batch (``--naive-batch``, default 2) and its time is
scaled linearly to the full batch: those rows are marked "extrapolated". Convolution cost is
exactly linear in N, so the extrapolation is sound, but it is not a measurement at N.

Outputs in ``--out`` (default benchmarks/results/): conv[_TAG].md (tables), conv[_TAG].json
(every timing), conv[_TAG].png (time against problem size, log scale, one line per method).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import _common as common

METHOD_ORDER = ("naive", "loop", "im2col", "gemm", "fast", "torch")
METHOD_LABEL = {"naive": "naive (Python loops)", "loop": "loop (Numba)", "im2col": "im2col",
                "gemm": "gemm (chunked im2col)", "fast": "fast (default)", "torch": "PyTorch"}
SLOW_METHODS = ("naive", "loop")
PASSES = ("fwd", "fwd+bwd")


@dataclass(frozen=True)
class ConvCase:
    """One convolution problem: input (n, c_in, size, size), weight (c_out, c_in, k, k)."""
    name: str
    group: str          # "lecture", "large", "networks" or the swept parameter: channels,
                        # size, batch, kernel (kernel size and stride)
    n: int
    c_in: int
    c_out: int
    size: int
    k: int
    stride: int = 1
    pad: int | None = None      # None: k // 2, "same" padding
    input_gradient: bool = True     # False: a network's first layer, whose backward (in
    #                                 training, both frameworks) computes dW and db only
    bias: bool = True               # False: the layer has no bias (ResNet's), so no dL/db

    @property
    def padding(self) -> int:
        return self.k // 2 if self.pad is None else self.pad

    @property
    def slow(self) -> bool:
        """Too big for the naive and loop methods (timed on the lecture's layers only)."""
        return self.group != "lecture"

    @property
    def out_size(self) -> int:
        return (self.size + 2 * self.padding - self.k) // self.stride + 1

    def flops(self, n: int | None = None) -> float:
        """Forward flops: 2 * N * C_out * H_out * W_out * C_in * k * k."""
        n = self.n if n is None else n
        return 2.0 * n * self.c_out * self.out_size ** 2 * self.c_in * self.k ** 2

    def label(self) -> str:
        return (f"N={self.n} {self.c_in}->{self.c_out} {self.size}x{self.size} "
                f"k={self.k} p={self.padding}" + (f" s={self.stride}" if self.stride > 1 else "")
                + ("" if self.input_gradient else " (no dx)")
                + ("" if self.bias else " (no bias)"))


def lecture_cases(quick: bool) -> list[ConvCase]:
    n = 4 if quick else 64
    return [ConvCase("conv1", "lecture", n, 1, 32, 28, 3),
            ConvCase("conv2", "lecture", n, 32, 64, 14, 3)]


def sweep_cases(quick: bool) -> list[ConvCase]:
    """3x3, padding 1 unless said. Channels at conv2's 14x14, N=64; image sizes 7-224 at
    32->64 with the batch scaled so that N * H * W (and so the work) stays that of N=64 at
    28x28; batch sizes at conv2; kernel sizes and stride 2 at conv2; and large layers (issue
    14's, at a smaller batch where the full one would take seconds per call)."""
    if quick:
        return [ConvCase("batch=2", "batch", 2, 4, 8, 8, 3),
                ConvCase("channels=8->8", "channels", 2, 8, 8, 6, 3),
                ConvCase("stride=2", "kernel", 2, 4, 8, 8, 3, stride=2)]
    cases = []
    for c_in, c_out in ((1, 32), (3, 64), (8, 16), (16, 32), (32, 64), (64, 128), (128, 256),
                        (256, 256)):
        cases.append(ConvCase(f"channels={c_in}->{c_out}", "channels", 64, c_in, c_out, 14, 3))
    for size in (7, 14, 28, 56, 112, 224):
        n = max(1, 64 * 28 * 28 // (size * size))
        cases.append(ConvCase(f"size={size}", "size", n, 32, 64, size, 3))
    for n in (1, 8, 32, 128):
        cases.append(ConvCase(f"batch={n}", "batch", n, 32, 64, 14, 3))
    for k in (1, 5, 7):
        cases.append(ConvCase(f"kernel={k}", "kernel", 64, 32, 64, 14, k))
    cases.append(ConvCase("stride=2", "kernel", 64, 32, 64, 28, 3, stride=2))
    cases += [ConvCase("64->64 32x32", "large", 64, 64, 64, 32, 3),
              ConvCase("64->64 64x64", "large", 32, 64, 64, 64, 3),
              ConvCase("3->64 32x32", "large", 64, 3, 64, 32, 3),
              ConvCase("64->64 112x112", "large", 8, 64, 64, 112, 3),
              ConvCase("3->64 224x224", "large", 4, 3, 64, 224, 3)]
    return cases


def network_cases(quick: bool) -> list[ConvCase]:
    """Every distinct conv layer of LeNet-5 (batch 64, 28x28) and of ResNet-20/32/56 (batch
    128; all three depths have the same layer shapes) on 32x32 RGB and 28x28 grey images:
    narrow 5x5 layers without padding, 3x3 stride-2 layers and 1x1 stride-2 shortcuts."""
    if quick:
        return [ConvCase("lenet5 conv2", "networks", 2, 6, 16, 14, 5, pad=0)]
    cases = []
    for batch in (64, 256):                 # 256: benchmarks/train_step.py --model lenet5
        cases += [ConvCase(f"lenet5 conv1 N={batch}", "networks", batch, 1, 6, 28, 5,
                           input_gradient=False),
                  ConvCase(f"lenet5 conv2 N={batch}", "networks", batch, 6, 16, 14, 5, pad=0)]
    for size, channels in ((32, 3), (28, 1)):
        half, quarter = (size + 1) // 2, (size + 3) // 4
        layers = [("conv1", channels, 16, size, 3, 1), ("layer1", 16, 16, size, 3, 1),
                  ("layer2.0", 16, 32, size, 3, 2), ("layer2.0 shortcut", 16, 32, size, 1, 2),
                  ("layer2", 32, 32, half, 3, 1), ("layer3.0", 32, 64, half, 3, 2),
                  ("layer3.0 shortcut", 32, 64, half, 1, 2), ("layer3", 64, 64, quarter, 3, 1)]
        cases += [ConvCase(f"resnet {size}x{size} {name}", "networks", 128, c_in, c_out, side,
                           k, stride=stride, input_gradient=name != "conv1", bias=False)
                  for name, c_in, c_out, side, k, stride in layers]
    return cases


# ---------------------------------------------------------------------------------------------
# The functions being timed
# ---------------------------------------------------------------------------------------------

def make_inputs(case: ConvCase, n: int, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, case.c_in, case.size, case.size), dtype=np.float32)
    fan_in = case.c_in * case.k * case.k
    weight = (rng.standard_normal((case.c_out, case.c_in, case.k, case.k), dtype=np.float32)
              / np.float32(np.sqrt(fan_in)))
    bias = rng.standard_normal(case.c_out, dtype=np.float32) * np.float32(0.1)
    dout = rng.standard_normal((n, case.c_out, case.out_size, case.out_size), dtype=np.float32)
    return x, weight, (bias if case.bias else None), dout


def minicnn_fns(case: ConvCase, method: str, n: int):
    """``(forward, forward_backward)`` closures for one minicnn method on batch ``n``."""
    from minicnn.functional import conv2d_backward, conv2d_forward
    x, weight, bias, dout = make_inputs(case, n)

    def forward():
        return conv2d_forward(x, weight, bias, stride=case.stride, padding=case.padding,
                              method=method)

    def forward_backward():
        out, cache = forward()
        return conv2d_backward(dout, cache, input_gradient=case.input_gradient)

    return forward, forward_backward


def torch_fns(case: ConvCase, n: int):
    """PyTorch's ``conv2d``: forward without autograd; forward + backward through autograd
    for dx, dW and db (as a training step needs them; dW and db only for a first layer)."""
    torch = common.import_torch()
    import torch.nn.functional as F
    x, weight, bias, dout = (None if a is None else torch.from_numpy(a)
                             for a in make_inputs(case, n))
    xg, wg, bg = (None if t is None else t.clone().requires_grad_(True)
                  for t in (x, weight, bias))
    wanted = tuple(t for t in ((xg if case.input_gradient else None), wg, bg) if t is not None)
    if not case.input_gradient:
        xg = x                          # the images: no gradient, as in a training step

    def forward():
        with torch.no_grad():
            return F.conv2d(x, weight, bias, stride=case.stride, padding=case.padding)

    def forward_backward():
        out = F.conv2d(xg, wg, bg, stride=case.stride, padding=case.padding)
        return torch.autograd.grad(out, wanted, dout)

    return forward, forward_backward


def check_against_torch(case: ConvCase, methods, torch) -> dict:
    """Largest |difference| from PyTorch's output and gradients, per method, on a batch of 2
    (a benchmark of a wrong result is worthless)."""
    import numpy as np
    import torch.nn.functional as F
    from minicnn.functional import conv2d_backward, conv2d_forward
    x, weight, bias, dout = make_inputs(case, 2, seed=1)
    xt, wt, bt = (None if a is None else torch.from_numpy(a).requires_grad_(True)
                  for a in (x, weight, bias))
    out_t = F.conv2d(xt, wt, bt, stride=case.stride, padding=case.padding)
    grads_t = torch.autograd.grad(out_t, tuple(t for t in (xt, wt, bt) if t is not None),
                                  torch.from_numpy(dout))
    errors = {}
    for method in methods:
        out, cache = conv2d_forward(x, weight, bias, stride=case.stride, padding=case.padding,
                                    method=method)
        grads = conv2d_backward(dout, cache)
        err = float(np.max(np.abs(out - out_t.detach().numpy())))
        for g, gt in zip(grads, grads_t):
            err = max(err, float(np.max(np.abs(g - gt.numpy()))) / max(1.0, float(gt.abs().max())))
        errors[method] = err
    return errors


# ---------------------------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------------------------

def available_methods(torch) -> tuple[list[str], str | None]:
    """The minicnn methods that exist now (others are still being written), and why not."""
    try:
        from minicnn.functional import CONV_METHODS
    except ImportError as exc:  # conv.py not there yet
        return [], f"minicnn.functional.conv2d_forward not importable: {exc}"
    return [m for m in METHOD_ORDER if m in CONV_METHODS], None


def fast_algorithm_of(case: ConvCase) -> str:
    """Which algorithm minicnn's "fast" method runs on this layer ("pointwise", "direct",
    "winograd", "im2col" or "gemm")."""
    try:
        from minicnn.fast.conv import fast_algorithm
    except ImportError:
        return "?"
    import numpy as np
    return fast_algorithm((case.n, case.c_in, case.size, case.size),
                          (case.c_out, case.c_in, case.k, case.k), (case.stride, case.stride),
                          (case.padding, case.padding), np.float32)


def naive_work(case: ConvCase, n: int) -> float:
    """What the naive loops' time is proportional to: one Python iteration (and one small
    ``np.sum`` over a (C_in, k, k) window) per output value (n, o, i, j)."""
    return float(n * case.c_out * case.out_size ** 2)


def run_case(case: ConvCase, methods, args, naive_rate: dict) -> list[dict]:
    """Time every method on ``case``, forward and forward+backward; within a pass the
    methods are interleaved round by round (see ``common.measure_interleaved``)."""
    rows = []
    n_naive = min(case.n, args.naive_batch)
    if case.slow and not args.slow_everywhere:
        methods = [m for m in methods if m not in SLOW_METHODS]
    for pass_name in PASSES:
        fns, pending = {}, {}
        for method in methods:
            n_timed = n_naive if method == "naive" else case.n
            row = {"case": asdict(case) | {"label": case.label(), "flops_fwd": case.flops()},
                   "method": method, "pass": pass_name, "n_timed": n_timed,
                   "extrapolated": n_timed != case.n}
            if method == "fast":
                row["algorithm"] = fast_algorithm_of(case)
            rows.append(row)
            if method == "naive" and pass_name in naive_rate:
                predicted = naive_work(case, n_timed) / naive_rate[pass_name]
                if predicted > args.naive_max_seconds:
                    row["skipped"] = (f"predicted {predicted:.0f} s per call at N={n_timed} "
                                      f"> --naive-max-seconds {args.naive_max_seconds:g}")
                    continue
            if method == "torch":
                forward, forward_backward = torch_fns(case, n_timed)
            else:
                forward, forward_backward = minicnn_fns(case, method, n_timed)
            fns[method] = forward if pass_name == "fwd" else forward_backward
            pending[method] = row
        timings = common.measure_interleaved(
            fns, repeats=args.repeats, warmup={m: 0 if m == "naive" else 1 for m in fns},
            budget=args.budget * len(fns), min_repeats=min(3, args.repeats),
            min_repeat_time=0.0 if args.quick else 0.05)
        for method, timing in timings.items():
            row = pending[method]
            if method == "naive":
                naive_rate[pass_name] = naive_work(case, row["n_timed"]) / timing.median
            if row["extrapolated"]:
                timing = timing.scaled(case.n / row["n_timed"])
            row["timing"] = timing.to_dict()
            common.log(f"  {case.name:>18} {pass_name:>7} {method:>7}: "
                       f"{timing.median * 1e3:10.3f} ms (IQR {timing.iqr_text()} ms, "
                       f"{timing.repeats}x{timing.number})"
                       + (f"  [naive at N={row['n_timed']}, x{case.n / row['n_timed']:g}]"
                          if row["extrapolated"] else ""))
    return rows


def im2col_stages(case: ConvCase, args) -> dict | None:
    """Time each stage of minicnn's im2col convolution on ``case`` (interleaved), to show
    where its forward and backward time goes: the unfold, the three matrix products, the
    layout copies, the bias sum and the fold (col2im). Mirrors
    ``minicnn.functional.conv._conv2d_im2col_forward/_backward``; returns None (with a note)
    if the kernels' signatures have changed."""
    import numpy as np
    import minicnn.functional.conv as conv_module
    im2col = getattr(conv_module, "im2col", None)   # the unfold and fold that the im2col
    col2im = getattr(conv_module, "col2im", None)   # method uses (Numba kernel or NumPy twin)
    if im2col is None or col2im is None:
        try:
            from minicnn.kernels.conv import col2im, im2col
        except ImportError as exc:
            common.log(f"  (no stage breakdown: {exc})")
            return None
    impl = {name: f"{fn.__module__}.{getattr(fn, '__name__', '?')}"
            for name, fn in (("im2col", im2col), ("col2im", col2im))}
    x, weight, bias, dout = make_inputs(case, case.n)
    k, p, s, n, o = case.k, case.padding, case.stride, case.n, case.c_out
    h = case.out_size
    try:
        cols = im2col(x, k, k, s, s, p, p)
        w_mat = weight.reshape(o, -1)
        out_mat = w_mat @ cols
        dout_mat = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(o, -1)
        dcols = w_mat.T @ dout_mat
        col2im(dcols, n, case.c_in, case.size, case.size, k, k, s, s, p, p)
    except Exception as exc:  # noqa: BLE001  (the kernels are someone else's, still moving)
        common.log(f"  (no stage breakdown: {type(exc).__name__}: {exc})")
        return None
    per_image = getattr(conv_module, "_per_image", None)
    if per_image is not None and per_image(w_mat, cols, n):
        common.log(f"  ({case.name}: functional.conv multiplies image by image here; the stage "
                   f"breakdown models the one-product-per-batch path, so it is skipped)")
        return None
    out = np.empty((n, o, h, h), dtype=np.float32)
    stages = {
        "fwd: im2col (unfold)": lambda: im2col(x, k, k, s, s, p, p),
        "fwd: W_mat @ cols (GEMM)": lambda: w_mat @ cols,
        "fwd: (C_out,N,H,W) -> NCHW + bias": lambda: np.add(
            out_mat.reshape(o, n, h, h).transpose(1, 0, 2, 3), bias.reshape(1, -1, 1, 1),
            out=out),
        "bwd: dout NCHW -> (C_out, N*H*W)": lambda: dout.transpose(1, 0, 2, 3).reshape(o, -1),
        "bwd: db = sum": lambda: dout_mat.sum(axis=1),
        "bwd: dW = dout_mat @ cols.T (GEMM)": lambda: dout_mat @ cols.T,
        "bwd: dcols = W_mat.T @ dout_mat (GEMM)": lambda: w_mat.T @ dout_mat,
        "bwd: col2im (fold)": lambda: col2im(dcols, n, case.c_in, case.size, case.size,
                                             k, k, s, s, p, p),
    }
    if torch := common.import_torch(disabled=args.no_torch):
        fwd_t, fwdbwd_t = torch_fns(case, case.n)
        stages["PyTorch forward (reference)"] = fwd_t
        stages["PyTorch forward+backward (reference)"] = fwdbwd_t
    timings = common.measure_interleaved(stages, repeats=args.repeats, budget=args.budget * 4,
                                         min_repeat_time=0.0 if args.quick else 0.02)
    flops = {"fwd: W_mat @ cols (GEMM)": case.flops(),
             "bwd: dW = dout_mat @ cols.T (GEMM)": case.flops(),
             "bwd: dcols = W_mat.T @ dout_mat (GEMM)": case.flops()}
    result = {name: {"timing": t.to_dict(), "flops": flops.get(name)}
              for name, t in timings.items()}
    result["_impl"] = impl
    return result


def stages_table(stages: dict, peak: float) -> str:
    stages = {k: v for k, v in stages.items() if not k.startswith("_")}
    fwd = sum(v["timing"]["median"] for k, v in stages.items() if k.startswith("fwd"))
    bwd = sum(v["timing"]["median"] for k, v in stages.items() if k.startswith("bwd"))
    rows = []
    for name, v in stages.items():
        t = v["timing"]["median"]
        share = "–"
        if name.startswith("fwd"):
            share = common.fmt(100 * t / fwd, 2)
        elif name.startswith("bwd"):
            share = common.fmt(100 * t / bwd, 2)
        gflops = v["flops"] / t / 1e9 if v.get("flops") else None
        rows.append([name, common.fmt(t * 1e3), share, common.fmt(gflops),
                     common.fmt(100 * gflops / peak, 2) if gflops else "–"])
    rows.append(["sum of fwd stages", common.fmt(fwd * 1e3), "100", "", ""])
    rows.append(["sum of bwd stages", common.fmt(bwd * 1e3), "100", "", ""])
    return common.markdown_table(["stage", "median ms", "% of its pass", "GFLOP/s",
                                  "% matmul peak"], rows)


def derive(rows: list[dict], peak_gflops: float) -> None:
    """Add GFLOP/s, % of peak, speedup over naive and ratio to torch to every timed row."""
    by_key = {(r["case"]["name"], r["case"]["group"], r["pass"], r["method"]): r
              for r in rows if "timing" in r}
    for r in rows:
        if "timing" not in r:
            continue
        key = (r["case"]["name"], r["case"]["group"], r["pass"])
        t = r["timing"]["median"]
        backward = 2 if r["case"].get("input_gradient", True) else 1      # dx and dW, or dW
        flops = r["case"]["flops_fwd"] * (1 + backward if r["pass"] == "fwd+bwd" else 1)
        r["gflops"] = flops / t / 1e9
        r["pct_peak"] = 100.0 * r["gflops"] / peak_gflops
        naive = by_key.get(key + ("naive",))
        torch_row = by_key.get(key + ("torch",))
        r["speedup_vs_naive"] = naive["timing"]["median"] / t if naive else None
        r["x_torch_time"] = t / torch_row["timing"]["median"] if torch_row else None
        r["x_torch_throughput"] = torch_row["timing"]["median"] / t if torch_row else None


def table(rows: list[dict], group_label: str) -> str:
    headers = [group_label, "pass", "method", "median ms", "IQR ms", "repeats",
               "effective GFLOP/s", "% of GEMM rate", "speedup vs naive",
               "throughput / PyTorch's"]
    body = []
    for r in rows:
        method = METHOD_LABEL[r["method"]]
        if r.get("algorithm"):
            method += f" = {r['algorithm']}"
        if r.get("extrapolated"):
            method += f" *extrapolated from N={r['n_timed']}*"
        if "timing" not in r:
            body.append([r["case"]["name"], r["pass"], method, "skipped", r.get("skipped", ""),
                         "", "", "", "", ""])
            continue
        t = r["timing"]
        body.append([r["case"]["name"], r["pass"], method,
                     common.fmt(t["median"] * 1e3), f"{common.fmt(t['q1'] * 1e3)}–"
                     f"{common.fmt(t['q3'] * 1e3)}", f"{t['repeats']}x{t['number']}",
                     common.fmt(r["gflops"]), common.fmt(r["pct_peak"], 2),
                     common.fmt(r["speedup_vs_naive"]) + ("x" if r["speedup_vs_naive"] else ""),
                     common.fmt(r["x_torch_throughput"])
                     + ("x" if r["x_torch_throughput"] else "")])
    return common.markdown_table(headers, body, align="lllrrrrrrr")


TARGET, STRETCH = 0.9, 1.0   # issue 14: forward + backward throughput / PyTorch's, 1 thread


def target_table(rows: list[dict]) -> str:
    """One line per layer: forward + backward throughput of each minicnn method as a multiple
    of PyTorch's, the effective rates against the GEMM rate, and issue 14's target for the
    default method."""
    layers = []
    for r in rows:
        key = (r["case"]["group"], r["case"]["name"])
        if r["pass"] == "fwd+bwd" and key not in layers:
            layers.append(key)
    found = {(r["case"]["group"], r["case"]["name"], r["method"]): r for r in rows
             if r["pass"] == "fwd+bwd" and "timing" in r}
    body = []
    for group, name in layers:
        fast, torch_row = found.get((group, name, "fast")), found.get((group, name, "torch"))
        if fast is None or torch_row is None:
            continue
        ratios = [common.fmt(found[(group, name, m)]["x_torch_throughput"])
                  if (group, name, m) in found else "–" for m in ("im2col", "gemm", "fast")]
        ratio = fast["x_torch_throughput"]
        verdict = ("MET (stretch)" if ratio >= STRETCH else "MET" if ratio >= TARGET
                   else "not met")
        body.append([f"{group}: {name}", fast["case"]["label"], fast.get("algorithm", "?"),
                     *ratios, common.fmt(fast["pct_peak"], 2), common.fmt(torch_row["pct_peak"], 2),
                     verdict])
    return common.markdown_table(
        ["layer", "shape", "fast runs", "im2col / PyTorch", "gemm / PyTorch", "fast / PyTorch",
         "fast % of GEMM rate", "PyTorch % of GEMM rate", f"target >= {TARGET}"], body,
        align="lllrrrrrl")


def summary_lines(rows: list[dict]) -> list[str]:
    """The targets of issue 4, read off the lecture rows."""
    def find(name, pass_name, method):
        for r in rows:
            if (r["case"]["group"] == "lecture" and r["case"]["name"] == name
                    and r["pass"] == pass_name and r["method"] == method and "timing" in r):
                return r
        return None

    lines = []
    fast_rows = [r for r in rows if r["pass"] == "fwd+bwd" and r["method"] == "fast"
                 and r.get("x_torch_throughput")]
    if fast_rows:
        worst = min(fast_rows, key=lambda r: r["x_torch_throughput"])
        met = sum(r["x_torch_throughput"] >= TARGET for r in fast_rows)
        lines.append(f"- issue 14, forward + backward of the default method >= {TARGET}x "
                     f"PyTorch's throughput: {met} of {len(fast_rows)} layers; lowest "
                     f"{worst['x_torch_throughput']:.2f}x ({worst['case']['name']})")
    im2col = find("conv2", "fwd+bwd", "im2col")
    if im2col and im2col.get("x_torch_time"):
        ratio = im2col["x_torch_time"]
        lines.append(f"- conv2 forward+backward, im2col: {ratio:.2f}x PyTorch's time "
                     f"(target: within 2x) -> {'MET' if ratio <= 2 else 'NOT MET'}")
    for pass_name in PASSES:
        loop = find("conv2", pass_name, "loop")
        if loop and loop.get("speedup_vs_naive"):
            s = loop["speedup_vs_naive"]
            lines.append(f"- conv2 {pass_name}, Numba loop vs naive: {s:.0f}x faster "
                         f"(target: >= 100x) -> {'MET' if s >= 100 else 'NOT MET'}")
    return lines


def plot(rows: list[dict], path, title: str) -> None:
    """One panel per swept group: forward + backward effective GFLOP/s of each method as a
    percentage of the same run's GEMM rate (top) and its throughput as a multiple of
    PyTorch's (bottom, with the 0.9 target)."""
    plt = common.pyplot()
    group_names = ["channels", "size", "batch", "kernel", "large", "networks"]
    groups = [g for g in group_names if any(r["case"]["group"] == g for r in rows)]
    if not groups:
        return
    fig, axes = plt.subplots(2, len(groups), figsize=(4.0 * len(groups), 7.5), squeeze=False)
    colours = {"naive": "tab:red", "loop": "tab:orange", "im2col": "tab:blue",
               "gemm": "tab:purple", "fast": "tab:cyan", "torch": "tab:green"}
    for col, group in enumerate(groups):
        names = []
        for r in rows:
            if r["case"]["group"] == group and r["case"]["name"] not in names:
                names.append(r["case"]["name"])
        for row_i, (field, ylabel) in enumerate((("pct_peak", "% of the GEMM rate"),
                                                 ("x_torch_throughput",
                                                  "throughput / PyTorch's"))):
            ax = axes[row_i][col]
            for method in METHOD_ORDER:
                points = [(names.index(r["case"]["name"]), r[field]) for r in rows
                          if r["case"]["group"] == group and r["method"] == method
                          and r["pass"] == "fwd+bwd" and r.get(field) is not None]
                if not points or (field == "x_torch_throughput" and method == "torch"):
                    continue
                xs, ys = zip(*sorted(points))
                ax.plot(xs, ys, marker="o", ms=4, color=colours[method],
                        label=METHOD_LABEL[method])
            if field == "x_torch_throughput":
                ax.axhline(TARGET, color="black", linestyle=":", linewidth=1)
                ax.set_yscale("log", base=2)
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels([n.split("=")[-1] for n in names], rotation=45, fontsize=7,
                               ha="right")
            ax.set_ylabel(f"fwd+bwd {ylabel}", fontsize=8)
            ax.grid(True, alpha=0.3)
            ax.set_title(f"varying {group}" if group != "large" else "large layers",
                         fontsize=10)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per row (default 7; 3 with --quick)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per row (a method and a pass): fewer repeats when a "
                             "call is slow, never fewer than 3 (default 2; 0.2 with --quick)")
    parser.add_argument("--naive-batch", type=int, default=2,
                        help="batch on which the naive loops are timed; their time is scaled "
                             "linearly to the full batch (default %(default)s)")
    parser.add_argument("--naive-max-seconds", type=float, default=20.0,
                        help="skip a naive row predicted to take longer per call "
                             "(default %(default)s)")
    parser.add_argument("--no-sweep", action="store_true",
                        help="only the lecture's two layers")
    parser.add_argument("--networks", action="store_true",
                        help="only the layers of LeNet-5 and the CIFAR ResNets (with the "
                             "lecture's two): fast against PyTorch")
    parser.add_argument("--slow-everywhere", action="store_true",
                        help="time the naive and loop methods on the sweep's layers too "
                             "(minutes on its wide layers)")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 7
    if args.budget is None:
        args.budget = 0.2 if args.quick else 2.0
    if args.quick:
        args.naive_batch = 1

    threads = common.configure_threads(args.threads)
    torch = common.import_torch(disabled=args.no_torch)
    methods, missing = available_methods(torch)
    if torch is not None:
        methods.append("torch")
    info = common.start_run(args, threads)
    if missing:
        common.log(f"NOTE: {missing}")

    peak_start = common.matmul_peak(512 if args.quick else 2048, repeats=3 if args.quick else 7)
    common.log(f"float32 matmul peak (start): {peak_start['best_gflops']:.1f} GFLOP/s "
               f"(median {peak_start['median_gflops']:.1f})")

    checks = {}
    if torch is not None and len(methods) > 1:
        for case in lecture_cases(quick=True):
            checks[case.name] = check_against_torch(case, [m for m in methods if m != "torch"],
                                                    torch)
        common.log(f"max |minicnn - PyTorch| (outputs, relative grads): {checks}")

    rows = []
    naive_rate: dict = {}
    common.log("lecture layers:")
    for case in lecture_cases(args.quick):
        rows += run_case(case, methods, args, naive_rate)
    if not args.no_sweep and not args.networks:
        common.log("sweep around conv2:")
        for case in sweep_cases(args.quick):
            rows += run_case(case, methods, args, naive_rate)
    if not args.no_sweep:
        common.log("the layers of LeNet-5 and the CIFAR ResNets:")
        network_methods = [m for m in methods if m in ("fast", "torch")] \
            if args.networks else methods
        for case in network_cases(args.quick):
            rows += run_case(case, network_methods, args, naive_rate)

    stages = {}
    for case in lecture_cases(args.quick):
        common.log(f"im2col stages, {case.name}:")
        result = im2col_stages(case, args)
        if result:
            stages[case.name] = result
            for name, v in result.items():
                if name.startswith("_"):
                    continue
                common.log(f"  {name:>40}: {v['timing']['median'] * 1e3:9.3f} ms")

    peak_end = common.matmul_peak(512 if args.quick else 2048, repeats=3 if args.quick else 7)
    peak = max(peak_start["best_gflops"], peak_end["best_gflops"])
    info["load_average_at_end"] = common.load_average()
    common.log(f"float32 matmul peak (end): {peak_end['best_gflops']:.1f} GFLOP/s; "
               f"using {peak:.1f}")
    derive(rows, peak)

    lecture_rows = [r for r in rows if r["case"]["group"] == "lecture"]
    sweep_rows = [r for r in rows if r["case"]["group"] != "lecture"]
    summary = summary_lines(rows)
    md = [f"# Convolution benchmark{' (QUICK: sizes too small to mean anything)' if args.quick else ''}",
          "", f"Command: `{common.command_line()}`", "", common.format_machine(info), "",
          f"float32 matmul peak in this run: **{peak:.1f} GFLOP/s** (best of "
          f"{peak_start['n']}x{peak_start['n']} `np.matmul`; start {peak_start['best_gflops']:.1f}, "
          f"end {peak_end['best_gflops']:.1f})", ""]
    if missing:
        md += [f"NOTE: {missing}", ""]
    if checks:
        md += ["Correctness check against PyTorch (max abs error of the output, and of each "
               "gradient relative to its largest entry, batch 2): "
               + ", ".join(f"{layer}: " + ", ".join(f"{m} {e:.1e}" for m, e in errs.items())
                           for layer, errs in checks.items()), ""]
    md += ["Forward flops = 2 N C_out H_out W_out C_in k^2; forward+backward counted as 3x. "
           "Median of repeats (repeats x calls averaged per repeat), IQR = interquartile range. "
           f"Naive rows are timed at N={args.naive_batch} and scaled linearly to the full "
           "batch (*extrapolated*).", "",
           "## The lecture's layers", "",
           "conv1: " + lecture_cases(args.quick)[0].label() + "; conv2: "
           + lecture_cases(args.quick)[1].label(), "", table(lecture_rows, "layer"), ""]
    if summary:
        md += ["Targets:", "", *summary, ""]
    md += ["## Every layer against issue 14's target", "",
           "Forward + backward, throughput as a multiple of PyTorch's in the same run (above 1: "
           "faster than PyTorch); effective GFLOP/s as a percentage of the float32 GEMM rate "
           f"of this run ({peak:.0f} GFLOP/s).", "", target_table(rows), ""]
    for name, result in stages.items():
        md += [f"### Where im2col's time goes: {name} ({lecture_cases(args.quick)[0 if name == 'conv1' else 1].label()})",
               "", "Each stage of `minicnn.functional.conv`'s im2col path timed on its own "
               "(interleaved, median); the stages of a pass add up to about its time above. "
               f"Unfold: `{result['_impl']['im2col']}`, fold: `{result['_impl']['col2im']}`.",
               "", stages_table(result, peak), ""]
    if sweep_rows:
        md += ["## Sweep: channels, image size, batch, kernel and stride, large layers", "",
               "3x3 with padding 1 unless the row says otherwise; see `sweep_cases` in "
               "benchmarks/conv.py.", "", table(sweep_rows, "varied"), ""]
        png = common.output_path(args, "conv", "png")
        plot(sweep_rows, png, f"minicnn conv2d vs PyTorch, {threads} threads, "
                              f"{info['cpu']}; BLAS {common.blas_summary(info)}")
        md += [f"![rate vs problem size]({png.name})", ""]
    md_path = common.output_path(args, "conv", "md")
    common.write_text(md_path, "\n".join(md))
    common.write_json(common.output_path(args, "conv", "json"),
                      {"command": common.command_line(), "machine": info,
                       "peak": {"start": peak_start, "end": peak_end, "used_gflops": peak},
                       "checks": checks, "rows": rows, "im2col_stages": stages})
    common.log("\n".join(summary))
    common.log(f"wrote {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
