"""Which algorithm "fast" should run on a 3x3, padding-1 layer: the direct sum, Winograd, im2col
and gemm forced on the same layers, against PyTorch, forward + backward.

    python benchmarks/conv_choice.py --threads 1        # a few minutes
    python benchmarks/conv_choice.py --threads 1 --networks --tag networks   # ResNet's layers
    python benchmarks/conv_choice.py --quick            # seconds; figures mean nothing

minicnn's method "fast" picks one algorithm per layer (minicnn/fast/conv/choose.py,
fast_algorithm). For 3x3 layers with stride 1 and padding 1 three of them apply: the direct
sum on flat padded planes (minicnn/fast/conv/direct.py), Winograd (minicnn/fast/conv/winograd.py,
from 8 input channels) and im2col; with stride 2 the direct sum on phase planes, im2col and
the chunked gemm. This script times each of them, and PyTorch, on layers across the
boundaries of that choice (input channels 1-128, outputs 8-256, images 7-224, batches
1-1024), the methods interleaved round by round in one process, and reports which was
fastest next to the one "fast" picks.

Outputs in ``--out`` (default benchmarks/results/): conv_choice[_TAG].md and .json.
"""

from __future__ import annotations

import _common as common
import conv

# (N, C_in, C_out, H = W, stride): 3x3, padding 1
LAYERS = [(64, 8, 16, 14, 1), (64, 8, 32, 14, 1), (64, 16, 16, 14, 1), (64, 8, 32, 28, 1),
          (64, 16, 16, 28, 1), (1024, 8, 16, 7, 1), (64, 8, 64, 14, 1), (64, 8, 64, 28, 1),
          (64, 16, 32, 14, 1), (64, 16, 32, 28, 1), (64, 32, 64, 14, 1),
          (64, 1, 32, 28, 1), (64, 1, 32, 14, 1), (64, 1, 8, 14, 1), (64, 1, 128, 28, 1),
          (64, 2, 32, 14, 1), (64, 3, 64, 14, 1), (64, 3, 64, 32, 1), (16, 3, 256, 28, 1),
          (64, 4, 128, 14, 1), (4, 3, 64, 224, 1), (1, 3, 64, 14, 1),
          (64, 1, 32, 28, 2), (64, 3, 64, 32, 2), (64, 16, 32, 32, 2), (64, 32, 64, 28, 2),
          (16, 64, 64, 56, 2), (64, 32, 128, 28, 2), (64, 64, 128, 28, 2),
          (64, 128, 256, 14, 2), (4, 3, 64, 224, 2), (1, 32, 64, 28, 2)]
# --networks: the 3x3 layers of the CIFAR ResNets (batch 128) on 28x28 grey and 32x32 RGB
# images (conv.network_cases has the whole list, LeNet-5's 5x5 and the 1x1 shortcuts too)
NETWORK_LAYERS = [(128, 1, 16, 28, 1), (128, 3, 16, 32, 1), (128, 16, 16, 28, 1),
                  (128, 16, 16, 32, 1), (128, 16, 32, 28, 2), (128, 16, 32, 32, 2),
                  (128, 32, 32, 14, 1), (128, 32, 32, 16, 1), (128, 32, 64, 14, 2),
                  (128, 32, 64, 16, 2), (128, 64, 64, 7, 1), (128, 64, 64, 8, 1)]
QUICK_LAYERS = [(2, 8, 8, 6, 1), (2, 2, 4, 6, 1), (2, 3, 4, 7, 2)]
METHODS = ("direct", "winograd", "im2col", "gemm", "torch")


def layer_name(layer) -> str:
    n, c_in, c_out, size, stride = layer
    return f"{c_in}->{c_out} {size}x{size} N={n}" + (f" stride {stride}" if stride > 1 else "")


def applies(method, layer) -> bool:
    """Is ``method`` timed on ``layer``: Winograd only for stride 1 from WINOGRAD_MIN_CHANNELS
    input channels (below, a plan exists but never pays), gemm only for stride 2 (on stride-1
    3x3 layers it lost to im2col everywhere, benchmarks/RESULTS.md)."""
    from minicnn.fast.conv.choose import WINOGRAD_MIN_CHANNELS
    _, c_in, _, _, stride = layer
    if method == "winograd":
        return stride == 1 and c_in >= WINOGRAD_MIN_CHANNELS
    return method != "gemm" or stride > 1


