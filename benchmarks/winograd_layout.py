"""F(4x4, 3x3)'s input transform with the channels in vector lanes: a prototype, timed against
minicnn's kernel.

    python benchmarks/winograd_layout.py --threads 1        # about 10 s
    python benchmarks/winograd_layout.py --quick            # seconds; figures mean nothing

minicnn's Winograd transforms (minicnn/kernels/conv_winograd_large.py) work on one channel
plane at a time and run as scalar code: a tile's 36 numbers go to 36 planes, and a loop that
reads or writes that many arrays is more than LLVM will vectorise ("too many memory checks
needed": each load/store pair whose arrays could overlap needs a run-time check, and LLVM
stops at 8). The prototype here lays x out channels-last and padded, (N, H_pad, W_pad * C),
and V as (tiles, 36 * C), and bakes the channel count C into each compiled copy, so that a
tile's 36 outputs sit at fixed offsets from one pointer and its 36 inputs at fixed offsets
from six row pointers; then its loop over the channels runs in vector lanes. It is checked
against minicnn's kernel (same numbers) and timed against it, together with the layout copy
it needs (NumPy's padded transpose of x).

Not in the package: every copy is compiled when first called (one per channel count, not in
Numba's cache), and the products, the other three transforms and the kept V would need the
same layout (benchmarks/RESULTS.md, "V kept for the backward pass").

Outputs in ``--out`` (default benchmarks/results/): winograd_layout[_TAG].md and .json.
"""

from __future__ import annotations

import _common as common

# (N, C, H = W): one chunk of conv2-like layers and whole batches
CASES = [(9, 16, 14), (64, 16, 14), (7, 32, 14), (4, 64, 32), (16, 64, 28)]
QUICK_CASES = [(2, 8, 6), (1, 16, 9)]


def make_transform(channels: int):
    """F(4x4, 3x3)'s V = B^T d B on channels-last tiles, compiled for this channel count:
    x_rows (N, H_pad, W_pad * C), X_pad[n, c, y, k] at x_rows[n, y, k * C + c]; v (tiles,
    36 * C), tile t's number (r, q) of channel c at v[t, (6 r + q) * C + c]."""
    from numba import njit

    from minicnn.kernels.conv_winograd_large import _bt5

    cp = channels       # a closure constant: Numba compiles it into the code

    @njit(nogil=True)       # no fastmath: the same roundings as minicnn's kernel
    def transform(x_rows, tiles_h, tiles_w, v):
        t = 0
        for n in range(x_rows.shape[0]):
            image = x_rows[n]
            for a in range(tiles_h):
                i = 4 * a
                r0, r1, r2 = image[i], image[i + 1], image[i + 2]
                r3, r4, r5 = image[i + 3], image[i + 4], image[i + 5]
                for b in range(tiles_w):
                    j = 4 * b * cp
                    s0, s1, s2, s3, s4, s5 = r0[j:], r1[j:], r2[j:], r3[j:], r4[j:], r5[j:]
                    out = v[t]
                    for c in range(cp):
                        # e = B^T d, column l of the tile at offset l * cp
                        e00, e10, e20, e30, e40, e50 = _bt5(s0[c], s1[c], s2[c], s3[c],
                                                            s4[c], s5[c])
                        k = cp + c
                        e01, e11, e21, e31, e41, e51 = _bt5(s0[k], s1[k], s2[k], s3[k],
                                                            s4[k], s5[k])
                        k = 2 * cp + c
                        e02, e12, e22, e32, e42, e52 = _bt5(s0[k], s1[k], s2[k], s3[k],
                                                            s4[k], s5[k])
                        k = 3 * cp + c
                        e03, e13, e23, e33, e43, e53 = _bt5(s0[k], s1[k], s2[k], s3[k],
                                                            s4[k], s5[k])
                        k = 4 * cp + c
                        e04, e14, e24, e34, e44, e54 = _bt5(s0[k], s1[k], s2[k], s3[k],
                                                            s4[k], s5[k])
                        k = 5 * cp + c
                        e05, e15, e25, e35, e45, e55 = _bt5(s0[k], s1[k], s2[k], s3[k],
                                                            s4[k], s5[k])
                        # V = e B, row r of the tile to outputs 6 r .. 6 r + 5
                        (out[c], out[cp + c], out[2 * cp + c], out[3 * cp + c],
                         out[4 * cp + c], out[5 * cp + c]) = _bt5(e00, e01, e02, e03, e04, e05)
                        (out[6 * cp + c], out[7 * cp + c], out[8 * cp + c], out[9 * cp + c],
                         out[10 * cp + c], out[11 * cp + c]) = _bt5(e10, e11, e12, e13, e14,
                                                                    e15)
                        (out[12 * cp + c], out[13 * cp + c], out[14 * cp + c],
                         out[15 * cp + c], out[16 * cp + c], out[17 * cp + c]) = _bt5(
                            e20, e21, e22, e23, e24, e25)
                        (out[18 * cp + c], out[19 * cp + c], out[20 * cp + c],
                         out[21 * cp + c], out[22 * cp + c], out[23 * cp + c]) = _bt5(
                            e30, e31, e32, e33, e34, e35)
                        (out[24 * cp + c], out[25 * cp + c], out[26 * cp + c],
                         out[27 * cp + c], out[28 * cp + c], out[29 * cp + c]) = _bt5(
                            e40, e41, e42, e43, e44, e45)
                        (out[30 * cp + c], out[31 * cp + c], out[32 * cp + c],
                         out[33 * cp + c], out[34 * cp + c], out[35 * cp + c]) = _bt5(
                            e50, e51, e52, e53, e54, e55)
                    t += 1

    return transform


