"""Why did the model say that? Saliency, Grad-CAM and occlusion on the models' own backward
passes (no autograd: the input gradient is the chain of ``backward`` methods a student wrote).

The *score* of class c is its logit z_c, the model's raw output before softmax: softmax
couples the classes (a probability rises when the others fall), while the logit measures the
evidence for c alone. Each method answers "which pixels made the score of the target class
high?" for every image of a batch (the target defaults to the predicted class):

    saliency(model, x)   |dz_c / dx|, max over channels (Simonyan et al., 2014); SmoothGrad
                         averages it over noisy copies of x (Smilkov et al., 2017)
    grad_cam(model, x)   ReLU(sum_k alpha_k A^k), alpha_k = mean_{i,j} dz_c / dA^k_{ij}, on a
                         conv layer's maps A (Selvaraju et al., 2017), upsampled to the input
    occlusion(model, x)  z_c(x) - z_c(x with a patch covered), per patch position (Zeiler &
                         Fergus, 2014), spread back over the pixels each patch covers

Every function runs the model in evaluation mode (BatchNorm uses its running statistics,
Dropout is off, so each image is explained on its own) and leaves the model as it found it:
the training/evaluation mode of every module, every ``Parameter.grad`` and every layer's
forward cache are restored on return.

``input_gradient`` is the signed dz_c / dx under all three (``python -m minicnn.gradcheck``
checks the whole network's input gradient against finite differences); ``explain_batch``
computes the three maps of the same images at once, for ``minicnn.viz.plot_explanations``.
``rank_correlation`` (Spearman's rho) and ``randomise_weights`` are the two halves of the
sanity check of Adebayo et al. (2018): a map that stays the same when the weights are
re-drawn at random explains the image, not the model.
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from minicnn import nn
from minicnn.nn.module import as_generator
from minicnn.sanity import randomise_weights, rank_correlation

__all__ = ["saliency", "grad_cam", "occlusion", "input_gradient", "explain_batch",
           "Explanations", "explaining", "layer_sequence", "is_block", "default_cam_layer",
           "upsample_bilinear", "rank_correlation", "randomise_weights"]

# Layers that keep an (N, C, h, w) feature map a feature map: Grad-CAM may read any of them
# once a Conv2d has run.
_ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid)
_MAP_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d) + _ACTIVATIONS
# Layers that only pass a map through (in evaluation): skipped when looking for the conv stage.
_PASS_THROUGH = (nn.Dropout, nn.Identity)


def is_block(module) -> bool:
    """Whether ``module`` is a block: it has children and runs them in a ``forward`` and
    ``backward`` of its own (a residual block, whose paths branch and join), so the chain of
    layers takes it whole, as one unit."""
    cls = type(module)
    return (bool(module._modules) and not isinstance(module, nn.Sequential)
            and cls.forward is not nn.Module.forward and cls.backward is not nn.Module.backward)


def _holds_maps(layer) -> bool:
    """A layer whose output is a conv feature map when its input is one (blocks included)."""
    return isinstance(layer, _MAP_LAYERS) or is_block(layer)


# ---------------------------------------------------------------------------------------------
# The model as a chain of layers, and leaving it as we found it
# ---------------------------------------------------------------------------------------------

def layer_sequence(model) -> list[tuple[str, nn.Module]]:
    """The leaf layers of ``model`` in the order its forward pass runs them.

    Grad-CAM needs the activations and the gradient at an inner layer, and minicnn's modules
    have no hooks. Instead the model is run as a chain in two halves: the layers up to the
    chosen one (giving its maps A), then the rest (giving the logits); the backward pass of
    the second half alone returns dz/dA. That is exact whenever the model *is* a chain:
    a ``Sequential``, or one of ``minicnn.models`` (a ``_Chain`` of named blocks, each a
    ``Sequential``), nested to any depth. A block that runs its children in its own forward
    and backward (``is_block``: ResNet's BasicBlock, with its shortcut) is one unit of the
    chain: Grad-CAM can read its output, not the inside of its branches.

    Returns
    -------
    list of ``(dotted name, layer)``, names as in ``model.named_modules()``
    (``conv_block2.2`` for the lecture CNN's second ReLU)

    Raises
    ------
    TypeError : for a container whose ``forward`` is its own code (it may add or concatenate
        branches, which a chain cannot express)
    """
    def walk(module, name):
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
        elif isinstance(getattr(type(module), "_blocks", None), tuple) and module._blocks:
            children = [(block, getattr(module, block)) for block in module._blocks]
        elif not module._modules or is_block(module):
            return [(name, module)]
        else:
            raise TypeError(
                f"{type(module).__name__}{' at ' + name if name else ''} runs its children in "
                f"its own forward() but has no backward(); minicnn.explain needs a chain of "
                f"layers and blocks (a Sequential, one of minicnn.models) to reach an inner "
                f"layer")
        layers = []
        for child_name, child in children:
            layers += walk(child, f"{name}.{child_name}" if name else child_name)
        return layers

    return walk(model, "")


@contextmanager
def explaining(model):
    """Evaluation mode inside; on exit every module's mode, every ``Parameter.grad`` and every
    layer's forward cache are what they were before (so a training step in progress is not
    disturbed), and the gradients start from zero inside."""
    modules = list(model.modules())
    modes = [module.training for module in modules]
    caches = [module.__dict__.get("_cache") for module in modules]
    params = list(model.parameters())
    grads = [param.grad for param in params]
    for param in params:
        param.grad = np.zeros_like(param.data)
    model.eval()
    try:
        yield
    finally:
        for param, grad in zip(params, grads):
            param.grad = grad
        for module, mode, cache in zip(modules, modes, caches):
            object.__setattr__(module, "training", mode)
            if "_cache" in module.__dict__:
                object.__setattr__(module, "_cache", cache)


def _run(layers, x):
    for _, layer in layers:
        x = layer(x)
    return x


def _run_backward(layers, dout):
    for _, layer in reversed(layers):
        dout = layer.backward(dout)
    return dout


# ---------------------------------------------------------------------------------------------
# Checking what the caller passed
# ---------------------------------------------------------------------------------------------

def _check_images(model, x, owner: str) -> np.ndarray:
    """``x`` as an (N, C, H, W) float array in the model's dtype, or a clear error."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: x must be a numpy.ndarray of images (N, C, H, W), got "
                        f"{type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{owner}: x must hold float images, normalised as in training, got "
                        f"dtype {x.dtype}")
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    channels = "C" if first_conv is None else str(first_conv.in_channels)
    if x.ndim != 4 or (first_conv is not None and x.shape[1] != first_conv.in_channels):
        hint = " (one image? pass x[None])" if x.ndim == 3 else ""
        raise ValueError(f"{owner}: x must be a batch of images (N, {channels}, H, W), got "
                         f"shape {x.shape}{hint}")
    if len(x) == 0:
        raise ValueError(f"{owner}: x holds no images (shape {x.shape})")
    dtype = model.dtype or x.dtype
    return x.astype(dtype, copy=False)


