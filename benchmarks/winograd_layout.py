"""F(4x4, 3x3)'s four tile transforms, one channel plane at a time against the channels in
vector lanes, each with the copies its layout needs.

    python benchmarks/winograd_layout.py --threads 1        # about 15 s
    python benchmarks/winograd_layout.py --quick            # seconds; figures mean nothing

minicnn's per-plane kernels (minicnn/fast/kernels/winograd/planes.py) write or read a tile's
36 numbers in 36 planes of V (or M, dV, dM), and a loop over that many arrays stays scalar:
LLVM needs a run-time overlap check for each pair of arrays that it reads and writes, and
stops at 8 ("too many memory checks needed"). The lanes kernels
(minicnn/fast/kernels/winograd/lanes.py), which method "fast" runs for F(4x4, 3x3), keep the
channels innermost and their padded count compiled in, so that a tile's numbers lie at fixed
offsets from one pointer and the loop over the channels vectorises; they pay for it with
copies between (N, C, H, W) and channels-last. Each pair below computes the same thing on one
chunk of tiles:

    input        x -> V = B^T d B        per plane: input_transform
                                         lanes: fill_channels_last, input_transform_lanes
    output       M -> Y = A^T M A + b    per plane: output_transform
                                         lanes: output_transform_lanes, write_channels_first
    output adj.  dY -> dM = A dY A^T     per plane: output_transform_adjoint
                                         lanes: read_channels_last,
                                                output_transform_adjoint_lanes
    input adj.   dV -> dX += B dV B^T    per plane: input_transform_adjoint
                                         lanes: input_transform_adjoint_lanes,
                                                add_tiles_channels_last, add_channels_first

(minicnn/fast/kernels/winograd/f4x4_3x3.py's kernels, the copies of lanes.py)

and is checked: the same numbers to the last bit (the input adjoint sums the overlapping tiles
in another order, so there to float32 rounding).

Outputs in ``--out`` (default benchmarks/results/): winograd_layout[_TAG].md and .json.
"""

from __future__ import annotations

import _common as common

# (N, C, H = W): one chunk of layers like the sweep's (16->32 and 32->64 at 14x14), and larger
# images and channel counts; C is both the input and the output channels
CASES = [(9, 16, 14), (64, 16, 14), (7, 32, 14), (4, 64, 32), (16, 64, 28), (2, 128, 14)]
QUICK_CASES = [(2, 8, 6), (1, 13, 9)]
TRANSFORMS = ("input", "output", "output adj.", "input adj.")


