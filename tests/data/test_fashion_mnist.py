"""FashionMNIST: where it looks, in which order, downloads (faked locally), errors, fallback.

The conftest isolates every test: HOME/XDG_CACHE_HOME/MINICNN_DATA in tmp_path, the Debian
directory and the download URL pointing at local directories. No network is used.
"""

import hashlib
import gzip
import urllib.error
import warnings

import numpy as np
import pytest

from minicnn.data import (CLASSES, ChecksumError, DatasetNotFoundError, FashionMNIST,
                          IDXError, SampleDataWarning, cache_dir)
from minicnn.data import fashion_mnist


def serve_from(monkeypatch, directory, fakes):
    """Make `directory` the download server and trust its files' content hashes."""
    monkeypatch.setattr(fashion_mnist, "BASE_URL", directory.as_uri())
    monkeypatch.setattr(fashion_mnist, "SHA256", {**fashion_mnist.SHA256,
                                                  **fakes.sha256(directory)})


# ----------------------------------------------------------------------------- places

@pytest.mark.parametrize("compress", [True, False])
def test_root_argument_is_read(tmp_path, fakes, compress):
    arrays = fakes.make_dir(tmp_path / "mine", compress=compress)
    train = FashionMNIST("train", root=tmp_path / "mine", download=False, allow_sample=False)
    np.testing.assert_array_equal(train.images, arrays["train"][0])
    np.testing.assert_array_equal(train.labels, arrays["train"][1])
    assert train.images.dtype == np.uint8 and train.images.shape == (30, 28, 28)
    assert train.labels.dtype == np.int64
    assert train.classes == CLASSES and train.split == "train"
    assert train.source == str(tmp_path / "mine") and not train.is_sample
    assert len(train) == 30
    image, label = train[3]
    assert image.shape == (28, 28) and label == 3
    test = FashionMNIST("test", root=str(tmp_path / "mine"), download=False)
    assert len(test) == 20 and test.split == "test"


def test_minicnn_data_env_var_is_read(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "env")
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))
    assert FashionMNIST("test", download=False).source == str(tmp_path / "env")


def test_root_argument_takes_precedence_over_env_var(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "env")
    fakes.make_dir(tmp_path / "arg")
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))
    assert FashionMNIST("test", root=tmp_path / "arg").source == str(tmp_path / "arg")


def test_cache_comes_before_debian(tmp_path, fakes, monkeypatch, isolated_data_env):
    fakes.make_dir(cache_dir(), seed=1)
    fakes.make_dir(tmp_path / "debian", seed=2)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "debian")
    assert cache_dir() == isolated_data_env / ".cache" / "minicnn" / "fashion-mnist"
    assert FashionMNIST("train", download=False).source == str(cache_dir())


def test_debian_directory_is_used_when_nothing_else_has_the_files(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "debian")
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "debian")
    fakes.make_dir(cache_dir(), splits=("test",))        # cache holds only the other split
    assert FashionMNIST("train", download=False).source == str(tmp_path / "debian")


def test_xdg_cache_home_is_honoured(tmp_path, fakes, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "minicnn" / "fashion-mnist"
    fakes.make_dir(cache_dir())
    assert FashionMNIST("test", download=False).source == str(cache_dir())


def test_split_must_be_train_or_test():
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        FashionMNIST("validation")


# ----------------------------------------------------------------------------- damage

def test_corrupt_file_is_an_error_naming_it_not_a_fallback(tmp_path, fakes):
    fakes.make_dir(tmp_path / "mine")
    bad = tmp_path / "mine" / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(IDXError) as info:
        FashionMNIST("train", root=tmp_path / "mine")
    assert str(bad) in str(info.value)


def test_images_of_the_wrong_size_are_rejected(tmp_path, fakes):
    from minicnn.data.idx import write_idx
    fakes.make_dir(tmp_path / "mine")
    path = write_idx(tmp_path / "mine" / "train-images-idx3-ubyte.gz",
                     np.zeros((30, 27, 27), np.uint8))
    with pytest.raises(IDXError, match=r"expected \(N, 28, 28\)") as info:
        FashionMNIST("train", root=tmp_path / "mine")
    assert str(path) in str(info.value)


def test_image_and_label_counts_must_match(tmp_path, fakes):
    from minicnn.data.idx import write_idx
    fakes.make_dir(tmp_path / "mine")
    write_idx(tmp_path / "mine" / "train-labels-idx1-ubyte.gz", np.zeros(29, np.uint8))
    with pytest.raises(IDXError, match="30 images but .* 29 labels"):
        FashionMNIST("train", root=tmp_path / "mine")


def test_labels_out_of_range_are_rejected(tmp_path, fakes):
    from minicnn.data.idx import write_idx
    fakes.make_dir(tmp_path / "mine")
    write_idx(tmp_path / "mine" / "train-labels-idx1-ubyte.gz", np.full(30, 10, np.uint8))
    with pytest.raises(IDXError, match="label 10 out of range"):
        FashionMNIST("train", root=tmp_path / "mine")


# ----------------------------------------------------------------------------- download

def test_download_goes_to_the_cache_atomically_with_progress(tmp_path, fakes, monkeypatch,
                                                             capsys):
    arrays = fakes.make_dir(tmp_path / "server")
    serve_from(monkeypatch, tmp_path / "server", fakes)
    train = FashionMNIST("train", allow_sample=False)
    np.testing.assert_array_equal(train.images, arrays["train"][0])
    assert train.source == str(cache_dir())
    assert sorted(p.name for p in cache_dir().iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]      # no temp files left
    err = capsys.readouterr().err
    assert "Downloading train-images-idx3-ubyte.gz" in err and "100%" in err
    # a second load reads the cache: the server is no longer needed
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "gone").as_uri())
    assert FashionMNIST("train", allow_sample=False).source == str(cache_dir())