def _targets(target, logits, owner: str) -> np.ndarray:
    """The class to explain for each image: the prediction (argmax of the logits) by default,
    one int for every image, or one per image."""
    n, num_classes = logits.shape
    if target is None:
        return np.argmax(logits, axis=1)
    if isinstance(target, (bool, np.bool_)):
        raise TypeError(f"{owner}: target must be a class index or one per image, got {target!r}")
    values = np.asarray(target)
    if values.dtype.kind not in "iu":
        raise TypeError(f"{owner}: target must be an int class index or an int array (one per "
                        f"image), got {values.dtype} {target!r}")
    if values.ndim == 0:
        values = np.full(n, int(values))
    elif values.shape != (n,):
        raise ValueError(f"{owner}: target has shape {values.shape} for {n} images; expected "
                         f"one int or ({n},)")
    bad = values[(values < 0) | (values >= num_classes)]
    if bad.size:
        raise ValueError(f"{owner}: target {int(bad[0])} is out of range for a model with "
                         f"{num_classes} classes (expected 0 to {num_classes - 1})")
    return values.astype(np.int64)


def _one_hot(target: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """d(sum_n z[n, target_n]) / dz: 1 at each image's target logit, 0 elsewhere."""
    dlogits = np.zeros_like(logits)
    dlogits[np.arange(len(target)), target] = 1
    return dlogits


# ---------------------------------------------------------------------------------------------
# Saliency and SmoothGrad
# ---------------------------------------------------------------------------------------------

def _score_gradient(model, x, target, owner):
    """``(dz_target / dx, logits, target)`` with one forward and one backward pass: in
    evaluation mode the images do not interact, so the gradient of sum_n z[n, t_n] with
    respect to x[n] is image n's own gradient."""
    # BEGIN SOLUTION
    logits = model(x)                                  # (N, K): one forward pass
    target = _targets(target, logits, owner)
    return model.backward(_one_hot(target, logits)), logits, target
    # END SOLUTION


def input_gradient(model, x, target=None):
    """The gradient of each image's target logit with respect to its pixels, signed.

    G[n] = dz_t / dx[n],  z = model(x) the logits, t the target class of image n

    One forward and one ``model.backward`` with dz = one-hot(t): the whole chain of the layers'
    hand-written backward passes, which is what ``python -m minicnn.gradcheck`` checks against
    finite differences.

    Parameters
    ----------
    model : a minicnn model (eval mode is used)
    x : (N, C, H, W) float array
    target : None (the predicted class), an int for every image, or (N,) ints

    Returns
    -------
    (N, C, H, W) array in the model's dtype
    """
    x = _check_images(model, x, "input_gradient")
    with explaining(model):
        return _score_gradient(model, x, target, "input_gradient")[0]


def saliency(model, x, target=None, samples: int = 0, noise: float = 0.15, rng=None):
    """Vanilla gradient saliency (or SmoothGrad): how much each pixel moves the target logit.

    S[n, i, j] = max_c | dz_t / dx[n, c, i, j] |              (Simonyan et al., 2014)

    SmoothGrad (``samples > 0``) averages the same map over noisy copies of each image:

    S[n] = 1/samples * sum_s max_c | dz_t / dx (x[n] + eps_s) |,
    eps_s ~ N(0, sigma^2),  sigma = noise * (max x[n] - min x[n])   (Smilkov et al., 2017)

    The target t is chosen on the clean image (the prediction, unless given). The noise of
    sample s is ``sigma * rng.standard_normal(x.shape)`` (one draw of the whole batch's shape
    per sample, in order s = 1, ..., samples, cast to x's dtype), so a seeded ``rng`` gives
    the same maps every time.

    Parameters
    ----------
    model : a minicnn model (any Module with forward and backward; eval mode is used)
    x : (N, C, H, W) float array, normalised as in training
    target : None (the predicted class), an int for every image, or (N,) ints
    samples : number of noisy copies for SmoothGrad; 0 (default) is the plain gradient
    noise : the noise standard deviation as a fraction of each image's value range
        (0.1-0.2 is what Smilkov et al. recommend)
    rng : numpy.random.Generator or int seed for the noise (None: fresh, unseeded)

    Returns
    -------
    maps : (N, H, W) array, >= 0, in the model's dtype
    """
    owner = "saliency"
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 0:
        raise ValueError(f"{owner}: samples must be an int >= 0 (0 = no SmoothGrad), got "
                         f"{samples!r}")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"{owner}: noise is a fraction of the image's value range and must be "
                         f">= 0, got {noise!r}")
    x = _check_images(model, x, owner)
    with explaining(model):
        # BEGIN SOLUTION
        gradient, _, target = _score_gradient(model, x, target, owner)   # (N, C, H, W)
        if samples == 0:
            return np.abs(gradient).max(axis=1)                          # (N, H, W)
        generator = as_generator(rng, owner)
        spread = x.max(axis=(1, 2, 3), keepdims=True) - x.min(axis=(1, 2, 3), keepdims=True)
        sigma = noise * spread                                           # (N, 1, 1, 1)
        total = np.zeros((x.shape[0],) + x.shape[2:], dtype=x.dtype)
        for _ in range(samples):
            noisy = x + (sigma * generator.standard_normal(x.shape)).astype(x.dtype)
            gradient, _, _ = _score_gradient(model, noisy, target, owner)
            total += np.abs(gradient).max(axis=1)
        return total / samples
        # END SOLUTION


