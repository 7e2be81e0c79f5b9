"""tests/support/torch_reference.py, the machinery behind the PyTorch cross-checks: fingerprints,
recordings written and read back, and the failures that say to re-record. A stand-in for torch
(the compute functions here return NumPy arrays), so all of it runs without PyTorch."""

from types import SimpleNamespace

import numpy as np
import pytest

import support.torch_reference as torch_reference
from support.torch_reference import (RERECORD, Recorder, Recording, TorchReference,
                             assert_recording_agrees, fingerprint, write_recording)

FAKE_TORCH = SimpleNamespace(__version__="0.0-stand-in")


def scaled(torch, x, scale, offset=0.0):
    """A stand-in for a PyTorch side: outputs of three dtypes, None, and a string."""
    return {"out": x * scale + offset, "index": np.argmax(x, axis=-1), "none": None,
            "name": "scaled"}


def pair(torch, x):
    return x.astype(np.float32), None


@pytest.fixture
def recordings(tmp_path, monkeypatch):
    """The recordings of a fake tests/ directory in tmp_path; returns a test node's maker."""
    tests = tmp_path / "tests"
    monkeypatch.setattr(torch_reference, "TESTS_DIR", tests)
    monkeypatch.setattr(torch_reference, "RECORDINGS_DIR", tests / "torch_recordings")
    monkeypatch.setattr(torch_reference, "_RECORDINGS", {})

    def node(name="test_scaled[a]", module="functional/test_fake.py"):
        return SimpleNamespace(path=tests / module, nodeid=f"tests/{module}::{name}")

    return node


def _record(node, *calls):
    """What tests/support/record_torch.py does: run test ``node``'s ``calls`` [(compute, args, kwargs)]
    "live" and write its module's recording."""
    recorder = Recorder(FAKE_TORCH.__version__)
    reference = TorchReference(node, FAKE_TORCH, recorder)
    for compute, args, kwargs in calls:
        reference(compute, *args, **kwargs)
    for path, module_calls in recorder.calls.items():
        write_recording(path, module_calls, recorder.torch_version)
    return recorder


def test_fingerprint_sees_every_input_exactly(rng):
    x = rng.standard_normal((3, 4))
    base = fingerprint(scaled, (x, 2.0), {})
    assert fingerprint(scaled, (x.copy(), 2.0), {}) == base
    changed = x.copy()
    changed[1, 2] = np.nextafter(changed[1, 2], np.inf)          # one bit of one entry
    others = [fingerprint(scaled, (changed, 2.0), {}),
              fingerprint(scaled, (x.astype(np.float32), 2.0), {}),
              fingerprint(scaled, (x.reshape(4, 3), 2.0), {}),
              fingerprint(scaled, (x, 2.0 + 1e-15), {}),
              fingerprint(scaled, (x, 2), {}),
              fingerprint(scaled, (x, 2.0), {"offset": 0.0}),
              fingerprint(pair, (x, 2.0), {})]
    assert len({base, *others}) == 1 + len(others)


def test_fingerprint_rejects_inputs_it_cannot_see_exactly():
    with pytest.raises(TypeError, match=r"torch_reference\(scaled, \.\.\.\): inputs must be "
                                        r"NumPy arrays.*got object"):
        fingerprint(scaled, (object(), 1.0), {})


def test_outputs_must_be_arrays_numbers_or_strings(recordings):
    reference = TorchReference(recordings(), FAKE_TORCH, Recorder("x"))
    with pytest.raises(TypeError, match="scaled_badly must return tensors, arrays"):
        def scaled_badly(torch, x):
            return {"out": object()}
        reference(scaled_badly, np.zeros(2))


def test_recorded_results_come_back_without_torch_as_they_were_returned(recordings, rng):
    x = rng.standard_normal((2, 5)).astype(np.float32)
    _record(recordings(), (scaled, (x, 3.0), {}), (pair, (x,), {}))
    reference = TorchReference(recordings(), None)               # no torch: the recording
    got = reference(scaled, x, 3.0)
    assert list(got) == ["out", "index", "none", "name"]
    np.testing.assert_array_equal(got["out"], x * 3.0)
    np.testing.assert_array_equal(got["index"], np.argmax(x, axis=-1))
    assert got["out"].dtype == np.float32 and got["index"].dtype == np.argmax(x, -1).dtype
    assert got["none"] is None and str(got["name"]) == "scaled"
    out, none = reference(pair, x)
    assert out.dtype == np.float32 and none is None


