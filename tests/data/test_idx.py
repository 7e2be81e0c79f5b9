"""The IDX reader: round trips, and every kind of damage is an error naming the file."""

import gzip

import numpy as np
import pytest

from minicnn.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, read_idx, write_idx


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_images_round_trip_raw_and_gzip(tmp_path, images, suffix):
    path = write_idx(tmp_path / ("train-images-idx3-ubyte" + suffix), images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    out = read_idx(path, IMAGES_MAGIC)
    assert out.dtype == np.uint8 and out.shape == (7, 28, 28)
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_labels_round_trip_raw_and_gzip(tmp_path, suffix):
    labels = np.array([9, 0, 0, 3, 7], dtype=np.uint8)
    out = read_idx(write_idx(tmp_path / ("labels" + suffix), labels), LABELS_MAGIC)
    np.testing.assert_array_equal(out, labels)


def test_header_layout_is_big_endian_magic_then_sizes(tmp_path, images):
    raw = write_idx(tmp_path / "x", images).read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert raw[4:16] == (7).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert len(raw) == 16 + images.size


def test_gzip_is_detected_by_content_not_name(tmp_path, images):
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(write_idx(tmp_path / "raw", images).read_bytes()))
    np.testing.assert_array_equal(read_idx(path), images)


def test_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"<html>Not Found</html>" + bytes(100))
    with pytest.raises(IDXError, match="bad magic number") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_labels_file_given_as_images_is_rejected(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(IDXError, match=r"0x00000801.*expected 0x00000803") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_wrong_number_of_dimensions_is_rejected(tmp_path):
    path = write_idx(tmp_path / "images", np.zeros((4, 784), np.uint8))   # 2-D: magic 0x802
    with pytest.raises(IDXError, match="0x00000802") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [0, 3, 10, 16 + 28 * 28 * 7 - 1])
def test_truncated_raw_file_names_the_file(tmp_path, images, keep):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", images)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(IDXError, match="truncated|too short") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_truncated_gzip_file_names_the_file(tmp_path, images):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(IDXError, match="gzip data is truncated or corrupt") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_gzip_of_a_truncated_idx_file_is_caught_after_decompression(tmp_path, images):
    raw = write_idx(tmp_path / "raw", images).read_bytes()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw[:-1]))
    with pytest.raises(IDXError, match="truncated") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_trailing_bytes_are_rejected(tmp_path, images):
    path = write_idx(tmp_path / "x", images)
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(IDXError, match="1 unexpected bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_other_idx_types_read_in_native_byte_order(tmp_path):
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    out = read_idx(write_idx(tmp_path / "ints", values))
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_real_debian_files_have_the_official_headers(fakes):
    directory = fakes.real_debian_dir
    if not (directory / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"{directory} absent: apt install dataset-fashion-mnist to run this test")
    images = read_idx(directory / "t10k-images-idx3-ubyte.gz", IMAGES_MAGIC)
    labels = read_idx(directory / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
