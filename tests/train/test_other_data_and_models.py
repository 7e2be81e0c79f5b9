"""minicnn train beyond the lecture: --model, --dataset (a folder of the student's own images,
RGB), the normalisation measured on the training images, and the commands around them."""

import json

import numpy as np
import pytest
from PIL import Image

from minicnn import data
from minicnn.cli import main
from minicnn.data import transforms as T
from minicnn.train import TrainConfig, evaluate_checkpoint, resume, train
from minicnn.train.datasets import make_transforms, normalisation


@pytest.fixture(scope="module")
def stripes(tmp_path_factory):
    """Two classes anyone can tell apart: horizontal and vertical stripes, in colour, 20x20
    PNG and JPEG files (24 of each class), plus a text file that is not an image."""
    root = tmp_path_factory.mktemp("stripes")
    rng = np.random.default_rng(0)
    for label in ("horizontal", "vertical"):
        (root / label).mkdir()
        for i in range(24):
            colour = rng.integers(90, 255, 3)
            image = np.zeros((20, 20, 3), np.uint8) + rng.integers(0, 40, (20, 20, 3),
                                                                   dtype=np.uint8)
            phase = int(rng.integers(0, 4))
            if label == "horizontal":
                image[phase::4] = colour
            else:
                image[:, phase::4] = colour
            Image.fromarray(image).save(root / label / f"{i}.{'png' if i % 3 else 'jpg'}",
                                        quality=95)
    (root / "vertical" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def folder_run(stripes, tmp_path_factory):
    out = tmp_path_factory.mktemp("folder") / "run"
    lines = []
    result = train(TrainConfig(model="lenet5", dataset="folder", data_dir=str(stripes),
                               image_size=20, epochs=6, batch_size=8, lr=3e-3, out=str(out),
                               progress=False, figures=True, threads=1), log=lines.append)
    return result, lines


def test_lenet5_learns_a_folder_of_rgb_images(folder_run):
    result, lines = folder_run
    assert result.history[-1]["test_acc"] >= 0.9, result.history
    assert any("skipped 1 file(s) that are not images (vertical/notes.txt)" in line
               for line in lines)
    data_line = next(line for line in lines if line.startswith("data: "))
    assert data_line.endswith("2 classes (a seeded fifth held out for testing)"), data_line


def test_the_run_records_its_model_data_and_measured_normalisation(folder_run, stripes):
    result, _ = folder_run
    saved = json.loads((result.run_dir / "config.json").read_text())
    config, model = saved["config"], saved["model"]
    assert (config["model"], config["dataset"]) == ("lenet5", "folder")
    assert model["model"] == "LeNet5" and model["in_channels"] == 3
    assert model["image_size"] == [20, 20]
    assert saved["data"]["classes"] == ["horizontal", "vertical"]
    # the normalisation is the training images' own, per channel, as data stats prints it
    assert len(config["mean"]) == 3 and len(config["std"]) == 3
    with pytest.warns(data.SkippedFilesWarning):
        splits_train = data.image_folder_splits(stripes, image_size=20, seed=0)[0]
    train_part = data.train_val_split(splits_train, max(1, len(splits_train) // 10), seed=0)[0]
    mean, std = data.channel_stats(train_part)
    np.testing.assert_allclose(config["mean"], mean, atol=5e-5)
    np.testing.assert_allclose(config["std"], std, atol=5e-5)
    assert sorted(p.name for p in result.run_dir.glob("*.png")) == [
        "confusion_matrix.png", "curves.png", "explanations.png", "feature_maps.png",
        "filters.png", "misclassified.png"]


def test_evaluate_and_resume_rebuild_the_folder_run(folder_run):
    result, _ = folder_run
    report = evaluate_checkpoint(result.run_dir / "last.npz")
    assert report["acc"] == pytest.approx(result.history[-1]["test_acc"])
    assert report["classes"] == ["horizontal", "vertical"]
    more = resume(result.run_dir, epochs=7, log=None, figures=False)
    assert [row["epoch"] for row in more.history] == list(range(1, 8))
    assert [row["test_acc"] for row in more.history[:6]] == \
        [row["test_acc"] for row in result.history]


def test_resnet20_trains_a_step_on_the_sample(tmp_path):
    result = train(TrainConfig(model="resnet20", sample=True, subset=64, batch_size=32,
                               epochs=1, out=str(tmp_path / "run"), progress=False,
                               figures=False, threads=1), log=None)
    assert np.isfinite(result.history[0]["train_loss"])
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["model"]["model"] == "ResNet" and saved["config"]["mean"] == [0.286]


def test_fashion_mnist_keeps_the_lectures_normalisation():
    assert normalisation(TrainConfig()) == ([0.286], [0.353])
    assert normalisation(TrainConfig(mean=0.5, std=0.25)) == ([0.5], [0.25])
    with pytest.raises(ValueError, match="measured on its training images"):
        normalisation(TrainConfig(dataset="cifar10"))


def test_rgb_training_adds_colour_jitter_and_grey_does_not():
    rgb_train, rgb_eval = make_transforms(TrainConfig(mean=[0.5] * 3, std=[0.2] * 3),
                                          (32, 32, 3))
    grey_train, _ = make_transforms(TrainConfig(), (28, 28))
    kinds = [type(t) for t in rgb_train.transforms]
    assert kinds[:3] == [T.RandomHorizontalFlip, T.RandomCrop, T.ColorJitter]
    assert T.ColorJitter not in [type(t) for t in grey_train.transforms]
    assert [type(t) for t in rgb_eval.transforms] == [T.ToTensor, T.Normalize]
    assert rgb_train.transforms[1].padding == 2


@pytest.mark.parametrize("changes, message", [
    (dict(dataset="folder"), "give the folder with data_dir"),
    (dict(dataset="mnist", sample=True), "sample is Fashion-MNIST's"),
    (dict(model="vgg"), "model must be one of"),
    (dict(dataset="imagenet"), "dataset must be one of"),
    (dict(mean=0.5), "give both mean and std"),
    (dict(image_size=4), "image_size must be an integer >= 8"),
])
def test_bad_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes).validate()


def test_summary_of_resnet20_counts_the_papers_parameters(capsys):
    assert main(["summary", "--model", "resnet20", "--input-shape", "3", "32", "32"]) == 0
    assert "Total params: 272,474" in capsys.readouterr().out
    assert main(["summary", "--model", "lenet5"]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out


def test_data_stats_prints_the_training_images_mean_and_std(stripes, capsys):
    assert main(["data", "stats", "--dataset", "folder", "--data-dir", str(stripes),
                 "--image-size", "20"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("folder: ") and "20x20x3" in out[0]
    assert out[1].startswith("mean ") and len(out[1].split()) == 4
    assert out[2].startswith("std ") and len(out[2].split()) == 4


def test_train_on_a_folder_without_data_dir_is_one_clear_line(capsys):
    assert main(["train", "--dataset", "folder"]) == 1
    assert "give the folder with data_dir" in capsys.readouterr().err


def test_a_test_subset_of_a_folder_keeps_both_numberings(stripes):
    # a folder without train/ and test/ holds out a seeded fifth: its test split's indices
    # are positions in the folder; a test_subset of it keeps that meaning, and its positions
    # in the test split (what minicnn explain --index takes) come separately
    from minicnn.train.datasets import load_datasets
    config = TrainConfig(dataset="folder", data_dir=str(stripes), image_size=20)
    whole = load_datasets(config).test
    part = load_datasets(TrainConfig(dataset="folder", data_dir=str(stripes), image_size=20,
                                     test_subset=4))
    assert len(part.test) == 4 and whole.indices is not None
    np.testing.assert_array_equal(part.test.images, whole.images[part.test_positions])
    np.testing.assert_array_equal(part.test.indices, whole.indices[part.test_positions])