def test_identical_results_are_stored_once_and_the_bytes_do_not_change(recordings, rng):
    x = rng.standard_normal((40, 50))
    _record(recordings(), (scaled, (x, 2.0), {}))
    path = torch_reference.recording_path(recordings().path)
    once = path.read_bytes()
    _record(recordings(), (scaled, (x, 2.0), {}), (scaled, (x, 2.0), {}))   # twice: same data
    twice = path.read_bytes()
    assert abs(len(twice) - len(once)) < 100                    # only the second call's key
    _record(recordings(), (scaled, (x, 2.0), {}))
    assert path.read_bytes() == once                            # no timestamp in the file


def test_a_new_parametrisation_with_recorded_inputs_finds_the_result(recordings, rng):
    x = rng.standard_normal(4)
    _record(recordings("test_scaled[naive]"), (scaled, (x, 2.0), {}))
    other = TorchReference(recordings("test_scaled[im2col]"), None)
    np.testing.assert_array_equal(other(scaled, x, 2.0)["out"], x * 2.0)


def test_changed_inputs_fail_and_say_to_re_record(recordings, rng):
    x = rng.standard_normal(4)
    _record(recordings(), (scaled, (x, 2.0), {}))
    reference = TorchReference(recordings(), None)
    with pytest.raises(pytest.fail.Exception,
                       match=r"the inputs of test_scaled\[a\] call 0 are not those that were "
                             r"recorded .*" + RERECORD):
        reference(scaled, x, 2.5)


def test_a_call_never_recorded_fails_and_says_to_re_record(recordings, rng):
    x = rng.standard_normal(4)
    _record(recordings(), (scaled, (x, 2.0), {}))
    reference = TorchReference(recordings("test_new"), None)
    with pytest.raises(pytest.fail.Exception, match=r"no PyTorch result for test_new call 0 "
                                                    r"\(a new cross-check.*" + RERECORD):
        reference(scaled, x, 2.5)
    missing = TorchReference(recordings(module="nn/test_missing.py"), None)
    with pytest.raises(pytest.fail.Exception, match=r"test_missing.npz does not exist.*"
                                                    + RERECORD):
        missing(scaled, x, 2.0)


# what drifting() adds to its fourth entry: a PyTorch whose numbers changed since the recording
DRIFT = {"fourth": 0.0}


def drifting(torch, x):
    out = x * 2.0
    out[3] += DRIFT["fourth"]
    return out


def test_with_torch_a_wrong_recording_fails(recordings, rng, monkeypatch):
    x = rng.standard_normal(6)
    _record(recordings(), (drifting, (x,), {}))
    reference = TorchReference(recordings(), FAKE_TORCH)         # "live": compares
    np.testing.assert_array_equal(reference(drifting, x), x * 2.0)
    monkeypatch.setitem(DRIFT, "fourth", 1e-6)
    with pytest.raises(pytest.fail.Exception,
                       match=r"test_scaled\[a\] call 1, output: the recording disagrees with "
                             r"live torch at 1 of 6 entries, first at \(3,\).*" + RERECORD):
        reference(drifting, x)


def test_agreement_allows_another_summation_order_and_nothing_more(rng):
    recording = Recording(torch_reference.RECORDINGS_DIR / "none.npz")
    live = (rng.standard_normal(1000).astype(np.float32), np.arange(3))
    noisy = (live[0] * (1 + np.float32(1e-6)), live[1].copy())
    assert_recording_agrees(noisy, live, "key", recording, "x")
    for wrong in [(live[0] * (1 + np.float32(1e-4)), live[1]),
                  (live[0], live[1] + 1),
                  (live[0].astype(np.float64), live[1]),
                  (live[0][:-1], live[1]),
                  (live[0], None)]:
        with pytest.raises(pytest.fail.Exception, match=RERECORD):
            assert_recording_agrees(wrong, live, "key", recording, "x")
    nan = np.array([np.nan, np.inf, 1.0])
    assert_recording_agrees(nan.copy(), nan, "key", recording, "x")
