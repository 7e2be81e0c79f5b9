"""minicnn.explain: each method against its definition, the whole network's input gradient
against finite differences, the randomisation sanity check, and errors that say what was
wrong."""

import numpy as np
import pytest

from minicnn import explain, nn
from minicnn.gradcheck import check_input_gradient, numerical_gradient, rel_error
from minicnn.models import CNN, GAPCNN


def _images(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _small_model(rng, in_channels=2, height=6, width=5, num_classes=4):
    """Conv -> BatchNorm -> ReLU -> MaxPool -> Flatten -> Linear, float64, with running
    statistics that are not the identity."""
    model = nn.Sequential(
        nn.Conv2d(in_channels, 3, 3, padding=1, rng=rng, dtype=np.float64),
        nn.BatchNorm2d(3, dtype=np.float64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * (height // 2) * (width // 2), num_classes, rng=rng, dtype=np.float64),
    )
    batch_norm = model[1]
    batch_norm.running_mean[...] = rng.standard_normal(3) * 0.1
    batch_norm.running_var[...] = rng.uniform(0.5, 1.5, 3)
    batch_norm.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The lecture CNN after one epoch on 1,000 sample images (72% test accuracy), and 8
    normalised test images."""
    from minicnn.train import TrainConfig, load_datasets, make_transforms, train
    config = TrainConfig(sample=True, epochs=1, subset=1000, progress=False, figures=False,
                         threads=1, out=str(tmp_path_factory.mktemp("explain") / "run"))
    result = train(config, log=None)
    test = load_datasets(config).test
    return result.model, make_transforms(config)[1](test.images[:8])


# -- the input gradient -------------------------------------------------------------------------

def test_input_gradient_of_the_target_logit_matches_finite_differences(rng):
    model = GAPCNN(seed=1, dtype=np.float64).eval()
    x = _images(rng, (2, 1, 12, 10))
    target = np.array([3, 7])
    analytic = explain.input_gradient(model, x, target)
    numeric = numerical_gradient(lambda: model(x)[[0, 1], target].sum(), x)
    assert rel_error(analytic, numeric) < 1e-7


def test_whole_network_input_gradient_check_passes_in_float64(rng):
    report = check_input_gradient(CNN(seed=2, dtype=np.float64), _images(rng, (1, 1, 28, 28)))
    assert report.passed, str(report)
    assert report.errors["x"] < 1e-7


def test_whole_network_input_gradient_check_catches_a_wrong_backward(rng, monkeypatch):
    model = GAPCNN(seed=3, dtype=np.float64)
    relu = model.conv_block2[2]
    correct = relu.backward
    monkeypatch.setattr(relu, "backward", lambda dout: 1.01 * correct(dout))
    report = check_input_gradient(model, _images(rng, (2, 1, 10, 10)))
    assert not report.passed and report.errors["x"] > 1e-4


def test_input_gradient_check_refuses_float32():
    with pytest.raises(TypeError, match="float32.*model.double"):
        check_input_gradient(CNN(seed=0), np.zeros((1, 1, 28, 28)))


def test_python_m_gradcheck_runs_the_network_checks(capsys):
    from minicnn import gradcheck
    assert gradcheck.main(["--only", "network"]) == 0
    out = capsys.readouterr().out
    assert "PASS  network CNN input gradient" in out
    assert "PASS  network GAPCNN input gradient" in out


# -- saliency and SmoothGrad --------------------------------------------------------------------

def test_saliency_is_the_channel_max_of_the_absolute_gradient_of_the_prediction(rng):
    model = _small_model(rng, in_channels=3)
    x = _images(rng, (4, 3, 6, 5))
    predicted = model.eval()(x).argmax(axis=1)
    maps = explain.saliency(model, x)
    assert maps.shape == (4, 6, 5)
    np.testing.assert_allclose(maps, np.abs(explain.input_gradient(model, x, predicted))
                               .max(axis=1))
    other = (predicted + 1) % 4
    assert not np.allclose(explain.saliency(model, x, other), maps)


def test_smoothgrad_averages_the_maps_of_noisy_copies_drawn_from_the_given_generator(rng):
    model = _small_model(rng)
    x = _images(rng, (2, 2, 6, 5))
    target = np.array([1, 2])
    maps = explain.saliency(model, x, target, samples=5, noise=0.2, rng=np.random.default_rng(9))
    generator = np.random.default_rng(9)
    sigma = 0.2 * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))[:, None, None, None]
    expected = np.zeros((2, 6, 5))
    for _ in range(5):
        noisy = x + sigma * generator.standard_normal(x.shape)
        expected += np.abs(explain.input_gradient(model, noisy, target)).max(axis=1) / 5
    np.testing.assert_allclose(maps, expected, rtol=1e-12)
    np.testing.assert_array_equal(explain.saliency(model, x, target, samples=5, rng=4),
                                  explain.saliency(model, x, target, samples=5, rng=4))
    np.testing.assert_allclose(explain.saliency(model, x, target, samples=3, noise=0.0),
                               explain.saliency(model, x, target))


# -- Grad-CAM -----------------------------------------------------------------------------------

def test_grad_cam_follows_its_definition_with_finite_difference_alphas(rng):
    model = _small_model(rng).eval()
    x = _images(rng, (3, 2, 6, 5))
    target = np.array([0, 3, 1])
    head, tail = model[:2], model[2:]          # A = the BatchNorm2d output (layer "1")
    maps = head(x)
    expected = np.empty((3, 6, 5))
    for n in range(3):
        image_maps = maps[n:n + 1].copy()
        dmaps = numerical_gradient(lambda: tail(image_maps)[0, target[n]], image_maps)[0]
        alpha = dmaps.mean(axis=(1, 2))                              # (K,)
        expected[n] = np.maximum((alpha[:, None, None] * image_maps[0]).sum(axis=0), 0)
    cams = explain.grad_cam(model, x, target, layer="1", upsample=False)
    assert cams.shape == (3, 6, 5)
    np.testing.assert_allclose(cams, expected, rtol=1e-6, atol=1e-9)
    assert np.all(cams >= 0) and cams.max() > 0


def test_grad_cam_upsamples_its_maps_bilinearly_to_the_input_size(rng):
    model = _small_model(rng, height=8, width=6)
    x = _images(rng, (2, 2, 8, 6))
    low = explain.grad_cam(model, x, layer=model[3], upsample=False)        # after pooling
    assert low.shape == (2, 4, 3)
    np.testing.assert_allclose(explain.grad_cam(model, x, layer="3"),
                               explain.upsample_bilinear(low, (8, 6)))


def test_grad_cam_reads_the_last_conv_blocks_relu_by_default():
    assert explain.default_cam_layer(CNN(seed=0)) == "conv_block2.2"
    assert explain.default_cam_layer(GAPCNN(seed=0)) == "conv_block3.2"
    assert explain.default_cam_layer(_small_model(np.random.default_rng(0))) == "2"
    model = CNN(seed=0, dtype=np.float64)
    x = _images(np.random.default_rng(1), (2, 1, 28, 28))
    np.testing.assert_array_equal(explain.grad_cam(model, x, upsample=False),
                                  explain.grad_cam(model, x, layer="conv_block2.2",
                                                   upsample=False))
    assert explain.grad_cam(model, x, upsample=False).shape == (2, 14, 14)


@pytest.mark.parametrize("in_size, out_size", [((7, 7), (28, 28)), ((14, 14), (28, 28)),
                                               ((3, 5), (10, 7)), ((9, 8), (4, 3)),
                                               ((1, 4), (3, 4))])
def test_upsample_bilinear_matches_torch_interpolate(rng, torch_reference, in_size, out_size):
    maps = rng.standard_normal((2,) + in_size)
    expected = torch_reference(torch_interpolate_bilinear, maps, out_size)
    np.testing.assert_allclose(explain.upsample_bilinear(maps, out_size),
                               expected, rtol=1e-12, atol=1e-12)


def torch_interpolate_bilinear(torch, maps, out_size):
    """PyTorch's bilinear interpolation (align_corners=False) of (N, H, W) maps to out_size
    (recorded in tests/torch_recordings/ for runs without torch)."""
    expected = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=out_size,
                                               mode="bilinear", align_corners=False)
    return expected[:, 0]


# -- occlusion ----------------------------------------------------------------------------------

def _occlusion_by_loops(model, x, target, patch, stride, fill):
    """One covered image at a time: the definition, written out."""
    n_images, _, height, width = x.shape
    drops = np.zeros((n_images, height, width))
    counts = np.zeros((height, width))
    tops = sorted(set(range(0, height - patch + 1, stride)) | {height - patch})
    lefts = sorted(set(range(0, width - patch + 1, stride)) | {width - patch})
    for top in tops:
        for left in lefts:
            counts[top:top + patch, left:left + patch] += 1
            for n in range(n_images):
                covered = x[n:n + 1].copy()
                covered[..., top:top + patch, left:left + patch] = \
                    x[n].min() if fill is None else fill
                drop = model(x[n:n + 1])[0, target[n]] - model(covered)[0, target[n]]
                drops[n, top:top + patch, left:left + patch] += drop
    return drops / counts


@pytest.mark.parametrize("patch, stride, fill", [(3, 2, None), (2, 2, 0.5), (4, 3, -1.0),
                                                 (1, 1, None)])
def test_occlusion_matches_a_direct_loop_over_patch_positions(rng, patch, stride, fill):
    model = _small_model(rng, height=9, width=8).eval()
    x = _images(rng, (2, 2, 9, 8))
    target = np.array([2, 0])
    maps = explain.occlusion(model, x, target, patch=patch, stride=stride, fill=fill,
                             batch_size=5)
    np.testing.assert_allclose(maps, _occlusion_by_loops(model, x, target, patch, stride, fill),
                               rtol=1e-10, atol=1e-12)


def test_occlusion_defaults_to_the_predicted_class(rng):
    model = _small_model(rng, height=6, width=6)
    x = _images(rng, (3, 2, 6, 6))
    predicted = model.eval()(x).argmax(axis=1)
    np.testing.assert_array_equal(explain.occlusion(model, x),
                                  explain.occlusion(model, x, predicted))


# -- the three together, and leaving the model as it was -----------------------------------------

def test_explain_batch_gathers_the_three_maps_and_the_predictions(rng):
    model = _small_model(rng, height=6, width=6)
    x = _images(rng, (3, 2, 6, 6))
    result = explain.explain_batch(model, x)
    logits = model.eval()(x)
    np.testing.assert_array_equal(result.predicted, logits.argmax(axis=1))
    np.testing.assert_array_equal(result.target, result.predicted)
    probability = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result.probability, probability.max(axis=1))
    np.testing.assert_array_equal(result.saliency, explain.saliency(model, x))
    np.testing.assert_array_equal(result.grad_cam, explain.grad_cam(model, x))
    np.testing.assert_array_equal(result.occlusion, explain.occlusion(model, x))


def test_explaining_restores_modes_gradients_and_a_pending_backward(rng):
    model = CNN(seed=4, dtype=np.float64).train()
    model.classifier[4].eval()                      # a mixed state must come back as it was
    x = _images(rng, (4, 1, 28, 28))
    dout = rng.standard_normal((4, 10))
    reference = CNN(seed=4, dtype=np.float64).train()
    reference.classifier[4].eval()
    for m in (model, reference):
        m(x)                                        # a training step in progress
    state = {k: v.copy() for k, v in model.state_dict().items()}
    for param in model.parameters():
        param.grad[...] = 0.5
    dropout_state = model.classifier[4].rng.bit_generator.state
    explain.saliency(model, x[:2], samples=2, rng=0)
    explain.grad_cam(model, x[:2])
    explain.occlusion(model, x[:1], patch=14, stride=14)
    assert model.training and not model.classifier[4].training and model.conv_block1[1].training
    for key, value in model.state_dict().items():   # BatchNorm's running statistics untouched
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    assert model.classifier[4].rng.bit_generator.state == dropout_state
    dx = model.backward(dout)                       # the step goes on as if nothing happened
    np.testing.assert_allclose(dx, reference.backward(dout), rtol=1e-12, atol=1e-15)
    for (name, param), (_, ref) in zip(model.named_parameters(), reference.named_parameters()):
        np.testing.assert_allclose(param.grad, 0.5 + ref.grad, rtol=1e-12, atol=1e-15,
                                   err_msg=name)


# -- the sanity check of Adebayo et al. (2018) ----------------------------------------------------

def test_rank_correlation_is_spearmans_rho_with_tied_ranks():
    a = np.array([1.0, 2.0, 2.0, 3.0])
    b = np.array([1.0, 3.0, 2.0, 4.0])
    # ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4): rho = 4.5 / sqrt(4.5 * 5)
    assert explain.rank_correlation(a, b) == pytest.approx(4.5 / np.sqrt(22.5))
    x = np.random.default_rng(0).standard_normal((5, 6))
    assert explain.rank_correlation(x, np.exp(x)) == pytest.approx(1.0)
    assert explain.rank_correlation(x, -x ** 3) == pytest.approx(-1.0)
    assert np.isnan(explain.rank_correlation(x, np.zeros_like(x)))
    with pytest.raises(ValueError, match="30 and 29 values"):
        explain.rank_correlation(x, x.ravel()[:-1])


def test_randomise_weights_redraws_only_the_named_layers_of_a_copy():
    model = CNN(seed=0)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    copy = explain.randomise_weights(model, layers=["classifier.5"], rng=1)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    changed = {key for key, value in copy.state_dict().items()
               if not np.array_equal(value, before[key])}
    assert changed == {"classifier.5.weight", "classifier.5.bias"}
    bound = 1 / np.sqrt(256)
    assert np.abs(copy.classifier[5].weight.data).max() <= bound
    everything = explain.randomise_weights(model, rng=1)
    assert not np.array_equal(everything.conv_block1[0].weight.data,
                              before["conv_block1.0.weight"])
    with pytest.raises(ValueError, match="'conv_block1.1' is not a Conv2d or Linear layer"):
        explain.randomise_weights(model, layers=["conv_block1.1"])


@pytest.mark.parametrize("method", ["saliency", "grad_cam", "occlusion"])
def test_maps_change_when_the_trained_weights_are_randomised(trained, method):
    model, x = trained
    function = getattr(explain, method)
    predicted = model.eval()(x).argmax(axis=1)
    maps = function(model, x, predicted)
    again = function(explain.randomise_weights(model, layers=[]), x, predicted)
    randomised = function(explain.randomise_weights(model, rng=0), x, predicted)
    ordered = [i for i in range(len(x)) if np.ptp(maps[i]) > 0]   # Grad-CAM can be all 0
    assert len(ordered) >= 6
    same = [explain.rank_correlation(maps[i], again[i]) for i in ordered]
    # A map that became constant shares no ordering with the trained one: rho 0, not NaN.
    rhos = np.nan_to_num([explain.rank_correlation(maps[i], randomised[i]) for i in ordered])
    assert np.allclose(same, 1.0)           # the control: an untouched copy explains the same
    # measured (mean rho over the images): 0.09 saliency, -0.12 Grad-CAM, -0.06 occlusion
    assert np.mean(rhos) < 0.3, rhos


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["saliency", "grad_cam", "occlusion", "input_gradient"])
def test_a_single_image_without_its_batch_axis_says_what_was_expected(method):
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\), got shape \(1, 28, 28\).*x\[None\]"):
        getattr(explain, method)(CNN(seed=0), np.zeros((1, 28, 28), np.float32))


def test_wrong_channels_and_non_float_images_are_refused():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\), got shape \(2, 3, 28, 28\)"):
        explain.saliency(CNN(seed=0), np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(TypeError, match="float images, normalised as in training, got dtype "
                                        "uint8"):
        explain.grad_cam(CNN(seed=0), np.zeros((2, 1, 28, 28), np.uint8))
    with pytest.raises(TypeError, match="numpy.ndarray of images.*got list"):
        explain.occlusion(CNN(seed=0), [[0.0]])


@pytest.mark.parametrize("target, error, words", [
    (10, ValueError, "target 10 is out of range for a model with 10 classes (expected 0 to 9)"),
    (np.array([1, -1]), ValueError, "target -1 is out of range"),
    (np.array([1, 2, 3]), ValueError, "target has shape (3,) for 2 images"),
    (1.5, TypeError, "target must be an int class index"),
])
@pytest.mark.parametrize("method", ["saliency", "grad_cam", "occlusion"])
def test_a_bad_target_names_what_it_got_and_the_valid_range(method, target, error, words):
    with pytest.raises(error) as caught:
        getattr(explain, method)(CNN(seed=0), np.zeros((2, 1, 28, 28), np.float32), target)
    assert words in str(caught.value) and str(caught.value).startswith(method)


@pytest.mark.parametrize("layer, error, words", [
    ("classifier.1", ValueError, "layer classifier.1 is Linear(3136, 256), not a conv layer"),
    ("classifier.0", ValueError, "conv_block1.0, conv_block1.1"),
    ("conv_block9.0", ValueError, "CNN has no layer 'conv_block9.0'; its layers are "
                                  "conv_block1.0"),
    (3, TypeError, "layer must be a dotted layer name (e.g. 'conv_block2.2') or a Module, got "
                   "int"),
])
def test_grad_cam_on_a_layer_without_conv_maps_names_it_and_the_valid_ones(layer, error, words):
    with pytest.raises(error) as caught:
        explain.grad_cam(CNN(seed=0), np.zeros((1, 1, 28, 28), np.float32), layer=layer)
    assert words in str(caught.value)


def test_grad_cam_needs_a_layer_of_this_model_and_a_conv_model():
    with pytest.raises(ValueError, match=r"Conv2d\(1, 32\) is not a layer of this CNN"):
        explain.grad_cam(CNN(seed=0), np.zeros((1, 1, 28, 28), np.float32),
                         layer=nn.Conv2d(1, 32, 3))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="Sequential has no Conv2d"):
        explain.grad_cam(mlp, np.zeros((1, 1, 2, 2)))


def test_a_model_with_its_own_forward_cannot_be_split_for_grad_cam():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return x + self.conv(x)

    with pytest.raises(TypeError, match="Residual runs its children in its own forward"):
        explain.layer_sequence(Residual())


@pytest.mark.parametrize("kwargs, words", [
    (dict(patch=29), "patch 29 is larger than the 28x28 images"),
    (dict(patch=0), "patch must be a positive int, got 0"),
    (dict(stride=1.5), "stride must be a positive int, got 1.5"),
    (dict(fill="black"), "fill must be a number or None"),
])
def test_occlusion_patch_arguments_are_checked(kwargs, words):
    with pytest.raises((ValueError, TypeError)) as caught:
        explain.occlusion(CNN(seed=0), np.zeros((1, 1, 28, 28), np.float32), **kwargs)
    assert words in str(caught.value)


@pytest.mark.parametrize("kwargs, words", [(dict(samples=-1), "samples must be an int >= 0"),
                                           (dict(noise=-0.1), "noise is a fraction")])
def test_smoothgrad_arguments_are_checked(kwargs, words):
    with pytest.raises(ValueError, match=words):
        explain.saliency(CNN(seed=0), np.zeros((1, 1, 28, 28), np.float32), **kwargs)


# -- the figure ---------------------------------------------------------------------------------

def test_plot_explanations_draws_a_row_of_four_per_image_titled_with_the_classes(tmp_path, rng):
    import matplotlib.pyplot as plt

    from minicnn import viz
    model = CNN(seed=0)
    x = _images(rng, (3, 1, 28, 28), np.float32)
    names = [f"class{k}" for k in range(10)]
    result = explain.explain_batch(model, x)
    labels = np.array([result.predicted[0], (result.predicted[1] + 1) % 10, result.predicted[2]])
    result.grad_cam[2] = 0                          # a map that ReLU zeroed everywhere
    fig = viz.plot_explanations(model, x, labels, names, explanations=result,
                                save=tmp_path / "explanations.png")
    try:
        assert (tmp_path / "explanations.png").stat().st_size > 0
        rows = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert len(rows) == 12
        first, second = rows[0].get_title(), rows[4].get_title()
        assert first.startswith(f"true {names[labels[0]]}\npred {names[result.predicted[0]]} (")
        assert second.startswith(f"true {names[labels[1]]}\npred {names[result.predicted[1]]}")
        assert rows[4].title.get_color() == "tab:red" and rows[0].title.get_color() == "black"
        assert [ax.get_title() for ax in rows[1:4]] == [
            "saliency |dz/dx|", "Grad-CAM (conv_block2.2)", "occlusion (drop in z)"]
        assert [t.get_text() for t in rows[10].texts] == ["0 everywhere"]
    finally:
        plt.close(fig)


def test_plot_explanations_wants_a_batch_and_one_label_per_image(rng):
    from minicnn import viz
    with pytest.raises(ValueError, match=r"batch \(N, C, H, W\), got shape \(28, 28\)"):
        viz.plot_explanations(CNN(seed=0), np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError, match="2 labels for 1 images"):
        viz.plot_explanations(CNN(seed=0), np.zeros((1, 1, 28, 28), np.float32), [1, 2])


def test_a_training_run_directory_holds_explanations_png(tmp_path):
    from minicnn.train import FIGURES, TrainConfig, train
    config = TrainConfig(sample=True, epochs=1, subset=64, batch_size=32, progress=False,
                         figures=True, threads=1, out=str(tmp_path / "run"))
    result = train(config, log=None)
    assert "explanations.png" in FIGURES and "explanations.png" in result.figures
    assert (tmp_path / "run" / "explanations.png").stat().st_size > 0
