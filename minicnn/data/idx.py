"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one 4-byte big-endian size per dimension, then the
data, row-major::

    magic = 0x00 0x00 <type code> <number of dimensions>
    0x00000803  unsigned bytes, 3 dimensions: images (N, rows, cols)
    0x00000801  unsigned bytes, 1 dimension:  labels (N,)

Files may be gzip-compressed (detected from their first two bytes, not from the name).

Everything is checked before an array is returned: magic number, dimensions, and that the
file holds exactly the number of bytes its header announces. A corrupt or truncated file
raises :class:`IDXError` naming the file, never a silently wrong array.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDXError", "IMAGES_MAGIC", "LABELS_MAGIC", "read_idx", "read_idx_bytes",
           "parse_idx", "write_idx"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

GZIP_SIGNATURE = b"\x1f\x8b"

# IDX type codes -> big-endian NumPy dtypes.
_TYPE_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_DTYPE = {np.dtype(dt).newbyteorder("=").str: code for code, dt in _TYPE_CODES.items()}


class IDXError(ValueError):
    """An IDX file is corrupt, truncated or not the kind of file expected."""


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The file's IDX bytes, decompressed when the file is gzip-compressed.

    Raises :class:`IDXError` naming the file when the gzip stream is truncated or corrupt.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] != GZIP_SIGNATURE:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise IDXError(
            f"{path}: the gzip data is truncated or corrupt ({exc}); "
            f"delete the file and fetch it again") from exc


def parse_idx(data: bytes, name: str = "<bytes>", expected_magic: int | None = None) -> np.ndarray:
    """Decode IDX ``data`` (already decompressed) into a native-endian array.

    Parameters
    ----------
    data : the whole IDX file as bytes
    name : how errors refer to the file (its path)
    expected_magic : e.g. ``IMAGES_MAGIC`` or ``LABELS_MAGIC``; None accepts any valid magic

    Returns
    -------
    array : shape given by the header, dtype given by the type code (uint8 for Fashion-MNIST)
    """
    if len(data) < 4:
        raise IDXError(f"{name}: only {len(data)} bytes, too short for an IDX header "
                       f"(the file is empty or truncated)")
    magic = int.from_bytes(data[:4], "big")
    zeros, type_code, ndim = data[0:2], data[2], data[3]
    if zeros != b"\x00\x00" or type_code not in _TYPE_CODES or ndim == 0:
        wanted = (f"0x{expected_magic:08X} ({_describe(expected_magic)})" if expected_magic
                  else "0x0000 then a type code and a dimension count")
        raise IDXError(f"{name}: bad magic number 0x{magic:08X}; not an IDX file "
                       f"(expected {wanted})")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"{name}: magic number 0x{magic:08X} ({_describe(magic)}), expected "
                       f"0x{expected_magic:08X} ({_describe(expected_magic)})")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IDXError(f"{name}: truncated header: {ndim} dimensions need {header_size} bytes, "
                       f"the file has {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _TYPE_CODES[type_code]
    expected_size = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected_size:
        raise IDXError(f"{name}: truncated: the header announces shape {shape} "
                       f"({expected_size} bytes) but the file holds {len(data)} bytes; "
                       f"delete the file and fetch it again")
    if len(data) > expected_size:
        raise IDXError(f"{name}: {len(data) - expected_size} unexpected bytes after the data "
                       f"(header announces shape {shape}, {expected_size} bytes)")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip) and return its array; see :func:`parse_idx`.

    >>> images = read_idx("train-images-idx3-ubyte.gz", IMAGES_MAGIC)   # doctest: +SKIP
    >>> images.shape, images.dtype                                      # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    return parse_idx(read_idx_bytes(path), str(path), expected_magic)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends in .gz).

    Used to build small test files and by anyone exporting data in MNIST's format.
    """
    path = Path(path)
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=").str if array.dtype.byteorder != "|" else array.dtype.str
    if key not in _CODE_OF_DTYPE:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type code")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: need 1 to 255 dimensions, got shape {array.shape}")
    code = _CODE_OF_DTYPE[key]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_TYPE_CODES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


def _describe(magic: int) -> str:
    return {IMAGES_MAGIC: "uint8 images, 3 dimensions",
            LABELS_MAGIC: "uint8 labels, 1 dimension"}.get(
        magic, f"type 0x{(magic >> 8) & 0xFF:02X}, {magic & 0xFF} dimensions")