def forced_pass(method, case):
    """Forward + backward of one minicnn algorithm forced on ``case`` (the inputs of
    conv.make_inputs, as conv.py's own closures use)."""
    from minicnn.fast.conv.direct import conv2d_direct_backward, conv2d_direct_forward
    from minicnn.fast.conv.winograd import (conv2d_winograd_backward,
                                                  conv2d_winograd_forward)
    if method in ("im2col", "gemm"):
        return conv.minicnn_fns(case, method, case.n)[1]
    x, weight, bias, dout = conv.make_inputs(case, case.n)

    def direct():
        _, planes = conv2d_direct_forward(x, weight, bias, case.stride)
        return conv2d_direct_backward(dout, planes, weight, x.shape)

    def winograd():
        _, kept = conv2d_winograd_forward(x, weight, bias, (1, 1))
        return conv2d_winograd_backward(dout, kept, weight, (1, 1))

    return {"direct": direct, "winograd": winograd}[method]


def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per layer (default 7; 3 with --quick)")
    parser.add_argument("--networks", action="store_true",
                        help="the ResNets' 3x3 layers (batch 128) instead of the boundary grid")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)

    threads = common.configure_threads(args.threads)
    import numpy as np

    from minicnn.fast.conv.choose import fast_algorithm
    torch = common.import_torch(disabled=args.no_torch)
    info = common.start_run(args, threads)

    rows = []
    for layer in QUICK_LAYERS if args.quick else NETWORK_LAYERS if args.networks else LAYERS:
        n, c_in, c_out, size, stride = layer
        case = conv.ConvCase(layer_name(layer), "choice", n, c_in, c_out, size, 3, stride)
        fns = {}
        for method in METHODS:
            if not applies(method, layer):
                continue
            if method == "torch":
                if torch is not None:
                    fns[method] = conv.torch_fns(case, n)[1]
            else:
                fns[method] = forced_pass(method, case)
        timings = common.measure_interleaved(fns, repeats=repeats)
        ms = {method: timing.median * 1e3 for method, timing in timings.items()}
        ours = {m: t for m, t in ms.items() if m != "torch"}
        row = {"layer": layer_name(layer), "ms": ms, "fastest": min(ours, key=ours.get),
               "fast_runs": fast_algorithm((n, c_in, size, size), (c_out, c_in, 3, 3),
                                           (stride, stride), (1, 1), np.float32)}
        row["fast_vs_fastest"] = ours[row["fast_runs"]] / ours[row["fastest"]]
        rows.append(row)
        common.log(row["layer"], " ".join(f"{m} {t:.2f}" for m, t in ms.items()),
                   f"fastest {row['fastest']}, fast runs {row['fast_runs']}")

    table = common.markdown_table(
        ["layer (3x3, padding 1)"] + [f"{m} ms" for m in METHODS]
        + ["fastest", "fast runs", "its time / fastest's"],
        [[row["layer"]] + [common.fmt(row["ms"][m]) if m in row["ms"] else "" for m in METHODS]
         + [row["fastest"], row["fast_runs"], common.fmt(row["fast_vs_fastest"])]
         for row in rows])
    text = "\n".join([
        "# Which algorithm fast runs on 3x3, padding-1 layers",
        "",
        f"Command: `{common.command_line()}`",
        "",
        common.format_machine(info),
        "",
        f"Forward + backward, float32, median of {repeats} interleaved rounds; an empty cell: "
        "not timed on that layer (conv_choice.applies). \"fast runs\": "
        "minicnn.fast.conv.choose.fast_algorithm's choice for the layer.",
        "",
        table,
        ""])
    common.write_text(common.output_path(args, "conv_choice", "md"), text)
    common.write_json(common.output_path(args, "conv_choice", "json"),
                      {"machine": info, "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
