"""CIFAR-10 (binary version): the record layout, the search path, damage, a faked download.

The files are written here byte by byte from the format's description (label byte, then the
red, green and blue planes, each 32 rows of 32 bytes), independently of the reader's code, so
a reader that swaps planes or transposes images fails. Nothing is downloaded: the autouse
fixture points the download at a local directory that does not exist.
"""

import io
import tarfile
import urllib.error

import numpy as np
import pytest

from minicnn.data import (CIFAR10, ChecksumError, DataFileError, DataLoader,
                          DatasetNotFoundError)
from minicnn.data import cifar10

NAMES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(autouse=True)
def no_cifar_server(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "BASE_URL", (tmp_path / "no-cifar-server").as_uri() + "/")


def record(label, image):
    """One 3,073-byte record from an (32, 32, 3) RGB image, as the format describes it."""
    out = bytearray([label])
    for channel in range(3):                  # R plane, then G, then B
        for row in range(32):
            out += bytes(int(v) for v in image[row, :, channel])
    return bytes(out)


def write_batch(path, images, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(record(int(y), x) for x, y in zip(images, labels)))
    return path


def write_meta(directory, names=NAMES):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "batches.meta.txt").write_text("\n".join(names) + "\n\n")   # as published


def make_cifar(directory, per_batch=3, seed=0):
    """A small cifar-10-batches-bin/ in ``directory``; returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    folder = directory / "cifar-10-batches-bin"
    write_meta(folder)
    arrays = {}
    for split, names in cifar10.FILES.items():
        images = rng.integers(0, 256, size=(per_batch * len(names), 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=len(images))
        for i, name in enumerate(names):
            part = slice(i * per_batch, (i + 1) * per_batch)
            write_batch(folder / name, images[part], labels[part])
        arrays[split] = (images, labels)
    return arrays


# ----------------------------------------------------------------------------- the layout

def test_a_known_pixel_of_each_plane_lands_at_its_row_column_and_channel(tmp_path):
    raw = bytearray(cifar10.RECORD_BYTES)
    raw[0] = 7                                          # label
    raw[1 + 0 * 1024 + 2 * 32 + 5] = 200                # R plane, row 2, column 5
    raw[1 + 1 * 1024 + 30 * 32 + 1] = 100               # G plane, row 30, column 1
    raw[1 + 2 * 1024 + 0 * 32 + 31] = 50                # B plane, row 0, column 31
    path = tmp_path / "one.bin"
    path.write_bytes(bytes(raw))
    images, labels = cifar10.read_batch(path)
    assert images.shape == (1, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == [7] and labels.dtype == np.int64
    assert images[0, 2, 5].tolist() == [200, 0, 0]
    assert images[0, 30, 1].tolist() == [0, 100, 0]
    assert images[0, 0, 31].tolist() == [0, 0, 50]
    assert images[0, 5, 2].tolist() == [0, 0, 0]        # not transposed
    assert int(images.sum()) == 350                     # nothing else lit


def test_colours_of_whole_planes_are_not_swapped(tmp_path):
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((32, 32, 3), np.uint8)
    blue[..., 2] = 255
    images, labels = cifar10.read_batch(write_batch(tmp_path / "b.bin", [red, blue], [3, 9]))
    np.testing.assert_array_equal(images[0], red)
    np.testing.assert_array_equal(images[1], blue)
    assert labels.tolist() == [3, 9]


def test_train_and_test_round_trip_with_classes_from_the_meta_file(tmp_path):
    arrays = make_cifar(tmp_path)
    train = CIFAR10("train", root=tmp_path, download=False)
    np.testing.assert_array_equal(train.images, arrays["train"][0])     # batches 1..5 in order
    np.testing.assert_array_equal(train.labels, arrays["train"][1])
    assert train.images.shape == (15, 32, 32, 3) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64 and train.images.flags.c_contiguous
    assert train.classes == NAMES and train.split == "train"
    assert train.source == str(tmp_path / "cifar-10-batches-bin")
    assert [p.name for p in train.files] == [f"data_batch_{i}.bin" for i in range(1, 6)] + [
        "batches.meta.txt"]
    test = CIFAR10("test", root=tmp_path, download=False)
    np.testing.assert_array_equal(test.images, arrays["test"][0])
    assert len(test) == 3 and test.split == "test"


def test_loader_gives_rgb_tensors_with_the_red_plane_first(tmp_path):
    arrays = make_cifar(tmp_path)
    x, y = next(iter(DataLoader(CIFAR10("test", root=tmp_path, download=False), batch_size=3)))
    assert x.shape == (3, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], arrays["test"][0][..., 0] / 255, rtol=1e-6)
    np.testing.assert_allclose(x[:, 2], arrays["test"][0][..., 2] / 255, rtol=1e-6)


# ----------------------------------------------------------------------------- places

def test_root_may_be_the_batches_directory_itself(tmp_path):
    make_cifar(tmp_path)
    data = CIFAR10("test", root=tmp_path / "cifar-10-batches-bin", download=False)
    assert data.source == str(tmp_path / "cifar-10-batches-bin")


def test_env_var_then_cache(tmp_path, monkeypatch, isolated_data_env):
    make_cifar(tmp_path / "env", seed=1)
    make_cifar(cifar10.cache_dir(), seed=2)
    assert cifar10.cache_dir() == isolated_data_env / ".cache" / "minicnn" / "cifar10"
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))
    assert CIFAR10("test", download=False).source == str(tmp_path / "env" /
                                                         "cifar-10-batches-bin")
    monkeypatch.delenv("MINICNN_DATA")
    assert CIFAR10("test", download=False).source == str(cifar10.cache_dir() /
                                                         "cifar-10-batches-bin")


def test_a_missing_batch_is_named_in_the_report(tmp_path):
    make_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-bin" / "data_batch_4.bin").unlink()
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-bin/: missing "
                                                   "data_batch_4.bin"):
        CIFAR10("train", root=tmp_path, download=False)
    assert len(CIFAR10("test", root=tmp_path, download=False)) == 3


def test_the_pickled_version_is_never_loaded_and_is_pointed_out(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"\x80\x04 a pickle that would run code")
    with pytest.raises(DatasetNotFoundError, match="pickled Python version") as info:
        CIFAR10("train", root=tmp_path, download=False)
    assert "cifar-10-binary.tar.gz" in str(info.value)


# ----------------------------------------------------------------------------- damage

def test_truncated_batch_is_an_error_naming_the_file(tmp_path):
    make_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    bad.write_bytes(bad.read_bytes()[:-1000])
    with pytest.raises(DataFileError, match="not a multiple of 3073") as info:
        CIFAR10("train", root=tmp_path, download=False)
    assert str(bad) in str(info.value)


def test_empty_batch_is_an_error_naming_the_file(tmp_path):
    make_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    bad.write_bytes(b"")
    with pytest.raises(DataFileError, match="empty") as info:
        CIFAR10("test", root=tmp_path, download=False)
    assert str(bad) in str(info.value)


def test_label_out_of_range_is_an_error_naming_the_file_and_record(tmp_path):
    make_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    raw = bytearray(bad.read_bytes())
    raw[2 * cifar10.RECORD_BYTES] = 10                 # record 2's label byte
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataFileError, match="record 2 .* label 10, out of range 0..9") as info:
        CIFAR10("test", root=tmp_path, download=False)
    assert str(bad) in str(info.value)


def test_meta_file_without_ten_names_is_an_error_naming_it(tmp_path):
    make_cifar(tmp_path)
    write_meta(tmp_path / "cifar-10-batches-bin", NAMES[:9])
    with pytest.raises(DataFileError, match="9 class names, expected 10") as info:
        CIFAR10("test", root=tmp_path, download=False)
    assert str(tmp_path / "cifar-10-batches-bin" / "batches.meta.txt") in str(info.value)


def test_split_must_be_train_or_test():
    with pytest.raises(ValueError, match="CIFAR10: split must be 'train' or 'test'"):
        CIFAR10("valid")


# ----------------------------------------------------------------------------- download

def make_archive(path, source_dir, extra=()):
    """A tar.gz like the official one (cifar-10-batches-bin/...), plus ``extra`` members."""
    with tarfile.open(path, "w:gz") as tar:
        for file in sorted((source_dir / "cifar-10-batches-bin").iterdir()):
            tar.add(file, arcname=f"cifar-10-batches-bin/{file.name}")
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sha256(path):
    import hashlib
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serve_archive(monkeypatch, tmp_path, extra=()):
    arrays = make_cifar(tmp_path / "made")
    server = tmp_path / "server"
    server.mkdir()
    archive = make_archive(server / "cifar-10-binary.tar.gz", tmp_path / "made", extra)
    folder = tmp_path / "made" / "cifar-10-batches-bin"
    hashes = {name: sha256(folder / name) for name in cifar10.FILES["train"] +
              cifar10.FILES["test"]}
    monkeypatch.setattr(cifar10, "BASE_URL", server.as_uri())
    monkeypatch.setattr(cifar10, "SHA256", {cifar10.ARCHIVE: sha256(archive), **hashes})
    return arrays


def test_download_unpacks_only_the_expected_files_into_the_cache(tmp_path, monkeypatch,
                                                                  capsys):
    arrays = serve_archive(monkeypatch, tmp_path, extra=[
        ("../escaped.txt", b"outside"), ("cifar-10-batches-bin/readme.html", b"<html>"),
        ("cifar-10-batches-bin/../../escaped2.txt", b"outside")])
    train = CIFAR10("train")
    np.testing.assert_array_equal(train.images, arrays["train"][0])
    folder = cifar10.cache_dir() / "cifar-10-batches-bin"
    assert train.source == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        cifar10.FILES["train"] + cifar10.FILES["test"] + ("batches.meta.txt",))
    assert sorted(p.name for p in cifar10.cache_dir().iterdir()) == ["cifar-10-batches-bin"]
    assert not list(tmp_path.rglob("escaped*"))
    assert "Downloading cifar-10-binary.tar.gz" in capsys.readouterr().err
    monkeypatch.setattr(cifar10, "BASE_URL", (tmp_path / "gone").as_uri())
    assert len(CIFAR10("test")) == 3                    # from the cache now


def test_archive_with_a_wrong_checksum_is_refused_and_not_kept(tmp_path, monkeypatch):
    serve_archive(monkeypatch, tmp_path)
    monkeypatch.setattr(cifar10, "SHA256", {**cifar10.SHA256, cifar10.ARCHIVE: "0" * 64})
    with pytest.raises(ChecksumError, match="SHA-256 of the downloaded cifar-10-binary.tar.gz"):
        CIFAR10("test")
    assert list(cifar10.cache_dir().iterdir()) == []


def test_a_batch_with_a_wrong_checksum_in_the_archive_is_refused(tmp_path, monkeypatch):
    serve_archive(monkeypatch, tmp_path)
    monkeypatch.setattr(cifar10, "SHA256", {**cifar10.SHA256, "test_batch.bin": "0" * 64})
    with pytest.raises(ChecksumError, match="cifar-10-binary.tar.gz: test_batch.bin"):
        CIFAR10("test")
    assert not (cifar10.cache_dir() / "cifar-10-batches-bin" / "test_batch.bin").exists()
    assert not (cifar10.cache_dir() / "cifar-10-binary.tar.gz").exists()


def test_offline_download_fails_cleanly_saying_which_file_to_put_where(monkeypatch):
    def unreachable(url, timeout):
        raise urllib.error.URLError("[Errno 101] Network is unreachable")
    monkeypatch.setattr(cifar10, "url_opener", unreachable)
    with pytest.raises(DatasetNotFoundError) as info:
        CIFAR10("test")
    message = str(info.value)
    for text in ["CIFAR-10 (test split, binary version) was not found", "$MINICNN_DATA: not set",
                 "user cache", "Network is unreachable", "cifar-10-binary.tar.gz",
                 "tar xzf", "cifar-10-batches-bin/", "test_batch.bin, batches.meta.txt",
                 "--data-dir DIR", str(cifar10.cache_dir())]:
        assert text in message, text
    assert not cifar10.cache_dir().exists()


def test_the_command_line_prints_the_places_tried_and_the_fixes_one_a_line(monkeypatch,
                                                                            capsys, tmp_path):
    from minicnn.cli import main

    def unreachable(url, timeout):
        raise urllib.error.URLError("[Errno 101] Network is unreachable")
    monkeypatch.setattr(cifar10, "url_opener", unreachable)
    code = main(["train", "--model", "resnet20", "--dataset", "cifar10", "--epochs", "1",
                 "--threads", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    error_lines = [line for line in lines if line.startswith("minicnn: error: ")]
    assert len(error_lines) == 1, err
    first = lines.index(error_lines[0])
    assert "CIFAR-10 (train split, binary version) was not found" in lines[first]
    below = lines[first + 1:]
    assert [line.split(".")[0].strip() for line in below[:3]] == ["1", "2", "3"], err
    assert "Network is unreachable" in below[2]
    assert any(line.strip().startswith("- download the binary version") for line in below)