def test_sha256_mismatch_is_an_error_and_the_file_is_not_kept(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "server")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "server").as_uri())
    # fashion_mnist.SHA256 still holds the official hashes, which the fakes do not match
    with pytest.raises(ChecksumError, match="SHA-256 .* expected c59f468a") as info:
        FashionMNIST("train")
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


def test_download_of_a_non_gzip_page_is_a_checksum_error(tmp_path, fakes, monkeypatch):
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "t10k-images-idx3-ubyte.gz").write_bytes(b"<html>captive portal")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "server").as_uri())
    with pytest.raises(ChecksumError, match="SHA-256"):
        FashionMNIST("test")
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


def test_official_hashes_match_the_debian_files(fakes):
    directory = fakes.real_debian_dir
    if not (directory / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"{directory} absent: apt install dataset-fashion-mnist to run this test")
    for name, expected in fashion_mnist.SHA256.items():
        content = gzip.decompress((directory / (name + ".gz")).read_bytes())
        assert hashlib.sha256(content).hexdigest() == expected, name


def test_network_failure_is_reported_not_raised(monkeypatch):
    def unreachable(url, timeout):
        assert timeout == fashion_mnist.DOWNLOAD_TIMEOUT
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(fashion_mnist, "url_opener", unreachable)
    with pytest.raises(DatasetNotFoundError, match="failed .*Name or service not known"):
        FashionMNIST("test", allow_sample=False)


def test_timeout_is_reported_not_raised(monkeypatch):
    def slow(url, timeout):
        raise TimeoutError("timed out")
    monkeypatch.setattr(fashion_mnist, "url_opener", slow)
    with pytest.raises(DatasetNotFoundError, match="timed out"):
        FashionMNIST("test", allow_sample=False)


# ----------------------------------------------------------------------------- all fail

def test_all_fail_error_lists_every_place_and_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as info:
        FashionMNIST("train", allow_sample=False)
    message = str(info.value)
    for place in ["$MINICNN_DATA", str(tmp_path / "nowhere"), "user cache", str(cache_dir()),
                  "Debian package dataset-fashion-mnist", str(fashion_mnist.DEBIAN_DIR),
                  "download from " + fashion_mnist.BASE_URL]:
        assert place in message, place
    assert "apt install dataset-fashion-mnist" in message
    assert "root=DIR" in message and "--data-dir" in message and "MINICNN_DATA=DIR" in message
    assert "allow network access" in message
    assert "root='sample'" in message


def test_all_fail_with_download_off_says_it_was_not_attempted():
    with pytest.raises(DatasetNotFoundError, match=r"\$MINICNN_DATA: not set(.|\n)*"
                                                   r"not attempted \(download=False\)"):
        FashionMNIST("test", download=False, allow_sample=False)


def test_root_argument_replaces_env_var_in_the_report(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="root argument .*no such directory"):
        FashionMNIST("test", root=tmp_path / "missing", download=False, allow_sample=False)


# ----------------------------------------------------------------------------- sample

def test_falls_back_to_the_sample_with_a_notice_once():
    with pytest.warns(SampleDataWarning, match="SAMPLE(.|\n)*apt install"):
        train = FashionMNIST("train")
    assert train.is_sample and train.source == "sample" and len(train) == 2000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test = FashionMNIST("test")                       # the notice is given only once
    assert test.is_sample and len(test) == 500


def test_sample_can_be_asked_for_explicitly_without_a_notice(tmp_path, fakes, monkeypatch):
    fakes.make_dir(tmp_path / "env")
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))     # full data is available
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample = FashionMNIST("test", root="sample")
    assert sample.is_sample and sample.source == "sample" and len(sample) == 500
    assert sample.images.dtype == np.uint8 and sample.labels.dtype == np.int64


def test_failed_download_leaves_no_cache_directory_behind():
    with pytest.raises(DatasetNotFoundError):
        FashionMNIST("test", allow_sample=False)
    assert not cache_dir().exists()


def test_a_directory_named_sample_is_still_reachable(tmp_path, fakes, monkeypatch):
    from pathlib import Path
    fakes.make_dir(tmp_path / "sample")
    monkeypatch.chdir(tmp_path)
    for root in ("./sample", Path("sample")):
        data = FashionMNIST("test", root=root, download=False, allow_sample=False)
        assert not data.is_sample and len(data) == 20
