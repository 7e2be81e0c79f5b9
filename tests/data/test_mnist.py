"""MNIST: the IDX files found through the shared search path, fetched (faked locally), checked.

The conftest isolates HOME, XDG_CACHE_HOME and MINICNN_DATA; the autouse fixture below points
MNIST's download at a local directory that does not exist, so no test reaches the network.
MNIST and Fashion-MNIST share file names, so the fake files of the conftest serve both.
"""

import urllib.error

import numpy as np
import pytest

from minicnn.data import (MNIST, ChecksumError, DatasetNotFoundError, FashionMNIST, IDXError,
                          write_idx)
from minicnn.data import fashion_mnist, mnist


@pytest.fixture(autouse=True)
def no_mnist_server(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "BASE_URL", (tmp_path / "no-mnist-server").as_uri() + "/")


def serve_from(monkeypatch, directory, fakes):
    """Make ``directory`` MNIST's download server and trust its files' content hashes."""
    monkeypatch.setattr(mnist, "BASE_URL", directory.as_uri())
    monkeypatch.setattr(mnist, "SHA256", {**mnist.SHA256, **fakes.sha256(directory)})


# ----------------------------------------------------------------------------- reading

@pytest.mark.parametrize("compress", [True, False])
def test_root_argument_round_trip(tmp_path, fakes, compress):
    arrays = fakes.make_dir(tmp_path / "mine", compress=compress)
    train = MNIST("train", root=tmp_path / "mine", download=False)
    np.testing.assert_array_equal(train.images, arrays["train"][0])
    np.testing.assert_array_equal(train.labels, arrays["train"][1])
    assert train.images.dtype == np.uint8 and train.images.shape == (30, 28, 28)
    assert train.labels.dtype == np.int64
    assert train.classes == tuple("0123456789") and train.split == "train"
    assert train.source == str(tmp_path / "mine") and len(train) == 30
    suffix = ".gz" if compress else ""
    assert [p.name for p in train.files] == ["train-images-idx3-ubyte" + suffix,
                                             "train-labels-idx1-ubyte" + suffix]
    test = MNIST("test", root=str(tmp_path / "mine"), download=False)
    np.testing.assert_array_equal(test.images, arrays["test"][0])
    assert test.split == "test" and len(test) == 20


def test_split_must_be_train_or_test():
    with pytest.raises(ValueError, match="MNIST: split must be 'train' or 'test'"):
        MNIST("val")


# ----------------------------------------------------------------------------- places

def test_env_var_is_read(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "env")
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))
    assert MNIST("test", download=False).source == str(tmp_path / "env")


def test_root_argument_takes_precedence_over_env_var(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "env")
    fakes.make_dir(tmp_path / "arg")
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))
    assert MNIST("test", root=tmp_path / "arg", download=False).source == str(tmp_path / "arg")


def test_user_cache_is_read_after_env_var(tmp_path, fakes, monkeypatch, isolated_data_env):
    assert mnist.cache_dir() == isolated_data_env / ".cache" / "minicnn" / "mnist"
    fakes.make_dir(mnist.cache_dir())
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "empty"))
    assert MNIST("train", download=False).source == str(mnist.cache_dir())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.cache_dir() == tmp_path / "xdg" / "minicnn" / "mnist"


def test_mnist_subdirectory_of_a_place_is_searched(tmp_path, fakes):
    fakes.make_dir(tmp_path / "data" / "mnist")
    assert MNIST("test", root=tmp_path / "data", download=False).source == \
        str(tmp_path / "data" / "mnist")


