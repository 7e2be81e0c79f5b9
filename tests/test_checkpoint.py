"""minicnn.save / minicnn.load: exact resume (model, optimiser, scheduler, Dropout generator),
no pickle, atomic writes, and clear errors for another architecture or a damaged file."""

import json
import os
import zipfile

import numpy as np
import pytest

import minicnn
from minicnn import nn, optim
from minicnn.models import CNN
from minicnn.optim import lr_scheduler


def _batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((8, 1, 28, 28)).astype(np.float32),
             rng.integers(0, 10, size=8)) for _ in range(n)]


def _setup(opt="adam"):
    model = CNN(rng=0, dropout=0.4)
    if opt == "adam":
        optimizer = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    else:
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    return model, optimizer, scheduler


def _train(model, optimizer, scheduler, batches):
    criterion = nn.CrossEntropyLoss()
    model.train()
    for images, labels in batches:
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        model.backward(criterion.backward())
        optimizer.step()
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(float(loss) + 1.0)       # never improves: the lr keeps dropping
        else:
            scheduler.step()


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_train_save_load_continue_equals_uninterrupted_training(tmp_path, opt):
    batches = _batches(5)
    straight = _setup(opt)
    _train(*straight, batches)

    first = _setup(opt)
    _train(*first, batches[:2])
    path = tmp_path / "ckpt.npz"
    minicnn.save(path, *first, epoch=2, history=[{"loss": 1.5}], note="mid-run")
    resumed = _setup(opt)
    resumed[0].classifier[4].rng = np.random.default_rng(999)   # must be restored from file
    meta = minicnn.load(path, *resumed)
    assert meta["epoch"] == 2 and meta["history"] == [{"loss": 1.5}] and meta["note"] == "mid-run"
    assert meta["model_class"] == "CNN" and meta["format_version"] == 1
    _train(*resumed, batches[2:])

    for (key, a), (_, b) in zip(straight[0].state_dict().items(),
                                resumed[0].state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    assert straight[1].param_groups[0]["lr"] == resumed[1].param_groups[0]["lr"]
    assert straight[2].state_dict() == resumed[2].state_dict()


def test_file_is_plain_npz_readable_without_pickle(tmp_path):
    model, optimizer, scheduler = _setup()
    _train(model, optimizer, scheduler, _batches(1))
    path = minicnn.save(tmp_path / "c.npz", model, optimizer, scheduler, epoch=1,
                        best=float("inf"), shape=np.array([1, 2]))
    with np.load(path, allow_pickle=False) as npz:
        assert "model/conv_block1.0.weight" in npz.files
        header = json.loads(str(npz["__header__"][()]))
        assert npz["model/classifier.2.num_batches_tracked"].dtype == np.int64
    assert header["format"] == "minicnn-checkpoint" and header["model_class"] == "CNN"
    assert header["optimizer_class"] == "Adam"
    assert header["generators"]["classifier.4"]["bit_generator"] == "PCG64"
    meta = minicnn.load(path)
    assert meta["best"] == float("inf")
    np.testing.assert_array_equal(meta["shape"], [1, 2])
    assert list(meta["state_dict"]) == list(model.state_dict())
    assert not [p for p in os.listdir(tmp_path) if p != "c.npz"]    # no temporary file left


def test_save_is_atomic_when_writing_fails(tmp_path):
    model = CNN(rng=0)
    path = minicnn.save(tmp_path / "c.npz", model, epoch=1)
    with pytest.raises(TypeError, match="cannot store a object"):
        minicnn.save(path, model, epoch=object())
    assert minicnn.load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["c.npz"]
    with pytest.raises(ValueError, match="reserved"):
        minicnn.save(path, model, state_dict=1)


def test_loading_another_architecture_lists_missing_unexpected_and_misshaped(tmp_path):
    path = minicnn.save(tmp_path / "c.npz", CNN(rng=0, num_classes=5))
    other = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32))
    with pytest.raises(ValueError) as info:
        minicnn.load(path, other)
    message = str(info.value)
    assert "the checkpoint holds a CNN" in message
    assert "missing keys (7): 0.weight, 0.bias, 1.weight" in message
    assert "unexpected keys" in message and "conv_block1.0.weight" in message
    target = CNN(rng=1, num_classes=10)
    before = target.state_dict()
    with pytest.raises(ValueError, match=r"mis-shaped keys: classifier.5.weight has shape "
                                         r"\(5, 256\) in the state but \(10, 256\) in the model"):
        minicnn.load(path, target)
    for key, value in target.state_dict().items():        # nothing was changed
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_optimizer_or_scheduler_mismatch_is_refused(tmp_path):
    model, optimizer, scheduler = _setup()
    path = minicnn.save(tmp_path / "c.npz", model, optimizer)
    with pytest.raises(ValueError, match="holds no scheduler state"):
        minicnn.load(path, model, optimizer, scheduler)
    sgd = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="holds a Adam state, not a SGD"):
        minicnn.load(path, model, sgd)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = minicnn.save(tmp_path / "c.npz", CNN(rng=0), epoch=3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"c\.npz: not a valid minicnn checkpoint, or the file "
                                         r"is truncated or damaged"):
        minicnn.load(path, CNN(rng=0))
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="not a valid minicnn checkpoint"):
        minicnn.load(path)


def _rewrite(path, change):
    """Rewrite a checkpoint with one entry changed, as a valid zip (so only our checks can
    notice)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_tampered_file_is_a_clear_error(tmp_path):
    model = CNN(rng=0)
    path = minicnn.save(tmp_path / "c.npz", model)

    def bump(arrays):
        arrays["model/classifier.5.bias"] = arrays["model/classifier.5.bias"] + 1

    _rewrite(path, bump)
    with pytest.raises(ValueError, match="do not match the checksum"):
        minicnn.load(path, model)

    path = minicnn.save(tmp_path / "d.npz", model)

    def break_header(arrays):
        arrays["__header__"] = np.array(str(arrays["__header__"][()])[:-5])

    _rewrite(path, break_header)
    with pytest.raises(ValueError, match=r"d\.npz: not a valid minicnn checkpoint.*JSONDecode"):
        minicnn.load(path, model)

    path = minicnn.save(tmp_path / "e.npz", model)
    raw = bytearray(path.read_bytes())
    start = raw.find(b"model/classifier.1.weight")
    raw[start + 4000] ^= 0xFF                                   # flip bits inside the data
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"e\.npz: not a valid minicnn checkpoint"):
        minicnn.load(path, model)

    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="no __header__ entry"):
        minicnn.load(tmp_path / "plain.npz")
    with zipfile.ZipFile(tmp_path / "fake.npz", "w") as zf:
        zf.writestr("__header__.npy", b"garbage")
    with pytest.raises(ValueError, match="not a valid minicnn checkpoint"):
        minicnn.load(tmp_path / "fake.npz")


def test_saved_checkpoint_has_the_permissions_of_an_ordinary_file(tmp_path):
    import os

    from minicnn import nn, save
    old_umask = os.umask(0o022)
    try:
        path = save(tmp_path / "model.npz", nn.Linear(3, 2, rng=0))
    finally:
        os.umask(old_umask)
    assert (os.stat(path).st_mode & 0o777) == 0o644