# ---------------------------------------------------------------------------------------------
# Grad-CAM
# ---------------------------------------------------------------------------------------------

def _conv_stage(layers) -> range:
    """Indices of the layers that hold conv feature maps: from the first Conv2d to the first
    layer that is neither a map layer nor a pass-through (Flatten, Linear, adaptive pooling)."""
    first = next((i for i, (_, layer) in enumerate(layers) if isinstance(layer, nn.Conv2d)),
                 None)
    if first is None:
        return range(0)
    end = first
    while end < len(layers) and (_holds_maps(layers[end][1])
                                 or isinstance(layers[end][1], _PASS_THROUGH)):
        end += 1
    return range(first, end)


def default_cam_layer(model) -> str:
    """The dotted name of the layer Grad-CAM reads by default: the rectified maps of the last
    Conv2d of the conv stage (the ReLU after its BatchNorm2d), before that block's pooling;
    or the last block's output when the stage ends in blocks (ResNet's ``layer3.2``).

    Selvaraju et al. take the last convolutional layer's maps because they are the last ones
    that still know *where*; we take them before the 2x2 max pooling, which would halve the
    resolution (14x14 instead of 7x7 for the lecture CNN's ``conv_block2.2``). Any other map
    layer can be passed as ``grad_cam(..., layer="conv_block2.3")``.
    """
    layers = layer_sequence(model)
    stage = _conv_stage(layers)
    if not stage:
        raise ValueError(f"grad_cam: {type(model).__name__} has no Conv2d; Grad-CAM needs a "
                         f"convolutional feature map")
    last_conv = max(i for i in stage if isinstance(layers[i][1], nn.Conv2d)
                    or is_block(layers[i][1]))
    chosen = last_conv                 # a block's output is already rectified (ResNet's)
    for i in range(last_conv + 1, stage.stop):
        if not isinstance(layers[i][1], (nn.BatchNorm2d,) + _ACTIVATIONS + _PASS_THROUGH):
            break
        if isinstance(layers[i][1], _ACTIVATIONS):
            chosen = i
    return layers[chosen][0]