def transform_pairs(x, rng):
    """{transform: (per-plane call, lanes call, check)} on the whole of x as one chunk; each
    check compares the two results after both have run."""
    import numpy as np

    from minicnn.fast.conv.winograd import plane_buffer, tile_planes
    from minicnn.fast.kernels.winograd import f4x4_3x3 as f4
    from minicnn.fast.kernels.winograd import lanes

    n, channels, size, _ = x.shape
    tiles = -(-size // 4)                                     # per side, 4x4 outputs a tile
    chunk, count = (0, n, 0, tiles), n * tiles * tiles
    blocks = lanes.channel_blocks(channels)
    c_pad = lanes.LANE * len(blocks)
    image_rows = np.empty((n, 4 * tiles + 2, (4 * tiles + 2) * c_pad), x.dtype)
    # the package's planes, PLANE_GAP numbers apart (without the gap, planes a multiple of
    # 1 KiB apart share L1 sets and the per-plane kernels run 2-5x slower)
    planes = {name: tile_planes(plane_buffer(36, channels, count, x.dtype), 36, channels,
                                 count) for name in ("v", "dm")}
    lanes_out = {name: np.empty((count, 36 * c_pad), x.dtype) for name in ("v", "dm", "dd")}
    small = {name: np.empty((count, 16 * c_pad), x.dtype) for name in ("y", "g")}
    m = tile_planes(plane_buffer(36, channels, count, x.dtype), 36, channels, count)
    m[...] = rng.standard_normal((36, channels, count))
    m_lanes = np.zeros((count, 36, c_pad), x.dtype)
    m_lanes[:, :, :channels] = m.transpose(2, 0, 1)
    m_lanes = m_lanes.reshape(count, -1)
    bias = rng.standard_normal(channels).astype(x.dtype)
    out = {name: np.empty((n, channels, size, size), x.dtype) for name in ("planes", "lanes")}
    dout = rng.standard_normal((n, channels, size, size)).astype(x.dtype)
    dx = {name: np.zeros_like(x) for name in ("planes", "lanes")}

    def as_planes(lanes_array):
        return lanes_array.reshape(count, 36, c_pad)[:, :, :channels].transpose(1, 2, 0)

    def input_lanes():
        lanes.fill_channels_last(x, 0, 0, 4, 1, 1, blocks, image_rows)
        f4.input_transform_lanes(image_rows, tiles, tiles, 4, blocks, lanes_out["v"])

    def output_lanes():
        f4.output_transform_lanes(m_lanes, blocks, small["y"])
        lanes.write_channels_first(small["y"], bias, *chunk, tiles, 4, blocks, out["lanes"])

    def output_adjoint_lanes():
        lanes.read_channels_last(dout, *chunk, tiles, 4, blocks, small["g"])
        f4.output_transform_adjoint_lanes(small["g"], blocks, lanes_out["dm"])

    def input_adjoint_lanes():
        f4.input_transform_adjoint_lanes(m_lanes, blocks, lanes_out["dd"])
        lanes.add_tiles_channels_last(lanes_out["dd"], tiles, tiles, 4, blocks, image_rows)
        lanes.add_channels_first(image_rows, 0, 0, 4, 1, 1, blocks, dx["lanes"])

    def input_adjoint_same():
        # dX was added into once per call: compare one fresh call of each
        for name, call in (("planes", lambda: f4.input_transform_adjoint(
                m, *chunk, tiles, 1, 1, dx["planes"])), ("lanes", input_adjoint_lanes)):
            dx[name][...] = 0
            call()
        tolerance = 1e-5 if x.dtype == np.float32 else 1e-12
        return bool(np.linalg.norm(dx["lanes"] - dx["planes"])
                    <= tolerance * np.linalg.norm(dx["planes"]))

    return {
        "input": (lambda: f4.input_transform(x, *chunk, tiles, 1, 1, planes["v"]),
                  input_lanes,
                  lambda: np.array_equal(as_planes(lanes_out["v"]), planes["v"])),
        "output": (lambda: f4.output_transform(m, bias, *chunk, tiles, out["planes"]),
                   output_lanes,
                   lambda: np.array_equal(out["lanes"], out["planes"])),
        "output adj.": (lambda: f4.output_transform_adjoint(dout, *chunk, tiles,
                                                                  planes["dm"]),
                        output_adjoint_lanes,
                        lambda: np.array_equal(as_planes(lanes_out["dm"]), planes["dm"])),
        "input adj.": (lambda: f4.input_transform_adjoint(m, *chunk, tiles, 1, 1,
                                                                dx["planes"]),
                       input_adjoint_lanes, input_adjoint_same),
    }


def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per case (default 21; 3 with --quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 21)

    threads = common.configure_threads(args.threads)
    import numpy as np
    info = common.start_run(args, threads)

    rng = np.random.default_rng(0)
    rows = []
    for n, channels, size in QUICK_CASES if args.quick else CASES:
        x = rng.standard_normal((n, channels, size, size), dtype=np.float32)
        count = n * (-(-size // 4)) ** 2
        pairs = transform_pairs(x, rng)
        calls = {}
        for name, (per_plane, in_lanes, _) in pairs.items():
            per_plane()
            in_lanes()
            calls[f"{name} per plane"], calls[f"{name} lanes"] = per_plane, in_lanes
        same = {name: bool(check()) for name, (_, _, check) in pairs.items()}
        timings = common.measure_interleaved(calls, repeats=repeats)
        ns = {name: t.median * 1e9 / (count * channels) for name, t in timings.items()}
        row = {"case": f"N={n} C={channels} {size}x{size}", "tiles": count, "same": same,
               "ns_per_tile_channel": ns}
        rows.append(row)
        common.log(row["case"], " ".join(
            f"{name}: {ns[name + ' per plane']:.1f} -> {ns[name + ' lanes']:.1f} ns"
            + ("" if same[name] else " DIFFERENT") for name in TRANSFORMS))

    table = common.markdown_table(
        ["case (float32)", "tiles"] + [f"{name} ns (per plane -> lanes)" for name in TRANSFORMS]
        + ["all four", "same results"],
        [[row["case"], row["tiles"]]
         + [f"{row['ns_per_tile_channel'][name + ' per plane']:.1f} -> "
            f"{row['ns_per_tile_channel'][name + ' lanes']:.1f}" for name in TRANSFORMS]
         + [f"{sum(row['ns_per_tile_channel'][n + ' per plane'] for n in TRANSFORMS):.1f} -> "
            f"{sum(row['ns_per_tile_channel'][n + ' lanes'] for n in TRANSFORMS):.1f}",
            "yes" if all(row["same"].values()) else "NO"]
         for row in rows])
    text = "\n".join([
        "# F(4x4, 3x3)'s tile transforms: per channel plane against channels in vector lanes",
        "",
        f"Command: `{common.command_line()}`",
        "",
        common.format_machine(info),
        "",
        f"Median of {repeats} interleaved rounds, nanoseconds per tile and channel (a tile is "
        "4x4 outputs). \"per plane\" and \"lanes\": the kernels of "
        "minicnn/fast/kernels/winograd/f4x4_3x3.py, the lanes with the copies between "
        "(N, C, H, W) and channels-last that they need. Same results: bit for bit, except the "
        "input adjoint's sums (float32 rounding).",
        "",
        table,
        ""])
    common.write_text(common.output_path(args, "winograd_layout", "md"), text)
    common.write_json(common.output_path(args, "winograd_layout", "json"),
                      {"machine": info, "results": rows})
    return 0 if all(all(row["same"].values()) for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
