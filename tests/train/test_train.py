"""minicnn.train: the recipe learns, writes every artefact, resumes bit for bit, stops on NaN."""

import csv
import io
import json

import numpy as np
import pytest

import minicnn
from minicnn import train as training
from minicnn.train import (METRIC_COLUMNS, DivergenceGuard, ProgressBar, TrainConfig,
                           TrainingDiverged, resume, train)

# Columns that measure time, not learning: everything else must repeat exactly.
TIMING = ("seconds", "images_per_second")


def _read_metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _tiny(out, **changes):
    """A few seconds per epoch: 128 sample images, batches of 32."""
    values = dict(sample=True, subset=128, batch_size=32, epochs=1, out=str(out),
                  progress=False, figures=False, threads=1)
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The lecture's recipe for 2 epochs on the bundled sample (1,800 train / 200 val / 500
    test images)."""
    out = tmp_path_factory.mktemp("train") / "run"
    return train(TrainConfig(sample=True, epochs=2, out=str(out), progress=False, threads=1),
                 log=None)


def test_short_run_on_the_sample_beats_chance_by_a_wide_margin(sample_run):
    # 10 classes: chance is 10%. Seed 0 reaches 79% after 2 epochs (75% after 1, 84% after 3).
    assert sample_run.history[-1]["test_acc"] > 0.65
    assert sample_run.history[-1]["train_loss"] < sample_run.history[0]["train_loss"]


def test_sample_run_writes_metrics_csv_with_one_row_per_epoch(sample_run):
    rows = _read_metrics(sample_run.run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert tuple(rows[0]) == METRIC_COLUMNS
    for row in rows:
        for key in ("train_loss", "val_loss", "test_loss", "lr", "seconds"):
            assert float(row[key]) > 0
        for key in ("train_acc", "val_acc", "test_acc"):
            assert 0 <= float(row[key]) <= 1
    assert float(rows[0]["lr"]) == pytest.approx(1e-3)


def test_sample_run_writes_config_json_with_the_recipe(sample_run):
    doc = json.loads((sample_run.run_dir / "config.json").read_text())
    config = TrainConfig.from_dict(doc["config"])
    assert (config.lr, config.weight_decay, config.batch_size) == (1e-3, 1e-4, 64)
    assert (config.optimizer, config.scheduler, config.patience, config.factor) == \
        ("adam", "plateau", 3, 0.5)
    assert doc["data"]["is_sample"] and doc["data"]["val"] == 200
    assert doc["data"]["classes"][9] == "Ankle boot"


def test_sample_run_writes_last_and_best_checkpoints(sample_run):
    run_dir = sample_run.run_dir
    last = minicnn.load(run_dir / "last.npz")
    best = minicnn.load(run_dir / "best.npz")
    assert last["epoch"] == 2
    val_losses = [row["val_loss"] for row in sample_run.history]
    assert best["epoch"] == sample_run.best_epoch == int(np.argmin(val_losses)) + 1
    assert last["config"]["epochs"] == 2 and len(last["history"]) == 2
    # the checkpoint restores a model that scores what the run measured
    model = training.build_model(TrainConfig(sample=True))
    minicnn.load(run_dir / "last.npz", model=model)
    result = training.evaluate_checkpoint(run_dir / "last.npz", sample=True)
    assert result["acc"] == pytest.approx(sample_run.history[-1]["test_acc"])


def test_sample_run_writes_every_figure(sample_run):
    for name in training.FIGURES:
        path = sample_run.run_dir / name
        assert path.stat().st_size > 5000, name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "test accuracy" in sample_run.report()
    assert str(sample_run.run_dir) in sample_run.report()


def _weights(path):
    model = training.build_model(TrainConfig())
    minicnn.load(path, model=model)
    return model.state_dict()


def test_resume_two_plus_one_epochs_equals_three_uninterrupted(tmp_path):
    # patience=0 so the plateau scheduler acts within three epochs; dropout, augmentation,
    # Adam's moments and the data order must all carry over exactly.
    straight = train(_tiny(tmp_path / "straight", epochs=3, patience=0), log=None)
    train(_tiny(tmp_path / "split", epochs=2, patience=0), log=None)
    resumed = resume(tmp_path / "split", epochs=3, log=None)

    def numbers(history):
        return [{k: v for k, v in row.items() if k not in TIMING} for row in history]

    assert numbers(resumed.history) == numbers(straight.history)
    assert [{k: v for k, v in row.items() if k not in TIMING}
            for row in _read_metrics(tmp_path / "split")] == \
        [{k: v for k, v in row.items() if k not in TIMING}
         for row in _read_metrics(tmp_path / "straight")]
    a, b = _weights(tmp_path / "straight" / "last.npz"), _weights(tmp_path / "split" / "last.npz")
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_resume_of_a_finished_run_asks_for_more_epochs(tmp_path):
    train(_tiny(tmp_path / "run"), log=None)
    with pytest.raises(ValueError, match="already finished 1 of 1 epochs"):
        resume(tmp_path / "run", log=None)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path,
                                                                          monkeypatch):
    real = training.loop._batch_loss
    batches_per_epoch = 4  # 128 images / 32

    def loss(criterion, logits, labels):  # NaN in the second batch of epoch 2
        loss.calls += 1
        return float("nan") if loss.calls == batches_per_epoch + 2 else real(criterion, logits,
                                                                              labels)
    loss.calls = 0

    # _batch_loss is the training loop's loss (evaluation does not go through it)
    monkeypatch.setattr(training.loop, "_batch_loss", loss)
    with pytest.raises(TrainingDiverged, match="nan") as info:
        train(_tiny(tmp_path / "run", epochs=3), log=None)
    message = str(info.value)
    assert "epoch 2" in message and "last.npz" in message and "epoch 1" in message
    assert info.value.checkpoint == tmp_path / "run" / "last.npz"
    assert minicnn.load(tmp_path / "run" / "last.npz")["epoch"] == 1
    assert len(_read_metrics(tmp_path / "run")) == 1


def test_a_huge_learning_rate_stops_the_run(tmp_path):
    with pytest.raises(TrainingDiverged, match="diverged") as info:
        train(_tiny(tmp_path / "run", lr=1e6, optimizer="sgd", epochs=2), log=None)
    assert "smaller learning rate" in str(info.value)
    assert minicnn.load(tmp_path / "run" / "last.npz")["epoch"] in (0, 1)


def test_divergence_guard_rules():
    guard = DivergenceGuard(factor=1e3)
    guard.check(2.3, batch=1)
    guard.check(2000.0, batch=2)  # below 1000 x 2.3
    with pytest.raises(TrainingDiverged, match="more than 1000 times the first loss"):
        guard.check(2400.0, batch=3)
    with pytest.raises(TrainingDiverged, match="inf"):
        DivergenceGuard().check(float("inf"), batch=1)


def test_progress_bar_shows_loss_accuracy_and_speed_and_is_silent_when_disabled():
    stream = io.StringIO()
    bar = ProgressBar(10, desc="epoch 1/2", stream=stream, interval=0)
    for done in range(1, 11):
        bar.update(done, loss=0.5, acc=0.8, images=64 * done)
    text = stream.getvalue()
    assert "epoch 1/2" in text and "10/10" in text
    assert "loss 0.5000" in text and "80.0%" in text and "img/s" in text
    bar.close()
    quiet = io.StringIO()
    off = ProgressBar(10, stream=quiet, enabled=False)
    off.update(10, loss=0.5, acc=0.8, images=640)
    off.close()
    assert quiet.getvalue() == ""


def test_progress_bar_is_tqdm():
    from tqdm.std import tqdm as std_tqdm
    bar = ProgressBar(3, stream=io.StringIO())
    assert isinstance(bar._bar, std_tqdm)      # tqdm.auto: tqdm.std outside a notebook
    bar.close()


def test_train_one_epoch_draws_its_bar_only_when_asked(tmp_path, capsys):
    from minicnn import nn
    config = _tiny(tmp_path, subset=64)
    splits = training.load_datasets(config)
    model = training.build_model(config)
    optimizer = training.build_optimizer(model, config)
    train_loader, _, _ = training.make_loaders(splits, config)
    training.train_one_epoch(model, train_loader, nn.CrossEntropyLoss(), optimizer)
    assert capsys.readouterr().err == ""
    training.train_one_epoch(model, train_loader, nn.CrossEntropyLoss(), optimizer,
                             progress=True, epoch=2)
    assert "epoch 2" in capsys.readouterr().err


@pytest.mark.parametrize("change, words", [
    (dict(optimizer="foo"), "optimizer must be one of adam, adamw, sgd"),
    (dict(scheduler="linear"), "scheduler must be one of"),
    (dict(epochs=0), "epochs must be"),
    (dict(lr=-1.0), "lr must be > 0"),
    (dict(label_smoothing=1.5), "label_smoothing must be in"),
])
def test_config_validation_names_the_setting(change, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**change).validate()


def test_paths_may_be_pathlib_and_are_stored_as_text(tmp_path):
    config = TrainConfig(out=tmp_path / "run", data_dir=tmp_path)
    assert config.out == str(tmp_path / "run") and config.data_dir == str(tmp_path)
    json.dumps(config.to_dict())        # config.json must be able to hold it


def test_notebook_pieces_train_one_epoch_and_evaluate(tmp_path):
    from minicnn import nn
    config = _tiny(tmp_path, threads=None)
    splits = training.load_datasets(config)
    model = training.build_model(config)
    optimizer = training.build_optimizer(model, config)
    train_loader, val_loader, _ = training.make_loaders(splits, config)
    criterion = nn.CrossEntropyLoss()
    loss, acc = training.train_one_epoch(model, train_loader, criterion, optimizer)
    assert np.isfinite(loss) and 0 <= acc <= 1
    val_loss, val_acc, predictions = training.evaluate(model, val_loader, criterion)
    assert predictions.shape == (len(splits.val),) and predictions.dtype == np.int64
    assert val_acc == pytest.approx(np.mean(predictions == splits.val.labels))
    cm = training.confusion_matrix(splits.val.labels, predictions, 10)
    assert cm.sum() == len(splits.val)
    assert np.nansum(training.per_class_accuracy(cm) * cm.sum(axis=1)) == pytest.approx(
        val_acc * len(splits.val))


def test_threads_setting_is_scoped_to_the_run(tmp_path):
    import numba
    before = numba.get_num_threads()
    with training.limit_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_threads_setting_limits_blas_inside_the_block_only():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    assert blas_threads(), "NumPy's BLAS is not visible to threadpoolctl"
    with threadpool_limits(2):          # a known count outside, whatever the environment says
        with training.limit_threads(1):
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}


def test_label_smoothing_reaches_the_loss_and_is_saved(tmp_path):
    config = _tiny(tmp_path / "run", label_smoothing=0.1)
    criterion = training.build_criterion(config)
    assert criterion.label_smoothing == 0.1
    result = train(config, log=None)
    doc = json.loads((result.run_dir / "config.json").read_text())
    assert doc["config"]["label_smoothing"] == 0.1
    with pytest.raises(ValueError, match="label_smoothing cannot change"):
        resume(result.run_dir, epochs=2, label_smoothing=0.0, log=None)


def test_test_subset_scores_a_stratified_seeded_part_of_the_test_set(tmp_path, monkeypatch):
    from minicnn.data import FashionMNIST
    full = FashionMNIST("test", root="sample")                  # the sample's 500 test images
    splits = training.load_datasets(_tiny(tmp_path / "a", test_subset=100))
    assert len(splits.test) == 100 and splits.test.split == "test"
    assert np.bincount(splits.test.labels).tolist() == [10] * 10        # stratified
    np.testing.assert_array_equal(splits.test_positions, splits.test.indices)
    np.testing.assert_array_equal(splits.test.images, full.images[splits.test_positions])
    np.testing.assert_array_equal(splits.test.labels, full.labels[splits.test_positions])
    assert training.load_datasets(_tiny(tmp_path / "e")).test_positions is None
    again = training.load_datasets(_tiny(tmp_path / "b", test_subset=100))
    np.testing.assert_array_equal(again.test.indices, splits.test.indices)
    other = training.load_datasets(_tiny(tmp_path / "c", test_subset=100, seed=1))
    assert set(other.test.indices) != set(splits.test.indices)
    assert len(training.load_datasets(_tiny(tmp_path / "d", test_subset=501)).test) == 500

    # each epoch scores those images (the evaluation sees 100), the run says so and records it
    scored = []
    real_evaluate = training.run.evaluate
    monkeypatch.setattr(training.run, "evaluate",
                        lambda model, loader, *a, **k: scored.append(len(loader.dataset))
                        or real_evaluate(model, loader, *a, **k))
    notes = []
    result = train(_tiny(tmp_path / "run", test_subset=100), log=notes.append)
    assert scored == [len(splits.val), 100]
    assert any("scoring 100 of the 500 test images" in note for note in notes)
    assert result.test_images == 100 and "on 100 test images" in result.report()
    doc = json.loads((result.run_dir / "config.json").read_text())
    assert doc["config"]["test_subset"] == 100
    with pytest.raises(ValueError, match="test_subset cannot change"):
        resume(result.run_dir, epochs=2, test_subset=None, log=None)
    assert "test images" not in train(_tiny(tmp_path / "full"), log=None).report()


def test_figures_of_a_test_subset_run_name_the_images_by_their_number_in_the_test_set(
        tmp_path, monkeypatch):
    from minicnn import viz
    titles = {}
    for name in ("plot_confusion_matrix", "plot_feature_maps", "plot_explanations"):
        real = getattr(viz, name)
        monkeypatch.setattr(viz, name, lambda *a, _real=real, _name=name, **k:
                            titles.setdefault(_name, k["title"]) and _real(*a, **k))
    result = train(_tiny(tmp_path / "run", test_subset=100, figures=True), log=None)
    numbers = training.load_datasets(_tiny(tmp_path / "b", test_subset=100)).test_positions
    assert titles["plot_confusion_matrix"].startswith("Confusion matrix (100 test images, ")
    assert titles["plot_feature_maps"].startswith(f"Feature maps of test image {numbers[0]} ")
    shown = titles["plot_explanations"].split("(test images ")[1].rstrip(")").split(", ")
    assert set(map(int, shown)) <= set(numbers.tolist()) and len(shown) >= 2
    assert len(result.figures) == len(training.FIGURES)


@pytest.mark.parametrize("value", [0, -3, 2.5, "100"])
def test_test_subset_must_be_a_positive_integer(value):
    with pytest.raises(ValueError, match="test_subset must be an integer >= 1"):
        TrainConfig(test_subset=value).validate()


def test_cli_test_subset_option_reaches_the_run(tmp_path, capsys):
    from minicnn.cli import main
    out = tmp_path / "run"
    assert main(["train", "--sample", "--subset", "64", "--batch-size", "32", "--epochs", "1",
                 "--no-figures", "--no-progress", "--test-subset", "50", "--out",
                 str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["config"]["test_subset"] == 50
    assert "on 50 test images" in capsys.readouterr().out
    assert main(["train", "--sample", "--test-subset", "0"]) == 2
    assert "--test-subset: expected a positive integer, got '0'" in capsys.readouterr().err


def test_every_name_of_the_old_train_module_is_still_importable():
    # the names tests, notebooks, benchmarks, cli.py and the README import from minicnn.train
    names = ["TrainConfig", "TrainResult", "TrainingDiverged", "DivergenceGuard", "ProgressBar",
             "train", "resume", "train_one_epoch", "evaluate", "predict", "confusion_matrix",
             "per_class_accuracy", "set_threads", "limit_threads", "build_model",
             "build_optimizer", "build_scheduler", "load_datasets", "make_transforms",
             "make_loaders", "write_figures", "evaluate_checkpoint", "METRIC_COLUMNS",
             "DEFAULT_EPOCHS", "DEFAULT_THREADS", "FIGURES", "RESUMABLE_OVERRIDES", "Splits",
             "open_split", "write_metrics"]
    missing = [name for name in names if not hasattr(training, name)]
    assert missing == []
    assert callable(training.train) and training.train.__module__ == "minicnn.train.run"


def test_cli_label_smoothing_option_reaches_the_run(tmp_path, capsys):
    from minicnn.cli import main
    out = tmp_path / "run"
    status = main(["train", "--sample", "--subset", "64", "--batch-size", "32", "--epochs", "1",
                   "--no-figures", "--no-progress", "--label-smoothing", "0.1", "--out",
                   str(out)])
    assert status == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["config"]["label_smoothing"] == 0.1
    assert main(["train", "--sample", "--label-smoothing", "1.5", "--out",
                 str(tmp_path / "bad")]) == 1
    assert "label_smoothing must be in [0, 1]" in capsys.readouterr().err


class _RowModel:
    """A 'model' whose logits are a fixed linear map of the flattened image (and that records
    which images it saw), so flip test-time augmentation can be computed by hand."""

    training = False

    def __init__(self, weight):
        self.weight = weight            # (H*W, K)
        self.seen = []

    def eval(self):
        self.training = False

    def train(self, mode=True):
        self.training = mode

    def __call__(self, images):
        self.seen.append(images.copy())
        return images.reshape(len(images), -1) @ self.weight


def test_evaluate_with_flip_averages_the_probabilities_of_each_image_and_its_mirror():
    from minicnn import nn
    rng = np.random.default_rng(3)
    images = rng.standard_normal((6, 1, 2, 3))
    labels = np.array([0, 1, 2, 3, 0, 1])
    model = _RowModel(3 * rng.standard_normal((6, 4)))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss, acc, predictions = training.evaluate(model, [(images, labels)], criterion, flip=True)

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    plain = images.reshape(6, -1) @ model.weight
    mirrored = images[..., ::-1].reshape(6, -1) @ model.weight
    p = (softmax(plain) + softmax(mirrored)) / 2
    np.testing.assert_array_equal(model.seen[1], images[..., ::-1])
    np.testing.assert_array_equal(predictions, p.argmax(axis=1))
    assert acc == pytest.approx(np.mean(p.argmax(axis=1) == labels))
    # the loss is the smoothed cross entropy of the averaged prediction p
    target = np.full((6, 4), 0.1 / 4)
    target[np.arange(6), labels] += 0.9
    assert loss == pytest.approx(-np.mean((target * np.log(p)).sum(axis=1)), rel=1e-12)
    # and it is not what the plain evaluation gives on this model (the mirror matters)
    plain_loss, _, _ = training.evaluate(model, [(images, labels)], criterion)
    assert abs(plain_loss - loss) > 1e-3


def test_evaluate_with_flip_changes_nothing_for_a_mirror_symmetric_model_and_huge_logits():
    from minicnn import nn
    rng = np.random.default_rng(4)
    # the weight rows of pixels (i, 0) and (i, 1) are equal, so f(x) == f(mirror of x); the
    # logits are in the thousands, so a naive log(mean(exp)) would overflow
    rows = 1e4 * rng.standard_normal((2, 1, 4))
    model = _RowModel(np.repeat(rows, 2, axis=1).reshape(4, 4))   # pixel index 2i + j
    images = rng.standard_normal((5, 1, 2, 2))
    labels = np.array([0, 1, 2, 3, 0])
    criterion = nn.CrossEntropyLoss()
    flipped = training.evaluate(model, [(images, labels)], criterion, flip=True)
    plain = training.evaluate(model, [(images, labels)], criterion)
    assert np.isfinite(flipped[0])
    assert flipped[0] == pytest.approx(plain[0], rel=1e-9)
    assert flipped[1] == plain[1]
    np.testing.assert_array_equal(flipped[2], plain[2])


def test_evaluate_checkpoint_with_flip_is_at_least_as_good_a_loss_as_its_average(sample_run):
    # by convexity of -log, the cross entropy of the averaged prediction is at most the mean
    # of the two separate cross entropies (plain, and on mirrored images)
    from minicnn.data import DataLoader
    path = sample_run.run_dir / "last.npz"
    flipped = training.evaluate_checkpoint(path, sample=True, flip=True)
    plain = training.evaluate_checkpoint(path, sample=True)
    assert flipped["flip"] is True and plain["flip"] is False
    from minicnn.train.evaluation import load_checkpoint_model
    model, config, _ = load_checkpoint_model(path, sample=True)
    test = training.open_split(config, "test", lambda message: None)
    eval_tf = training.make_transforms(config)[1]
    mirror_loss = training.evaluate(
        model, [(x[..., ::-1].copy(), y) for x, y in DataLoader(test, batch_size=500,
                                                               transform=eval_tf)],
        training.build_criterion(config))[0]
    assert flipped["loss"] <= (plain["loss"] + mirror_loss) / 2 + 1e-9
    assert flipped["confusion"].sum() == flipped["images"]


def test_evaluate_checkpoint_on_the_runs_own_validation_images(sample_run):
    path = sample_run.run_dir / "last.npz"
    result = training.evaluate_checkpoint(path, sample=True, split="val")
    assert result["split"] == "val"
    # the same seeded hold-out the run scored after its last epoch
    assert result["acc"] == pytest.approx(sample_run.history[-1]["val_acc"])
    assert result["loss"] == pytest.approx(sample_run.history[-1]["val_loss"], rel=1e-6)
    with pytest.raises(ValueError, match="split"):
        training.evaluate_checkpoint(path, sample=True, split="train")


def test_evaluate_checkpoint_keeps_freed_memory_like_train(sample_run, monkeypatch):
    """Whole-test-set evaluation reuses its batches' activation buffers (minicnn.malloc),
    as training does, before the first batch."""
    import minicnn.train.evaluation as evaluation
    calls = []
    real_evaluate = evaluation.evaluate
    monkeypatch.setattr(evaluation, "keep_freed_memory", lambda: calls.append("malloc"))
    monkeypatch.setattr(evaluation, "evaluate",
                        lambda *a, **k: calls.append("evaluate") or real_evaluate(*a, **k))
    training.evaluate_checkpoint(sample_run.run_dir / "last.npz", sample=True)
    assert calls == ["malloc", "evaluate"]