def _resolve_layer(model, layers, layer) -> int:
    """The index in ``layers`` of ``layer`` (a dotted name or the module itself), checked to
    hold a conv feature map."""
    owner = "grad_cam"
    if layer is None:
        layer = default_cam_layer(model)
    names = [name for name, _ in layers]
    if isinstance(layer, nn.Module):
        index = next((i for i, (_, m) in enumerate(layers) if m is layer), None)
        if index is None:
            raise ValueError(f"{owner}: layer {layer.short_repr()} is not a layer of this "
                             f"{type(model).__name__}; pass one of its layers or a dotted name "
                             f"({', '.join(names)})")
    elif isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"{owner}: {type(model).__name__} has no layer {layer!r}; its "
                             f"layers are {', '.join(names)}")
        index = names.index(layer)
    else:
        raise TypeError(f"{owner}: layer must be a dotted layer name (e.g. "
                        f"{default_cam_layer(model)!r}) or a Module, got "
                        f"{type(layer).__name__}")
    stage = _conv_stage(layers)
    name, module = layers[index]
    if index not in stage or not _holds_maps(module):
        allowed = [names[i] for i in stage if _holds_maps(layers[i][1])]
        raise ValueError(f"{owner}: layer {name} is {module.short_repr()}, not a conv layer; "
                         f"Grad-CAM needs (N, C, h, w) feature maps from a Conv2d or a layer "
                         f"of its block ({', '.join(allowed) or 'this model has none'})")
    return index


