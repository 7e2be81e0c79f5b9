"""The search path and download shared by every data set (minicnn.data.locate), on its own."""

import io

import pytest

from minicnn.data import locate as L


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


WANTED = {"a.bin": ("a.bin",), "b[.gz]": ("b.gz", "b")}


def test_root_replaces_the_env_var_and_unset_is_none(tmp_path, monkeypatch):
    places = L.search_places(None, tmp_path / "cache", ("Debian", tmp_path / "deb"))
    assert places == [("$MINICNN_DATA", None), ("user cache", tmp_path / "cache"),
                      ("Debian", tmp_path / "deb")]
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "env"))
    assert L.search_places(None, tmp_path / "c")[0] == ("$MINICNN_DATA", tmp_path / "env")
    assert L.search_places(tmp_path / "r", tmp_path / "c")[0] == (
        "root argument (--data-dir)", tmp_path / "r")


def test_first_place_with_every_file_wins_and_the_report_says_why_others_did_not(tmp_path):
    touch(tmp_path / "one" / "a.bin")                       # b missing
    touch(tmp_path / "two" / "a.bin")
    gz = touch(tmp_path / "two" / "b.gz")
    touch(tmp_path / "two" / "b")                           # .gz preferred
    places = [("unset", None), ("absent", tmp_path / "none"), ("one", tmp_path / "one"),
              ("two", tmp_path / "two")]
    found, report = L.locate(places, WANTED)
    assert found == (tmp_path / "two", [tmp_path / "two" / "a.bin", gz])
    assert report == ["unset: not set", f"absent: {tmp_path / 'none'} (no such directory)",
                      f"one: {tmp_path / 'one'} (missing b[.gz])"]


def test_subdirectories_are_tried_in_order_and_a_rejected_one_is_noted(tmp_path):
    touch(tmp_path / "p" / "a.bin")
    touch(tmp_path / "p" / "b")
    touch(tmp_path / "p" / "sub" / "a.bin")
    touch(tmp_path / "p" / "sub" / "b")
    found, _ = L.locate([("p", tmp_path / "p")], WANTED, subdirs=("sub", ""))
    assert found[0] == tmp_path / "p" / "sub"
    found, report = L.locate([("p", tmp_path / "p")], WANTED, subdirs=("sub", ""),
                             reject=lambda d, paths: "wrong" if d.name == "sub" else None)
    assert found[0] == tmp_path / "p" and report == []
    found, report = L.locate([("p", tmp_path / "p")], WANTED, subdirs=("sub", ""),
                             reject=lambda d, paths: "wrong data")
    assert found is None
    assert report == [f"p: {tmp_path / 'p'} (sub/: wrong data; wrong data)"]


def test_try_download_reports_failures_but_raises_checksum_errors():
    report = []
    assert L.try_download(lambda: 1 / 0, "URL", True, report) is None
    assert report == ["download from URL: failed (division by zero)"]
    assert L.try_download(lambda: "never", "URL", False, report) is None
    assert report[-1] == "download from URL: not attempted (download=False)"
    with pytest.raises(L.ChecksumError):
        L.try_download(lambda: L.check_sha256(b"abc", "0" * 64, "f", "URL"), "URL", True, [])
    assert L.try_download(lambda: "got it", "URL", True, []) == "got it"


def test_not_found_message_numbers_the_places_and_lists_the_fixes():
    text = L.not_found_message("Thing", ["here: no", "there: no"], ["do this", "or that"])
    assert text == ("Thing was not found. Places tried, in order:\n  1. here: no\n"
                    "  2. there: no\nTwo ways to fix it:\n  - do this\n  - or that")


class Response(io.BytesIO):
    headers = {"Content-Length": "6"}


def test_download_file_is_atomic_and_checked(tmp_path, capsys):
    final = tmp_path / "cache" / "f.bin"
    out = L.download_file("u", final, opener=lambda url, timeout: Response(b"abcdef"),
                          timeout=1.0)
    assert out == final and final.read_bytes() == b"abcdef"
    assert "Downloading f.bin" in capsys.readouterr().err

    def refuse(tmp):
        assert tmp.read_bytes() == b"ghijkl" and tmp != final
        raise L.ChecksumError("no")
    with pytest.raises(L.ChecksumError):
        L.download_file("u", final, opener=lambda url, timeout: Response(b"ghijkl"),
                        timeout=1.0, check=refuse)
    assert final.read_bytes() == b"abcdef"                   # the old file is untouched
    assert sorted(p.name for p in final.parent.iterdir()) == ["f.bin"]


def test_an_offline_download_makes_no_directory(tmp_path):
    def offline(url, timeout):
        raise OSError("network is unreachable")
    with pytest.raises(OSError):
        L.download_file("u", tmp_path / "cache" / "f", opener=offline, timeout=1.0)
    assert not (tmp_path / "cache").exists()