def main(argv=None) -> int:
    parser = common.make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per case (default 21; 3 with --quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 21)

    threads = common.configure_threads(args.threads)
    import numpy as np

    from minicnn.functional.conv_winograd import _plane_buffer, _tile_planes
    from minicnn.kernels.conv_winograd_large import input_transform_f4
    info = common.start_run(args, threads)

    rng = np.random.default_rng(0)
    rows = []
    for n, channels, size in QUICK_CASES if args.quick else CASES:
        x = rng.standard_normal((n, channels, size, size), dtype=np.float32)
        tiles = -(-size // 4)                                 # per side, 4x4 outputs a tile
        count = n * tiles * tiles
        padded = np.zeros((n, 4 * tiles + 2, 4 * tiles + 2, channels), np.float32)

        def layout_copy():
            padded[:, 1:size + 1, 1:size + 1, :] = x.transpose(0, 2, 3, 1)

        layout_copy()
        x_rows = padded.reshape(n, 4 * tiles + 2, -1)
        v_last = np.empty((count, 36 * channels), np.float32)
        v_planes = _tile_planes(_plane_buffer(36, channels, count, np.float32), 36, channels,
                                count)
        transform = make_transform(channels)
        transform(x_rows, tiles, tiles, v_last)
        input_transform_f4(x, 0, n, 0, tiles, tiles, 1, 1, v_planes)
        same = np.array_equal(v_last.reshape(count, 36, channels).transpose(1, 2, 0),
                              v_planes)
        timings = common.measure_interleaved({
            "minicnn": lambda: input_transform_f4(x, 0, n, 0, tiles, tiles, 1, 1, v_planes),
            "channels in lanes": lambda: transform(x_rows, tiles, tiles, v_last),
            "layout copy": layout_copy}, repeats=repeats)
        ns = {name: t.median * 1e9 / (count * channels) for name, t in timings.items()}
        row = {"case": f"N={n} C={channels} {size}x{size}", "tiles": count, "same": bool(same),
               "ms": {name: t.median * 1e3 for name, t in timings.items()},
               "ns_per_tile_channel": ns}
        rows.append(row)
        common.log(row["case"], "same" if same else "DIFFERENT",
                   " ".join(f"{k} {v:.1f} ns" for k, v in ns.items()))

    names = ["minicnn", "channels in lanes", "layout copy"]
    table = common.markdown_table(
        ["case (float32)", "tiles", "same V"] + [f"{k} ms (ns per tile and channel)"
                                                 for k in names],
        [[row["case"], row["tiles"], "yes" if row["same"] else "NO"]
         + [f"{common.fmt(row['ms'][k])} ({row['ns_per_tile_channel'][k]:.1f})" for k in names]
         for row in rows])
    text = "\n".join([
        "# F(4x4, 3x3)'s input transform with the channels in vector lanes",
        "",
        f"Command: `{common.command_line()}`",
        "",
        common.format_machine(info),
        "",
        f"Median of {repeats} interleaved rounds. \"minicnn\": "
        "minicnn.kernels.conv_winograd_large.input_transform_f4 on x as it is (N, C, H, W); "
        "\"channels in lanes\": the prototype on x padded and channels-last; \"layout copy\": "
        "NumPy's copy of x into that layout, which the prototype needs first.",
        "",
        table,
        ""])
    common.write_text(common.output_path(args, "winograd_layout", "md"), text)
    common.write_json(common.output_path(args, "winograd_layout", "json"),
                      {"machine": info, "results": rows})
    return 0 if all(row["same"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
