"""What PyTorch returns for a test's inputs: live when torch is installed, recorded otherwise.

A cross-check writes the PyTorch side as a plain function of torch and NumPy inputs, and asks
the ``torch_reference`` fixture (tests/conftest.py) for its result::

    def torch_relu(torch, x, dout):
        x_t = torch.tensor(x, requires_grad=True)
        out_t = torch.nn.functional.relu(x_t)
        out_t.backward(torch.tensor(dout))
        return out_t, x_t.grad                       # tensors, arrays, numbers, or a dict

    def test_matches_torch(torch_reference, rng):
        x, dout = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 5, 5))
        out_t, dx_t = torch_reference(torch_relu, x, dout)      # NumPy arrays either way
        ...compare minicnn with out_t and dx_t...

- torch installed: ``torch_relu`` runs, the test gets its result, and the recording of this
  call must agree with it (so a stale or wrong recording fails where torch is installed, in CI).
- torch absent: the test gets the recorded result, from tests/torch_recordings/<test module
  path>.npz, written by ``python tests/support/record_torch.py``.

Each result is recorded under a fingerprint of the function's name and its inputs, and each
call's fingerprint under the test's id and call number (to say what changed). A call whose
inputs were not recorded fails with "re-record: python tests/support/record_torch.py" rather than
compare against stale numbers; a new test whose calls are those of a recorded one (a new
parametrisation of the minicnn side, say) finds them.

The inputs themselves are not stored (the test regenerates them from its seed), so they must
be exactly reproducible on any machine: draw them from seeded generators (and elementwise
arithmetic on the draws), never from minicnn's outputs, whose last bits depend on the BLAS
library and the thread count. Shapes of minicnn's outputs are fine.

A recording file holds a ``__meta__`` entry (JSON: the torch and NumPy versions, each call's
fingerprint, and where each fingerprint's outputs lie) and one flat buffer per dtype holding
the outputs as torch returned them (a float32 test records float32), each distinct array once.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
RECORDINGS_DIR = TESTS_DIR / "torch_recordings"
RERECORD = "re-record: python tests/support/record_torch.py"

# How far a recording may stand from live torch (relative, and relative to the array's largest
# entry): kernels may sum in another order on another CPU or thread count, nothing more.
AGREEMENT = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5,
             np.dtype(np.float64): 1e-11}
# ... relative to the array's largest entry, but never to less than this: an array that is
# zero in exact arithmetic (the gradient of a conv bias that BatchNorm follows) holds only
# rounding noise, ~1e-17 in float64, whose digits change with torch's thread count (recorded
# -2.8e-17, live -6.9e-18 for the lecture CNN's conv_block1.0.bias, run alone).
AGREEMENT_SCALE_FLOOR = 1e-3


# ----------------------------------------------------------------------------- fingerprints

def fingerprint(compute, args, kwargs) -> str:
    """A short hash of what a call computes: the function's name and every input, exactly
    (array dtype, shape and bytes; numbers by their exact ``repr``)."""
    digest = hashlib.sha256(compute.__qualname__.encode())
    _feed(digest, tuple(args), compute)
    _feed(digest, dict(kwargs), compute)
    return digest.hexdigest()[:16]


def _feed(digest, value, compute):
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.ascontiguousarray(value)
        digest.update(f"array {array.dtype.str} {array.shape}:".encode())
        digest.update(array.tobytes())
    elif value is None or isinstance(value, (bool, int, float, str)):
        digest.update(f"{type(value).__name__} {value!r};".encode())
    elif isinstance(value, (tuple, list)):
        digest.update(f"{type(value).__name__} {len(value)}(".encode())
        for item in value:
            _feed(digest, item, compute)
        digest.update(b")")
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)}(".encode())
        for key in sorted(value):
            _feed(digest, str(key), compute)
            _feed(digest, value[key], compute)
        digest.update(b")")
    else:
        raise TypeError(f"torch_reference({compute.__qualname__}, ...): inputs must be NumPy "
                        f"arrays, numbers, strings, None, or tuples, lists and dicts of them, "
                        f"got {type(value).__name__}")


# ----------------------------------------------------------------------------- outputs

def as_outputs(result, compute):
    """What ``compute`` returned, as NumPy: a single output, a tuple of outputs or a dict of
    named outputs; each a tensor, an array, a number, a string, a list of numbers or strings,
    or None (in a tuple or dict)."""
    if isinstance(result, dict):
        return {str(name): _as_array(value, compute) for name, value in result.items()}
    if isinstance(result, tuple):
        return tuple(_as_array(value, compute) for value in result)
    return _as_array(result, compute)


def _as_array(value, compute):
    if value is None:
        return None
    if hasattr(value, "detach"):                              # a torch.Tensor
        return value.detach().cpu().numpy().copy()
    if isinstance(value, (np.ndarray, np.generic, bool, int, float, str, list)):
        array = np.array(value)
        if array.dtype != object:
            return array
    raise TypeError(f"torch_reference: {compute.__qualname__} must return tensors, arrays, "
                    f"numbers, strings or lists of them (in a tuple or a dict), got "
                    f"{type(value).__name__}")


def _layout(outputs, store):
    """The JSON layout of ``outputs``: its structure, with each array replaced by what
    ``store(array)`` returns (where the array lies in the file's buffers)."""
    if isinstance(outputs, dict):
        return {"dict": {name: _layout_one(value, store) for name, value in outputs.items()}}
    if isinstance(outputs, tuple):
        return {"tuple": [_layout_one(value, store) for value in outputs]}
    return {"single": _layout_one(outputs, store)}


def _layout_one(value, store):
    return None if value is None else store(value)


def _rebuild(layout, buffers):
    """The outputs that ``_layout`` described, cut out of the stored buffers."""
    def one(entry):
        if entry is None:
            return None
        buffer, offset, shape = entry
        size = int(np.prod(shape, dtype=np.int64))
        return buffers[buffer][offset:offset + size].reshape(shape).copy()

    if "dict" in layout:
        return {name: one(entry) for name, entry in layout["dict"].items()}
    if "tuple" in layout:
        return tuple(one(entry) for entry in layout["tuple"])
    return one(layout["single"])


def _flat(outputs):
    """(label, array) pairs of an outputs structure, for comparisons."""
    if isinstance(outputs, dict):
        return list(outputs.items())
    if isinstance(outputs, tuple):
        return [(f"output {i}", value) for i, value in enumerate(outputs)]
    return [("output", outputs)]


# ----------------------------------------------------------------------------- files

def recording_path(test_file) -> Path:
    """tests/functional/test_conv.py -> tests/torch_recordings/functional/test_conv.npz"""
    return RECORDINGS_DIR / Path(test_file).resolve().relative_to(TESTS_DIR).with_suffix(".npz")


class Recording:
    """One test module's recording, read from its .npz file (or missing)."""

    def __init__(self, path: Path):
        self.path = path
        root = TESTS_DIR.parent
        self.shown = path.relative_to(root) if path.is_relative_to(root) else path
        self.exists = path.exists()
        self.meta = {"torch": None, "numpy": None, "calls": {}, "results": {}}
        self._buffers = {}
        if self.exists:
            with np.load(path, allow_pickle=False) as stored:
                self.meta = json.loads(str(stored["__meta__"]))
                self._buffers = {name: stored[name] for name in stored.files
                                 if name != "__meta__"}

    def versions(self) -> str:
        return f"recorded with torch {self.meta['torch']} and NumPy {self.meta['numpy']}"

    def lookup(self, key, call_fingerprint):
        """The recorded outputs of the computation ``call_fingerprint`` names (whichever test
        recorded it); fails, saying why and to re-record, if there is none."""
        if not self.exists:
            pytest.fail(f"{self.shown} does not exist, so there is no PyTorch result for "
                        f"{key}; {RERECORD}", pytrace=False)
        layout = self.meta["results"].get(call_fingerprint)
        if layout is not None:
            return _rebuild(layout, self._buffers)
        recorded_fingerprint = self.meta["calls"].get(key)
        if recorded_fingerprint is None:
            pytest.fail(f"{self.shown} has no PyTorch result for {key} (a new cross-check, or "
                        f"one that calls PyTorch more often than when it was recorded); "
                        f"{RERECORD}", pytrace=False)
        pytest.fail(f"{self.shown}: the inputs of {key} are not those that were recorded "
                    f"(fingerprint {call_fingerprint}, recorded {recorded_fingerprint}; "
                    f"{self.versions()}, NumPy {np.__version__} here); {RERECORD}",
                    pytrace=False)


def write_recording(path: Path, calls, torch_version: str) -> None:
    """Write one module's calls ``{key: (fingerprint, outputs)}`` to ``path``, compressed: the
    arrays of each dtype flattened into one buffer, each distinct array stored once, and a
    JSON ``__meta__`` with each call's fingerprint and, per fingerprint, where its outputs lie
    ([buffer, offset, shape])."""
    parts, sizes, where = {}, {}, {}

    def store(array):
        buffer = array.dtype.name
        content = (array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
        if content not in where:
            where[content] = [buffer, sizes.get(buffer, 0), list(array.shape)]
            parts.setdefault(buffer, []).append(array.ravel())
            sizes[buffer] = sizes.get(buffer, 0) + array.size
        return where[content]

    results = {}
    for fp, outputs in (calls[key] for key in sorted(calls)):
        if fp not in results:
            results[fp] = _layout(outputs, store)
    meta = {"torch": torch_version, "numpy": np.__version__,
            "written_by": "python tests/support/record_torch.py",
            "calls": {key: fp for key, (fp, _) in sorted(calls.items())},
            "results": results}
    entries = {"__meta__": np.array(json.dumps(meta)),
               **{buffer: np.concatenate(arrays) for buffer, arrays in parts.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    # np.savez_compressed's layout, with a fixed timestamp: the same results, the same bytes,
    # so that git sees a change only where PyTorch's numbers changed
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in entries.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as file:
                np.lib.format.write_array(file, array, allow_pickle=False)


_RECORDINGS: dict[Path, Recording] = {}


def recording_for(test_file) -> Recording:
    """The recording of a test module, read once per session."""
    path = recording_path(test_file)
    if path not in _RECORDINGS:
        _RECORDINGS[path] = Recording(path)
    return _RECORDINGS[path]


# ----------------------------------------------------------------------------- agreement

def assert_recording_agrees(recorded, live, key, recording: Recording, torch_version):
    """A recording must hold what live torch returns now, to within ``AGREEMENT``."""
    recorded_items, live_items = _flat(recorded), _flat(live)
    where = f"{recording.shown}, {key}"
    advice = f"({recording.versions()}, torch {torch_version} here); {RERECORD}"
    if [label for label, _ in recorded_items] != [label for label, _ in live_items]:
        pytest.fail(f"{where}: the recording holds outputs "
                    f"{[label for label, _ in recorded_items]}, live torch returns "
                    f"{[label for label, _ in live_items]} {advice}", pytrace=False)
    for (label, got), (_, want) in zip(recorded_items, live_items):
        if got is None or want is None:
            if got is not want:
                pytest.fail(f"{where}, {label}: recorded {got!r}, live torch {want!r} {advice}",
                            pytrace=False)
            continue
        if got.dtype != want.dtype or got.shape != want.shape:
            pytest.fail(f"{where}, {label}: recorded {got.dtype}{list(got.shape)}, live torch "
                        f"returns {want.dtype}{list(want.shape)} {advice}", pytrace=False)
        if want.dtype in AGREEMENT and want.size:
            tolerance = AGREEMENT[want.dtype]
            finite = np.abs(want[np.isfinite(want)])
            scale = max(float(finite.max()) if finite.size else 0.0, AGREEMENT_SCALE_FLOOR)
            same = np.isclose(got, want, rtol=tolerance, atol=tolerance * scale, equal_nan=True)
        else:
            same = got == want
        if not np.all(same):
            bad = np.argwhere(~np.asarray(same))
            index = tuple(int(i) for i in bad[0])
            pytest.fail(f"{where}, {label}: the recording disagrees with live torch at "
                        f"{bad.shape[0]} of {want.size} entries, first at {index}: recorded "
                        f"{got[index].item()!r}, live {want[index].item()!r} {advice}",
                        pytrace=False)


# ----------------------------------------------------------------------------- the fixture

class Recorder:
    """Collects every call of a pytest run, for tests/support/record_torch.py (a pytest plugin)."""

    def __init__(self, torch_version: str):
        self.torch_version = torch_version
        self.calls: dict[Path, dict[str, tuple[str, object]]] = {}
        self.failed: list[str] = []

    def add(self, test_file, key, call_fingerprint, outputs):
        self.calls.setdefault(recording_path(test_file), {})[key] = (call_fingerprint, outputs)

    def pytest_configure(self, config):
        config.stash[RECORDER_KEY] = self

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.append(report.nodeid)


RECORDER_KEY = pytest.StashKey[Recorder]()


class TorchReference:
    """``torch_reference(compute, *inputs, **options)``: ``compute(torch, *inputs, **options)``
    run live (checked against its recording) or read from the recording; see the module
    docstring. One per test; its calls are numbered in order."""

    def __init__(self, node, torch_module, recorder: Recorder | None = None):
        self.test_file = node.path
        self.test_id = node.nodeid.split("::", 1)[1]
        self.torch = torch_module
        self.recorder = recorder
        self.calls = 0

    def __call__(self, compute, *args, **kwargs):
        key = f"{self.test_id} call {self.calls}"
        self.calls += 1
        call_fingerprint = fingerprint(compute, args, kwargs)
        if self.recorder is not None:
            outputs = as_outputs(compute(self.torch, *args, **kwargs), compute)
            self.recorder.add(self.test_file, key, call_fingerprint, outputs)
            return outputs
        recording = recording_for(self.test_file)
        recorded = recording.lookup(key, call_fingerprint)
        if self.torch is None:
            return recorded
        live = as_outputs(compute(self.torch, *args, **kwargs), compute)
        assert_recording_agrees(recorded, live, key, recording, self.torch.__version__)
        return live
