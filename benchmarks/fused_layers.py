"""The lecture's readable layers against the engine's fused versions, and PyTorch, on the
lecture CNN's activations: why the training step runs minicnn/fast's ReLU, pooling,
BatchNorm and Adam instead of minicnn/functional's.

For each layer function (forward, then backward on the forward's cache) the three run
interleaved in one process, one thread each; the table gives medians and the ratios lecture /
engine and engine / PyTorch.

    python benchmarks/fused_layers.py --threads 1
"""

from __future__ import annotations

import sys

import _common as common


def cases(quick: bool):
    """(name, forward(fw), backward(fw, out, cache)) of the lecture CNN's layer calls, batch 64
    (4 with --quick), float32; ``fw`` is a namespace of the six functional functions."""
    import numpy as np
    rng = np.random.default_rng(0)
    n = 4 if quick else 64
    conv1 = rng.standard_normal((n, 32, 28, 28)).astype(np.float32)
    conv2 = rng.standard_normal((n, 64, 14, 14)).astype(np.float32)
    hidden = rng.standard_normal((n, 256)).astype(np.float32)

    def batch_norm(x):
        channels = x.shape[1]
        weight = rng.standard_normal(channels).astype(np.float32)
        bias = rng.standard_normal(channels).astype(np.float32)
        stats = (np.zeros(channels, np.float32), np.ones(channels, np.float32))
        return lambda fw: fw.batch_norm_forward(x, weight, bias, *stats, True)

    return [
        ("relu conv1 (64x32x28x28)", lambda fw: fw.relu_forward(conv1)),
        ("max_pool2d 2x2 conv1", lambda fw: fw.max_pool2d_forward(conv1, 2)),
        ("max_pool2d 2x2 conv2 (64x64x14x14)", lambda fw: fw.max_pool2d_forward(conv2, 2)),
        ("batch_norm conv1", batch_norm(conv1)),
        ("batch_norm conv2", batch_norm(conv2)),
        ("batch_norm1d (64x256)", batch_norm(hidden)),
    ]


def torch_versions(torch, quick: bool):
    """PyTorch's forward + backward of the same calls, by case name."""
    n = 4 if quick else 64
    gen = torch.Generator().manual_seed(0)
    shapes = {"conv1": (n, 32, 28, 28), "conv2": (n, 64, 14, 14), "hidden": (n, 256)}
    tensors = {k: torch.randn(*s, generator=gen, requires_grad=True) for k, s in shapes.items()}
    F = torch.nn.functional

    def run(make, key):
        x = tensors[key]

        def step():
            out = make(x)
            out.backward(torch.ones_like(out) * 0.5)
            x.grad = None
        return step

    def bn(key):
        channels = shapes[key][1]
        weight = torch.randn(channels, generator=gen, requires_grad=True)
        bias = torch.randn(channels, generator=gen, requires_grad=True)
        mean, var = torch.zeros(channels), torch.ones(channels)
        return run(lambda x: F.batch_norm(x, mean, var, weight, bias, training=True), key)

    return {"relu conv1 (64x32x28x28)": run(F.relu, "conv1"),
            "max_pool2d 2x2 conv1": run(lambda x: F.max_pool2d(x, 2), "conv1"),
            "max_pool2d 2x2 conv2 (64x64x14x14)": run(lambda x: F.max_pool2d(x, 2), "conv2"),
            "batch_norm conv1": bn("conv1"), "batch_norm conv2": bn("conv2"),
            "batch_norm1d (64x256)": bn("hidden")}


def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    args = parser.parse_args(argv)
    threads = common.configure_threads(args.threads)
    info = common.start_run(args, threads)
    import types

    import numpy as np

    from minicnn import functional as lecture_functions
    from minicnn.functional import fast_paths

    names = ["relu_forward", "relu_backward", "max_pool2d_forward", "max_pool2d_backward",
             "batch_norm_forward", "batch_norm_backward"]
    lecture = types.SimpleNamespace(**{k: getattr(lecture_functions, k) for k in names})
    engine = types.SimpleNamespace(**{k: fast_paths.implementation(k, None) for k in names})
    backward_of = {"relu": "relu_backward", "max_pool2d": "max_pool2d_backward",
                   "batch_norm": "batch_norm_backward"}
    torch = common.import_torch(args.no_torch)
    torch_steps = torch_versions(torch, args.quick) if torch is not None else {}

    rows, results = [], []
    for name, forward in cases(args.quick):
        family = name.split(" ")[0].replace("batch_norm1d", "batch_norm")

        def step(fw, forward=forward, family=family):
            out, cache = forward(fw)
            dout = np.full_like(out, 0.5)
            return getattr(fw, backward_of[family])(dout, cache)

        fns = {"lecture": lambda: step(lecture), "engine": lambda: step(engine)}
        if name in torch_steps:
            fns["pytorch"] = torch_steps[name]
        timing = common.measure_interleaved(fns, repeats=3 if args.quick else args.repeats)
        ms = {k: t.median * 1e3 for k, t in timing.items()}
        speedup = ms["lecture"] / ms["engine"]
        vs_torch = ms["pytorch"] / ms["engine"] if "pytorch" in ms else None
        rows.append([name, common.fmt(ms["lecture"]), common.fmt(ms["engine"]),
                     common.fmt(ms.get("pytorch")), f"{speedup:.2f}x",
                     "" if vs_torch is None else f"{vs_torch:.2f}x"])
        results.append({"case": name, "ms": ms, "lecture_over_engine": speedup,
                        "engine_throughput_vs_pytorch": vs_torch,
                        "timings": {k: t.to_dict() for k, t in timing.items()}})
        common.log(f"{name}: lecture {ms['lecture']:.3f} ms, engine {ms['engine']:.3f} ms")

    table = common.markdown_table(
        ["forward + backward", "lecture ms", "engine ms", "PyTorch ms", "lecture / engine",
         "engine throughput vs PyTorch"], rows)
    text = (f"# The lecture's layers against the engine's fused versions\n\n"
            f"`{common.command_line()}`\n\n{common.format_machine(info)}\n\n{table}\n")
    common.write_text(common.output_path(args, "fused_layers", "md"), text)
    common.write_json(common.output_path(args, "fused_layers", "json"),
                      {"machine": info, "command": common.command_line(), "results": results})
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
