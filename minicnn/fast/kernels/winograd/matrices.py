"""Winograd's matrices B^T, G and A^T for each F(m x m, r x r), and each applied to one column.

For an m x m block of outputs of an r x r correlation, the alpha x alpha input tile d under
it (alpha = m + r - 1) and the filter g,

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise)

needs alpha^2 multiplications instead of m^2 r^2: 16 instead of 36 for F(2x2, 3x3), 36
instead of 144 for F(4x4, 3x3), 36 instead of 100 for F(2x2, 5x5), 64 instead of 196 for
F(2x2, 7x7). The matrices are Toom-Cook's for the interpolation points 0, 1, -1 (F(2x2, 3x3)),
0, 1, -1, 2, -2 (F(4x4, 3x3) and F(2x2, 5x5): the same 6x6 tiles and B^T, B_T5) and 1/2,
-1/2 too (F(2x2, 7x7)), and infinity. Larger points mean larger matrix entries, so float32
results lose more digits on the larger tiles (benchmarks/HISTORY.md, "5x5 and 7x7 filters by
Winograd").

The kernels apply B^T, B = (B^T)^T, A^T and A through the straight-line helpers below, one
column of numbers at a time (apply_b_t5 is B_T5 @ (d0, ..., d5), and so on). They use the
matrices' symmetry: the rows for the points p and -p share their even and odd parts,
(E + O, E - O). The per-plane and the lanes kernels call the same helpers, which is why their
results agree to the last bit. A loop over the matrix entries instead is several times slower
(benchmarks/HISTORY.md, "5x5 and 7x7 filters by Winograd").
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "B_T", "G", "A_T", "B_T5", "G5", "A_T5", "G43", "A_T43", "B_T7", "G7", "A_T7",
    "apply_b_t", "apply_b", "apply_a_t", "apply_a", "apply_b_t5", "apply_b5", "apply_a_t5",
    "apply_a5", "apply_a_t43", "apply_a43", "apply_b_t7", "apply_b7", "apply_a_t7", "apply_a7",
]

# F(2x2, 3x3): points 0, 1, -1, infinity; 4x4 tiles
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)

# F(2x2, 5x5): points 0, 1, -1, 2, -2, infinity; 6x6 tiles
B_T5 = np.array([[4, 0, -5, 0, 1, 0],
                 [0, -4, -4, 1, 1, 0],
                 [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0],
                 [0, 4, 0, -5, 0, 1]], dtype=np.float64)
G5 = np.array([[1 / 4, 0, 0, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
               [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
               [0, 0, 0, 0, 1]], dtype=np.float64)
A_T5 = np.array([[1, 1, 1, 1, 1, 0],
                 [0, 1, -1, 2, -2, 1]], dtype=np.float64)

# F(4x4, 3x3): the same points as F(2x2, 5x5), so the same B^T (B_T5); 4x4 outputs per tile
G43 = np.array([[1 / 4, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6],
                [0, 0, 1]], dtype=np.float64)
A_T43 = np.array([[1, 1, 1, 1, 1, 0],
                  [0, 1, -1, 2, -2, 0],
                  [0, 1, 1, 4, 4, 0],
                  [0, 1, -1, 8, -8, 1]], dtype=np.float64)

# F(2x2, 7x7): points 0, 1, -1, 2, -2, 1/2, -1/2, infinity; 8x8 tiles
B_T7 = np.array([[-1, 0, 21 / 4, 0, -21 / 4, 0, 1, 0],
                 [0, 1, 1, -17 / 4, -17 / 4, 1, 1, 0],
                 [0, -1, 1, 17 / 4, -17 / 4, -1, 1, 0],
                 [0, 1 / 2, 1 / 4, -5 / 2, -5 / 4, 2, 1, 0],
                 [0, -1 / 2, 1 / 4, 5 / 2, -5 / 4, -2, 1, 0],
                 [0, 2, 4, -5 / 2, -5, 1 / 2, 1, 0],
                 [0, -2, 4, 5 / 2, -5, -1 / 2, 1, 0],
                 [0, -1, 0, 21 / 4, 0, -21 / 4, 0, 1]], dtype=np.float64)
G7 = np.array([[-1, 0, 0, 0, 0, 0, 0],
               [-2 / 9] * 7,
               [-2 / 9, 2 / 9, -2 / 9, 2 / 9, -2 / 9, 2 / 9, -2 / 9],
               [1 / 90, 1 / 45, 2 / 45, 4 / 45, 8 / 45, 16 / 45, 32 / 45],
               [1 / 90, -1 / 45, 2 / 45, -4 / 45, 8 / 45, -16 / 45, 32 / 45],
               [32 / 45, 16 / 45, 8 / 45, 4 / 45, 2 / 45, 1 / 45, 1 / 90],
               [32 / 45, -16 / 45, 8 / 45, -4 / 45, 2 / 45, -1 / 45, 1 / 90],
               [0, 0, 0, 0, 0, 0, 1]], dtype=np.float64)
A_T7 = np.array([[1, 1, 1, 1, 1, 1, 1, 0],
                 [0, 1, -1, 2, -2, 1 / 2, -1 / 2, 1]], dtype=np.float64)

for _matrix in (B_T, G, A_T, B_T5, G5, A_T5, G43, A_T43, B_T7, G7, A_T7):
    _matrix.setflags(write=False)


# The helpers' constants as float32 numbers: float32 arithmetic then stays float32 (a Python
# literal would promote it to float64), and each constant is exact, so float64 loses nothing.
F0_25, F0_5, F1_25, F2, F2_5, F4, F4_25, F5, F5_25, F8 = (
    np.float32(value) for value in (0.25, 0.5, 1.25, 2, 2.5, 4, 4.25, 5, 5.25, 8))


# --------------------------------------------------------------------------------------------
# F(2x2, 3x3)
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def apply_b_t(d0, d1, d2, d3):
    """B_T @ (d0, ..., d3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(cache=True, inline="always")
def apply_b(g0, g1, g2, g3):
    """B_T.T @ (g0, ..., g3), the transpose of apply_b_t."""
    return g0, g1 - g2 + g3, g1 + g2 - g0, -g3


@njit(cache=True, inline="always")
def apply_a_t(m0, m1, m2, m3):
    """A_T @ (m0, ..., m3): two numbers."""
    return m0 + m1 + m2, m1 - m2 - m3


@njit(cache=True, inline="always")
def apply_a(g0, g1):
    """A_T.T @ (g0, g1): four numbers, the transpose of apply_a_t."""
    return g0, g0 + g1, g0 - g1, -g1


# --------------------------------------------------------------------------------------------
# The 6x6 tiles: F(2x2, 5x5) and F(4x4, 3x3)
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def apply_b_t5(d0, d1, d2, d3, d4, d5):
    """B_T5 @ (d0, ..., d5)."""
    even1, odd1 = d4 - F4 * d2, d3 - F4 * d1          # the rows of points +-1
    even2, odd2 = d4 - d2, F2 * (d3 - d1)            # the rows of points +-2
    return (F4 * d0 - F5 * d2 + d4, even1 + odd1, even1 - odd1, even2 + odd2, even2 - odd2,
            F4 * d1 - F5 * d3 + d5)


@njit(cache=True, inline="always")
def apply_b5(g0, g1, g2, g3, g4, g5):
    """B_T5.T @ (g0, ..., g5), the transpose of apply_b_t5."""
    sum1, diff1 = g1 + g2, g2 - g1
    sum2, diff2 = g3 + g4, g4 - g3
    return (F4 * g0, F4 * (diff1 + g5) + F2 * diff2, -F5 * g0 - F4 * sum1 - sum2,
            -diff1 - F2 * diff2 - F5 * g5, g0 + sum1 + sum2, g5)


@njit(cache=True, inline="always")
def apply_a_t5(m0, m1, m2, m3, m4, m5):
    """A_T5 @ (m0, ..., m5): two numbers."""
    return m0 + (m1 + m2) + (m3 + m4), (m1 - m2) + F2 * (m3 - m4) + m5


@njit(cache=True, inline="always")
def apply_a5(g0, g1):
    """A_T5.T @ (g0, g1): six numbers, the transpose of apply_a_t5."""
    return g0, g0 + g1, g0 - g1, g0 + F2 * g1, g0 - F2 * g1, g1


@njit(cache=True, inline="always")
def apply_a_t43(m0, m1, m2, m3, m4, m5):
    """A_T43 @ (m0, ..., m5): four numbers."""
    sum1, diff1 = m1 + m2, m1 - m2
    sum2, diff2 = m3 + m4, m3 - m4
    return m0 + sum1 + sum2, diff1 + F2 * diff2, sum1 + F4 * sum2, diff1 + F8 * diff2 + m5


@njit(cache=True, inline="always")
def apply_a43(g0, g1, g2, g3):
    """A_T43.T @ (g0, ..., g3): six numbers, the transpose of apply_a_t43."""
    even1, odd1 = g0 + g2, g1 + g3                       # the rows of points +-1
    even2, odd2 = g0 + F4 * g2, F2 * g1 + F8 * g3        # the rows of points +-2
    return g0, even1 + odd1, even1 - odd1, even2 + odd2, even2 - odd2, g3


# --------------------------------------------------------------------------------------------
# The 8x8 tiles: F(2x2, 7x7)
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def apply_b_t7(d0, d1, d2, d3, d4, d5, d6, d7):
    """B_T7 @ (d0, ..., d7)."""
    even1, odd1 = d2 - F4_25 * d4 + d6, d1 - F4_25 * d3 + d5            # points +-1
    even2, odd2 = F0_25 * d2 - F1_25 * d4 + d6, F0_5 * d1 - F2_5 * d3 + F2 * d5   # points +-2
    even3, odd3 = F4 * d2 - F5 * d4 + d6, F2 * d1 - F2_5 * d3 + F0_5 * d5  # points +-1/2
    return (d6 - d0 + F5_25 * (d2 - d4), even1 + odd1, even1 - odd1, even2 + odd2,
            even2 - odd2, even3 + odd3, even3 - odd3, d7 - d1 + F5_25 * (d3 - d5))


@njit(cache=True, inline="always")
def apply_b7(g0, g1, g2, g3, g4, g5, g6, g7):
    """B_T7.T @ (g0, ..., g7), the transpose of apply_b_t7."""
    sum1, diff1 = g1 + g2, g1 - g2
    sum2, diff2 = g3 + g4, g3 - g4
    sum3, diff3 = g5 + g6, g5 - g6
    return (-g0, diff1 + F0_5 * diff2 + F2 * diff3 - g7,
            F5_25 * g0 + sum1 + F0_25 * sum2 + F4 * sum3,
            -F4_25 * diff1 - F2_5 * (diff2 + diff3) + F5_25 * g7,
            -F5_25 * g0 - F4_25 * sum1 - F1_25 * sum2 - F5 * sum3,
            diff1 + F2 * diff2 + F0_5 * diff3 - F5_25 * g7,
            g0 + sum1 + sum2 + sum3, g7)


@njit(cache=True, inline="always")
def apply_a_t7(m0, m1, m2, m3, m4, m5, m6, m7):
    """A_T7 @ (m0, ..., m7): two numbers."""
    return (m0 + (m1 + m2) + (m3 + m4) + (m5 + m6),
            (m1 - m2) + F2 * (m3 - m4) + F0_5 * (m5 - m6) + m7)


@njit(cache=True, inline="always")
def apply_a7(g0, g1):
    """A_T7.T @ (g0, g1): eight numbers, the transpose of apply_a_t7."""
    return g0, g0 + g1, g0 - g1, g0 + F2 * g1, g0 - F2 * g1, g0 + F0_5 * g1, g0 - F0_5 * g1, g1
