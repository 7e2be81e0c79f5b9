"""Winograd's chunk size: forward + backward time of minicnn's Winograd convolution for several
values of its chunk minimum (MIN_CHUNK_TILES) and byte budget (WINOGRAD_CHUNK_BYTES).

    python benchmarks/winograd_chunks.py --threads 1          # about a minute
    python benchmarks/winograd_chunks.py --quick              # seconds; figures mean nothing

The Winograd method (minicnn/fast/conv/winograd.py) transforms and multiplies its tiles
a chunk at a time: about WINOGRAD_CHUNK_BYTES of transformed tiles (V and M), but at least
the bytes of MIN_CHUNK_TILES 3x3 tiles. Too small a chunk gives BLAS thin products; too
large a one leaves the caches. This script times every setting on layers that pull both
ways (3x3 on 7x7 images with a large batch, conv2, 64->64 at 32x32, 256->256, and 5x5 and
7x7 filters), the settings interleaved round by round in one process, and reports each
setting's median time relative to the layer's best setting.

Outputs in ``--out`` (default benchmarks/results/): winograd_chunks[_TAG].md and .json.
"""

from __future__ import annotations

import _common as common

# (N, C_in, H = W, C_out, r), stride 1, padding r // 2
LAYERS = [(1024, 32, 7, 64, 3), (64, 32, 14, 64, 3), (64, 64, 32, 64, 3),
          (16, 256, 14, 256, 3), (64, 32, 14, 64, 5), (64, 32, 14, 64, 7)]
QUICK_LAYERS = [(4, 8, 7, 8, 3), (2, 8, 8, 8, 5)]
MIN_TILES = (64, 128, 256, 512, 1024)
BUDGETS_KIB = (1024,)


def layer_name(layer) -> str:
    n, c_in, size, c_out, r = layer
    return f"{c_in}->{c_out} {size}x{size} N={n} {r}x{r}"


def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--min-tiles", type=int, nargs="+", default=list(MIN_TILES),
                        help="MIN_CHUNK_TILES values to time (default %(default)s)")
    parser.add_argument("--budgets-kib", type=int, nargs="+", default=list(BUDGETS_KIB),
                        help="WINOGRAD_CHUNK_BYTES values in KiB (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per layer (default 7; 3 with --quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)

    threads = common.configure_threads(args.threads)
    import numpy as np

    import minicnn.fast.conv.winograd as winograd
    info = common.start_run(args, threads)

    settings = [(kib, tiles) for kib in args.budgets_kib for tiles in args.min_tiles]
    default = (winograd.WINOGRAD_CHUNK_BYTES // 1024, winograd.MIN_CHUNK_TILES)
    results = []
    rng = np.random.default_rng(0)
    for layer in QUICK_LAYERS if args.quick else LAYERS:
        n, c_in, size, c_out, r = layer
        padding = (r // 2, r // 2)
        x = rng.standard_normal((n, c_in, size, size), dtype=np.float32)
        weight = (rng.standard_normal((c_out, c_in, r, r), dtype=np.float32)
                  / np.float32(np.sqrt(c_in * r * r)))
        bias = np.zeros(c_out, np.float32)
        dout = rng.standard_normal((n, c_out, size, size), dtype=np.float32)

        def timed(kib, tiles):
            def run():
                winograd.WINOGRAD_CHUNK_BYTES, winograd.MIN_CHUNK_TILES = kib * 1024, tiles
                out, kept = winograd.conv2d_winograd_forward(x, weight, bias, padding)
                winograd.conv2d_winograd_backward(dout, kept, weight, padding)
            return run

        try:
            timings = common.measure_interleaved(
                {setting: timed(*setting) for setting in settings}, repeats=repeats)
        finally:
            winograd.WINOGRAD_CHUNK_BYTES = default[0] * 1024
            winograd.MIN_CHUNK_TILES = default[1]
        best = min(t.median for t in timings.values())
        row = {"layer": layer_name(layer),
               "ms": {f"{kib}K/{tiles}": timings[(kib, tiles)].median * 1e3
                      for kib, tiles in settings},
               "relative": {f"{kib}K/{tiles}": timings[(kib, tiles)].median / best
                            for kib, tiles in settings}}
        results.append(row)
        common.log(row["layer"], " ".join(f"{k} {v:.2f}" for k, v in row["relative"].items()))

    keys = [f"{kib}K/{tiles}" for kib, tiles in settings]
    table = common.markdown_table(
        ["layer (fwd + bwd, float32)", "best ms"] + [f"budget/min {k}" for k in keys],
        [[row["layer"], common.fmt(min(row["ms"].values()))]
         + [common.fmt(row["relative"][k]) for k in keys] for row in results])
    text = "\n".join([
        "# Winograd's chunk size",
        "",
        f"Command: `{common.command_line()}`",
        "",
        common.format_machine(info),
        "",
        f"Time relative to each layer's best setting (budget in KiB / MIN_CHUNK_TILES; the "
        f"default is {default[0]}K/{default[1]}), median of {repeats} interleaved rounds:",
        "",
        table,
        ""])
    common.write_text(common.output_path(args, "winograd_chunks", "md"), text)
    common.write_json(common.output_path(args, "winograd_chunks", "json"),
                      {"machine": info, "default": default, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