def grad_cam(model, x, target=None, layer=None, upsample: bool = True):
    """Grad-CAM (Selvaraju et al., 2017): where the maps of a conv layer support the target.

    alpha[n, k] = 1/(h*w) * sum_{i,j} dz_t / dA[n, k, i, j]     (how much channel k matters)
    CAM[n]      = ReLU( sum_k alpha[n, k] * A[n, k] )           (h, w), then bilinear to (H, W)

    A is the output of ``layer``: by default the rectified maps of the last conv layer
    (``default_cam_layer``: ``conv_block2.2``, 64 x 14 x 14, for the lecture CNN). The model
    is run in two halves (see ``layer_sequence``): the layers up to ``layer`` give A, the rest
    give the logits, and the second half's backward pass alone gives dz_t / dA.

    Parameters
    ----------
    model : a chain of layers (a Sequential or one of minicnn.models)
    x : (N, C, H, W) float array, normalised as in training
    target : None (the predicted class), an int for every image, or (N,) ints
    layer : dotted name (``"conv_block2.3"``) or the layer module; a Conv2d, BatchNorm2d,
        ReLU or pooling layer of the conv stage
    upsample : resize the maps to the input's (H, W) with ``upsample_bilinear`` (default);
        False returns them at the layer's (h, w)

    Returns
    -------
    maps : (N, H, W) (or (N, h, w)) array, >= 0, in the model's dtype
    """
    owner = "grad_cam"
    x = _check_images(model, x, owner)
    layers = layer_sequence(model)
    index = _resolve_layer(model, layers, layer)
    head, tail = layers[:index + 1], layers[index + 1:]
    with explaining(model):
        # BEGIN SOLUTION
        maps = _run(head, x)                                          # A: (N, K, h, w)
        logits = _run(tail, maps)                                     # (N, classes)
        target = _targets(target, logits, owner)
        dmaps = _run_backward(tail, _one_hot(target, logits))        # dz_t / dA: (N, K, h, w)
        alpha = dmaps.mean(axis=(2, 3))                               # (N, K)
        cam = np.maximum(np.einsum("nk,nkij->nij", alpha, maps), 0)   # (N, h, w)
        # END SOLUTION
    return upsample_bilinear(cam, x.shape[2:]) if upsample else cam


def upsample_bilinear(maps, size):
    """Resize (N, h, w) maps to ``size`` = (H, W) by bilinear interpolation, with PyTorch's
    ``F.interpolate(mode="bilinear", align_corners=False)`` convention.

    Output pixel i samples the input at u = (i + 0.5) * h / H - 0.5 (clamped at 0):
    out[i] = (1 - f) * in[floor(u)] + f * in[min(floor(u) + 1, h - 1)],  f = u - floor(u),
    first along rows, then along columns.

    Parameters
    ----------
    maps : (N, h, w) array
    size : (H, W) ints

    Returns
    -------
    (N, H, W) array, maps' dtype
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"upsample_bilinear: maps must be (N, h, w), got shape {maps.shape}")
    out_h, out_w = (int(s) for s in size)

    def taps(in_size, out_size):
        u = np.maximum((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0.0)
        low = np.minimum(np.floor(u).astype(np.int64), in_size - 1)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, (u - low).astype(maps.dtype)

    low, high, frac = taps(maps.shape[1], out_h)
    rows = maps[:, low, :] * (1 - frac)[:, None] + maps[:, high, :] * frac[:, None]
    low, high, frac = taps(maps.shape[2], out_w)
    return rows[:, :, low] * (1 - frac) + rows[:, :, high] * frac


# ---------------------------------------------------------------------------------------------
# Occlusion
# ---------------------------------------------------------------------------------------------

def _patch_starts(size: int, patch: int, stride: int) -> np.ndarray:
    """Top (or left) edges of the patches along one axis: 0, stride, 2*stride, ..., plus one
    flush with the far edge when the stride does not land there, so every pixel is covered."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return np.array(starts)