def test_fashion_mnist_files_are_skipped_when_mnist_is_asked_for(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "data", seed=5)                 # "Fashion-MNIST" at the top
    monkeypatch.setattr(fashion_mnist, "SHA256", fakes.sha256(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError, match="holds Fashion-MNIST's files, not these"):
        MNIST("train", root=tmp_path / "data", download=False)
    fakes.make_dir(tmp_path / "data" / "mnist", seed=7)        # and MNIST beneath it
    write_idx(tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte.gz",
              (9 - np.arange(30) % 10).astype(np.uint8))      # labels unlike the fakes'
    assert MNIST("train", root=tmp_path / "data", download=False).source == \
        str(tmp_path / "data" / "mnist")
    assert FashionMNIST("train", root=tmp_path / "data", download=False).source == \
        str(tmp_path / "data")


def test_mnist_files_are_skipped_when_fashion_mnist_is_asked_for(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "data")
    monkeypatch.setattr(mnist, "SHA256", fakes.sha256(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError, match="holds MNIST's files, not these"):
        FashionMNIST("train", root=tmp_path / "data", download=False, allow_sample=False)


# ----------------------------------------------------------------------------- damage

def test_truncated_file_is_an_error_naming_it(tmp_path, fakes):
    fakes.make_dir(tmp_path / "mine", compress=False)
    bad = tmp_path / "mine" / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-100])
    with pytest.raises(IDXError, match="truncated") as info:
        MNIST("test", root=tmp_path / "mine", download=False)
    assert str(bad) in str(info.value)


def test_corrupt_gzip_is_an_error_naming_it(tmp_path, fakes):
    fakes.make_dir(tmp_path / "mine")
    bad = tmp_path / "mine" / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:20])
    with pytest.raises(IDXError, match="gzip data is truncated or corrupt") as info:
        MNIST("train", root=tmp_path / "mine", download=False)
    assert str(bad) in str(info.value)


def test_label_out_of_range_is_an_error_naming_the_file(tmp_path, fakes):
    fakes.make_dir(tmp_path / "mine")
    path = write_idx(tmp_path / "mine" / "t10k-labels-idx1-ubyte.gz", np.full(20, 12, np.uint8))
    with pytest.raises(IDXError, match="label 12 out of range 0..9") as info:
        MNIST("test", root=tmp_path / "mine", download=False)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------------- download

def test_download_goes_to_the_mnist_cache_with_checksums(tmp_path, fakes, monkeypatch, capsys):
    arrays = fakes.make_dir(tmp_path / "server")
    serve_from(monkeypatch, tmp_path / "server", fakes)
    test = MNIST("test")
    np.testing.assert_array_equal(test.images, arrays["test"][0])
    assert test.source == str(mnist.cache_dir())
    assert sorted(p.name for p in mnist.cache_dir().iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert "Downloading t10k-images-idx3-ubyte.gz" in capsys.readouterr().err
    assert not fashion_mnist.cache_dir().exists()


def test_download_with_a_wrong_checksum_is_refused_and_not_kept(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "server")
    monkeypatch.setattr(mnist, "BASE_URL", (tmp_path / "server").as_uri())
    with pytest.raises(ChecksumError, match="SHA-256 .* expected 0fa7898d"):
        MNIST("test")                     # the official hashes, which fakes do not match
    assert list(mnist.cache_dir().iterdir()) == []


def test_offline_download_fails_cleanly_saying_what_to_do(monkeypatch, tmp_path):
    def unreachable(url, timeout):
        assert timeout == mnist.DOWNLOAD_TIMEOUT
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(mnist, "url_opener", unreachable)
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST("train")
    message = str(info.value)
    for text in ["MNIST (train split) was not found", "$MINICNN_DATA",
                 str(tmp_path / "nowhere"), "no such directory", "user cache",
                 str(mnist.cache_dir()), "failed (", "Temporary failure in name resolution",
                 "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "--data-dir DIR",
                 "MINICNN_DATA=DIR", "mnist/ sub-directory"]:
        assert text in message, text
    assert not mnist.cache_dir().exists()


def test_download_off_says_it_was_not_attempted():
    with pytest.raises(DatasetNotFoundError, match=r"not attempted \(download=False\)"):
        MNIST("test", download=False)
