"""Winograd's tile transforms for minicnn/fast/conv/winograd.py, one module per transform family.

    matrices.py    B^T, G, A^T of each F(m x m, r x r), and each applied to one column
    planes.py      the per-plane layout: one channel plane at a time, any tile; the kernels'
                   loops and the NumPy twins every family's per-plane kernels are held to
    lanes.py       the lanes layout: the channels innermost, in vector lanes; the copies
                   between (N, C, H, W) and channels-last, and the kernels' loop
    f2x2_3x3.py    F(2x2, 3x3), 4x4 tiles (per plane)
    tiles_6x6.py   the 6x6 tiles' input side, shared by F(4x4, 3x3) and F(2x2, 5x5)
    f4x4_3x3.py    F(4x4, 3x3), 6x6 tiles 4 apart (per plane and in lanes)
    f2x2_5x5.py    F(2x2, 5x5), 6x6 tiles 2 apart (per plane and in lanes)
    f2x2_7x7.py    F(2x2, 7x7), 8x8 tiles (per plane and in lanes)

Each family module has the same names: input_transform, input_transform_adjoint,
output_transform, output_transform_adjoint (per plane) with their ``_numpy`` twins, and for
the larger tiles the same four with ``_lanes``, which method "fast" runs.
"""