def _positive(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def occlusion(model, x, target=None, patch: int = 6, stride: int = 2, fill=None,
              batch_size: int = 256):
    """Occlusion sensitivity (Zeiler & Fergus, 2014): how far the target logit falls when a
    square patch of the image is covered.

    drop[n, p] = z_t(x[n]) - z_t(x[n] with patch p set to fill)
    M[n, i, j] = mean of drop[n, p] over the patches p that cover pixel (i, j)

    Patches of ``patch`` x ``patch`` pixels slide with ``stride`` (plus a last one flush with
    the far edge), so every pixel is covered at least once. A positive value means covering
    that region lowers the score: the model used it as evidence for the class; a negative
    value means the region spoke against it. Each image's covered copies go through the model
    ``batch_size`` at a time.

    Parameters
    ----------
    model : a minicnn model (eval mode is used)
    x : (N, C, H, W) float array, normalised as in training
    target : None (the predicted class), an int for every image, or (N,) ints
    patch : side of the square patch, in pixels (default 6: about a fifth of a 28x28 image)
    stride : step between patch positions (default 2)
    fill : the value of a covered pixel; None (default) uses each image's minimum, which is
        the black background of a Fashion-MNIST image after normalisation, so a patch removes
        evidence rather than painting a grey square
    batch_size : covered images per forward pass

    Returns
    -------
    maps : (N, H, W) array in the model's dtype (signed)
    """
    owner = "occlusion"
    x = _check_images(model, x, owner)
    height, width = x.shape[2:]
    patch = _positive(patch, "patch", owner)
    stride = _positive(stride, "stride", owner)
    batch_size = _positive(batch_size, "batch_size", owner)
    if patch > min(height, width):
        raise ValueError(f"{owner}: patch {patch} is larger than the {height}x{width} images")
    if fill is not None and (isinstance(fill, bool) or not isinstance(fill, numbers.Real)):
        raise TypeError(f"{owner}: fill must be a number or None (each image's minimum), got "
                        f"{fill!r}")
    rows, cols = _patch_starts(height, patch, stride), _patch_starts(width, patch, stride)
    covered = np.zeros((len(rows) * len(cols), height, width), dtype=bool)   # (P, H, W)
    for p, (top, left) in enumerate((r, c) for r in rows for c in cols):
        covered[p, top:top + patch, left:left + patch] = True
    coverage = covered.sum(axis=0)
    maps = np.empty((x.shape[0], height, width), dtype=x.dtype)
    with explaining(model):
        logits = model(x)
        target = _targets(target, logits, owner)
        for n, image in enumerate(x):
            value = image.min() if fill is None else fill
            drops = np.empty(len(covered), dtype=np.float64)
            for start in range(0, len(covered), batch_size):
                mask = covered[start:start + batch_size, None]               # (B, 1, H, W)
                batch = np.where(mask, np.asarray(value, dtype=x.dtype), image[None])
                drops[start:start + len(mask)] = logits[n, target[n]] - model(batch)[:, target[n]]
            maps[n] = np.tensordot(drops, covered, axes=1) / coverage
    return maps


# ---------------------------------------------------------------------------------------------
# All three at once (the sanity check's two halves are in minicnn/sanity.py)
# ---------------------------------------------------------------------------------------------

@dataclass
class Explanations:
    """The three maps for a batch, with what they explain.

    Attributes
    ----------
    predicted : (N,) the model's predicted classes
    target : (N,) the classes explained (the predictions unless given)
    probability : (N,) softmax probability of the target class
    saliency, grad_cam, occlusion : (N, H, W) maps (see the functions of the same names)
    """

    predicted: np.ndarray
    target: np.ndarray
    probability: np.ndarray
    saliency: np.ndarray
    grad_cam: np.ndarray
    occlusion: np.ndarray


def explain_batch(model, x, target=None, *, samples: int = 0, noise: float = 0.15, rng=None,
                  layer=None, patch: int = 6, stride: int = 2, fill=None) -> Explanations:
    """``saliency``, ``grad_cam`` and ``occlusion`` of the same images and target classes
    (their arguments, passed through), plus the predictions: what the figures show."""
    x = _check_images(model, x, "explain_batch")
    with explaining(model):
        logits = model(x).astype(np.float64)
    predicted = np.argmax(logits, axis=1)
    target = _targets(target, logits, "explain_batch")
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probability = (shifted / shifted.sum(axis=1, keepdims=True))[np.arange(len(x)), target]
    return Explanations(
        predicted=predicted, target=target, probability=probability,
        saliency=saliency(model, x, target, samples=samples, noise=noise, rng=rng),
        grad_cam=grad_cam(model, x, target, layer=layer),
        occlusion=occlusion(model, x, target, patch=patch, stride=stride, fill=fill))
