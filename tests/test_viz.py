"""minicnn.viz: every figure has the axes, titles and labels a reader expects, and saves."""

import csv

import matplotlib.pyplot as plt
import numpy as np
import pytest

from minicnn import viz


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _rows(n=4):
    return [dict(epoch=e, train_loss=1 / e, train_acc=1 - 0.3 / e, val_loss=1.1 / e,
                 val_acc=1 - 0.35 / e, test_loss=1.2 / e, test_acc=1 - 0.4 / e,
                 lr=1e-3 if e < 3 else 5e-4, seconds=1.0) for e in range(1, n + 1)]


def test_plot_curves_has_loss_and_accuracy_axes_with_three_splits(tmp_path):
    fig = viz.plot_curves(_rows(), save=tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy (%)"
    labels = [line.get_label() for line in acc_ax.get_lines()
              if not line.get_label().startswith("_")]
    assert labels[:3] == ["train", "validation", "test"]
    # accuracies in 0..1 are shown as percentages
    assert np.allclose(acc_ax.get_lines()[0].get_ydata(), [100 * r["train_acc"] for r in _rows()])
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_plot_curves_reads_a_metrics_csv(tmp_path):
    path = tmp_path / "metrics.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(_rows()[0]))
        writer.writeheader()
        writer.writerows(_rows(3))
    fig = viz.plot_curves(path)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]


def test_plot_confusion_matrix_labels_rows_true_and_columns_predicted(tmp_path):
    names = [f"class {i}" for i in range(4)]
    cm = np.array([[5, 1, 0, 0], [0, 6, 0, 0], [1, 0, 3, 2], [0, 0, 0, 0]])
    fig = viz.plot_confusion_matrix(cm, names, save=tmp_path / "cm.png")
    ax = fig.axes[0]
    assert ax.get_title() == "Confusion matrix"
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 16 and texts[0] == "0.83"  # row-normalised: 5 / 6
    assert (tmp_path / "cm.png").exists()


def test_plot_confusion_matrix_rejects_a_name_count_mismatch():
    with pytest.raises(ValueError, match="3 class names for a 4x4"):
        viz.plot_confusion_matrix(np.eye(4), ["a", "b", "c"])


def test_plot_filters_draws_one_panel_per_output_channel(rng):
    fig = viz.plot_filters(rng.normal(size=(32, 1, 3, 3)))
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 32
    assert images[0].images[0].get_array().shape == (3, 3)
    assert "First-layer filters" in fig._suptitle.get_text()


def test_plot_filters_rejects_a_non_conv_weight(rng):
    with pytest.raises(ValueError, match=r"\(C_out, C_in, kH, kW\)"):
        viz.plot_filters(rng.normal(size=(10, 3)))


class _Downsample:
    def __init__(self, channels):
        self.channels = channels

    def __call__(self, x):
        return np.repeat(x[:, :1, ::2, ::2], self.channels, axis=1)


class _FakeCNN:
    training = True
    conv_block1, conv_block2 = _Downsample(32), _Downsample(64)

    def eval(self):
        self.training = False

    def train(self):
        self.training = True


def test_plot_feature_maps_shows_both_blocks_and_restores_the_mode(rng):
    model = _FakeCNN()
    fig = viz.plot_feature_maps(model, rng.normal(size=(28, 28)), max_channels=8)
    assert model.training
    titles = [sub._suptitle.get_text() for sub in fig.subfigs if sub._suptitle]
    assert titles[0].startswith("conv_block1: output (32, 14, 14)")
    assert titles[1].startswith("conv_block2: output (64, 7, 7)")
    shapes = [ax.images[0].get_array().shape for ax in fig.axes if ax.images]
    assert shapes.count((14, 14)) == 8 and shapes.count((7, 7)) == 8 and (28, 28) in shapes


def test_plot_misclassified_titles_true_then_predicted(rng):
    images = rng.integers(0, 255, size=(6, 28, 28)).astype(np.uint8)
    true = np.array([0, 1, 2, 3, 4, 5])
    pred = np.array([0, 2, 2, 1, 4, 5])
    fig = viz.plot_misclassified(images, true, pred, list("abcdef"))
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["b\n-> c", "d\n-> b"]
    assert "2 of 6" in fig._suptitle.get_text()
