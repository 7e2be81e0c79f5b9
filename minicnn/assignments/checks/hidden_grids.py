"""Hidden check grids, used by ``grade`` only. This file is left out of a student release.

Each entry is a list of case parameters for the task's spec (the family modules of
``checks``); the inputs themselves are drawn fresh at every grading run (``--seed`` fixes
them). The grids cover what students get wrong: stride > 1, overlapping windows (kernel 3
with stride 2 and 1), padding, odd and non-square shapes, a batch of one, 1x1 and 5x5
kernels, float32, ReLU at exactly 0, tied maxima (also in overlapping windows), dropout with
p = 1, label smoothing (with class weights too), evaluation mode for BatchNorm's backward, a
finite-difference check of every backward pass (against the reference forward), and one
realistic-size case per backward task (``timed``), run in its own process with a time budget
(``checks.base.backward_budget``).

The realistic sizes put finite differences of even the reference's forward far beyond the
budget, while a plain loop backward stays far inside it: the figures are in
benchmarks/HISTORY.md, "Grading: the time budget of realistic-size cases".
"""

from __future__ import annotations

_CONV = [
    dict(name="k3_s1_p0", N=2, C=3, H=6, W=6, F=4, k=3),
    dict(name="k3_s2_p1", N=2, C=2, H=7, W=7, F=3, k=3, stride=2, padding=1,
         tags=("stride", "padding")),
    dict(name="k3_s2_p0_odd", N=2, C=3, H=9, W=7, F=2, k=3, stride=2,
         tags=("stride", "nonsquare")),
    dict(name="k5_s1_p2", N=1, C=2, H=7, W=6, F=3, k=5, padding=2,
         tags=("padding", "batch1", "nonsquare")),
    dict(name="k1", N=3, C=4, H=5, W=5, F=2, k=1, tags=("kernel1",)),
    dict(name="k2x3_s(2,1)", N=2, C=2, H=6, W=7, F=3, k=(2, 3), stride=(2, 1),
         padding=(1, 0), tags=("stride", "padding", "nonsquare")),
    dict(name="batch1_k3_s3", N=1, C=1, H=9, W=9, F=2, k=3, stride=3,
         tags=("stride", "batch1")),
    dict(name="float32_s2", N=2, C=3, H=8, W=8, F=4, k=3, stride=2, padding=1,
         dtype="float32", tags=("stride", "padding")),
]
_CONV_FD = [dict(name="finite_difference", N=2, C=2, H=5, W=6, F=2, k=3, stride=2, padding=1,
                 finite_difference=True, tags=("stride", "padding", "nonsquare"))]

_POOL = [
    dict(name="k2_s2", N=2, C=3, H=6, W=6, k=2, stride=2),
    dict(name="k3_s2_overlap", N=2, C=2, H=7, W=7, k=3, stride=2, tags=("stride", "overlap")),
    dict(name="k3_s1_overlap", N=1, C=2, H=6, W=5, k=3, stride=1,
         tags=("overlap", "batch1", "nonsquare")),
    dict(name="k3_s2_p1", N=2, C=2, H=8, W=7, k=3, stride=2, padding=1,
         tags=("stride", "overlap", "padding", "nonsquare")),
    dict(name="k2_s1", N=2, C=1, H=5, W=5, k=2, stride=1, tags=("overlap",)),
    dict(name="k(2,3)_s(1,2)", N=2, C=2, H=6, W=8, k=(2, 3), stride=(1, 2),
         tags=("stride", "overlap", "nonsquare")),
    dict(name="k3_s3_odd", N=1, C=3, H=10, W=11, k=3, stride=None, tags=("batch1", "nonsquare")),
    dict(name="float32_k3_s2", N=2, C=2, H=7, W=7, k=3, stride=2, dtype="float32",
         tags=("stride", "overlap")),
]
_POOL_FD = [dict(name="finite_difference", N=2, C=2, H=6, W=5, k=3, stride=2, padding=1,
                 finite_difference=True, tags=("stride", "overlap", "padding", "nonsquare"))]
_TIES = [dict(name="tied_maxima", N=2, C=3, H=8, W=8, k=2, stride=2, ties=True, tags=("ties",)),
         dict(name="tied_maxima_k3", N=1, C=2, H=9, W=6, k=3, stride=3, ties=True,
              tags=("ties", "batch1")),
         dict(name="tied_maxima_overlap", N=2, C=2, H=7, W=7, k=3, stride=2, ties=True,
              tags=("ties", "overlap", "stride"))]

_BN = [
    dict(name="train_4d", shape=(4, 3, 5, 6), training=True, tags=("4d", "training")),
    dict(name="train_2d", shape=(16, 7), training=True, tags=("2d", "training")),
    dict(name="train_batch1_4d", shape=(1, 2, 4, 3), training=True,
         tags=("4d", "training", "batch1")),
    dict(name="train_momentum0.3", shape=(5, 4, 3, 3), training=True, momentum=0.3, eps=1e-3,
         tags=("4d", "training")),
    dict(name="train_float32", shape=(8, 3, 4, 4), training=True, dtype="float32",
         tags=("4d", "training")),
]
_BN_EVAL = [dict(name="eval_4d", shape=(3, 3, 4, 5), training=False, tags=("4d", "eval")),
            dict(name="eval_2d", shape=(5, 6), training=False, tags=("2d", "eval"))]
_BN_FD = [dict(name="finite_difference", shape=(3, 2, 3, 3), training=True,
               finite_difference=True, tags=("4d", "training"))]

_LINEAR = [dict(name="basic", N=6, **{"in": 7, "out": 4}),
           dict(name="batch1", N=1, **{"in": 5, "out": 3}, tags=("batch1",)),
           dict(name="wide", N=3, **{"in": 20, "out": 11}),
           dict(name="float32", N=5, **{"in": 8, "out": 6}, dtype="float32")]

_RELU = [dict(name="4d", shape=(2, 3, 5, 4)), dict(name="2d", shape=(7, 9)),
         dict(name="float32_4d", shape=(3, 2, 4, 4), dtype="float32"),
         dict(name="zeros_4d", shape=(2, 3, 4, 5), zeros=0.25, tags=("zeros",)),
         dict(name="zeros_float32", shape=(6, 7), zeros=0.3, dtype="float32",
              tags=("zeros",))]

_CE = [dict(name="basic", N=8, K=5),
       dict(name="batch1", N=1, K=10, tags=("batch1",)),
       dict(name="weighted", N=9, K=4, weighted=True, tags=("weighted",)),
       dict(name="large_logits", N=6, K=7, scale=500.0, tags=("large_logits",)),
       dict(name="large_logits_weighted", N=5, K=3, scale=200.0, weighted=True,
            tags=("large_logits", "weighted")),
       dict(name="float32", N=6, K=10, dtype="float32"),
       dict(name="label_smoothing", N=7, K=5, smoothing=0.1, tags=("label_smoothing",)),
       dict(name="label_smoothing_weighted", N=6, K=4, smoothing=0.25, weighted=True,
            tags=("label_smoothing", "weighted")),
       dict(name="label_smoothing_float32", N=5, K=6, smoothing=0.2, dtype="float32",
            tags=("label_smoothing",))]

_DROPOUT = [dict(name="p0.5", shape=(100, 120), p=0.5),
            dict(name="p0.1_4d", shape=(16, 8, 9, 9), p=0.1),
            dict(name="p0.8", shape=(80, 90), p=0.8),
            dict(name="p0", shape=(10, 10), p=0.0, tags=("eval",)),
            dict(name="eval", shape=(9, 11), p=0.5, training=False, tags=("eval",)),
            dict(name="p1", shape=(10, 12), p=1.0),
            dict(name="float32_p0.3", shape=(60, 70), p=0.3, dtype="float32")]


_SGD = [dict(name="plain", optimizer="SGD", kwargs={"lr": 0.1}, shapes=[(4, 3), (3,)], steps=3),
        dict(name="momentum", optimizer="SGD", kwargs={"lr": 0.05, "momentum": 0.9},
             shapes=[(2, 3, 2)], steps=4, tags=("momentum",)),
        dict(name="dampening", optimizer="SGD",
             kwargs={"lr": 0.05, "momentum": 0.8, "dampening": 0.3}, shapes=[(5,)], steps=4,
             tags=("momentum", "dampening")),
        dict(name="nesterov", optimizer="SGD",
             kwargs={"lr": 0.02, "momentum": 0.9, "nesterov": True}, shapes=[(3, 3)], steps=4,
             tags=("momentum", "nesterov")),
        dict(name="weight_decay", optimizer="SGD",
             kwargs={"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05}, shapes=[(6,)], steps=3,
             tags=("momentum", "weight_decay")),
        dict(name="float32", optimizer="SGD", kwargs={"lr": 0.1, "momentum": 0.9},
             shapes=[(4, 4)], steps=3, dtype="float32", tags=("momentum",))]

_ADAM = [dict(name="adam", optimizer="Adam", kwargs={"lr": 0.01}, shapes=[(4, 3), (3,)], steps=4),
         dict(name="adam_betas", optimizer="Adam",
              kwargs={"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-6}, shapes=[(5,)], steps=5),
         dict(name="adam_weight_decay", optimizer="Adam",
              kwargs={"lr": 0.01, "weight_decay": 0.1}, shapes=[(2, 4)], steps=3,
              tags=("weight_decay",)),
         dict(name="adamw", optimizer="AdamW", kwargs={"lr": 0.01, "weight_decay": 0.1},
              shapes=[(3, 2), (2,)], steps=4, tags=("weight_decay", "adamw")),
         dict(name="float32", optimizer="Adam", kwargs={"lr": 0.01}, shapes=[(3, 3)], steps=3,
              dtype="float32")]


def _fd(items, extra):
    return items + extra


def _timed(**params):
    """The realistic-size case of a backward task (see the module docstring)."""
    return [dict(name="realistic", timed=True, **params)]


# The explanation tasks, on the check's own model (see checks.explain): 8x8 and non-square
# 10x6 / 9x7 images, one to three input channels, a batch of one, float32; Grad-CAM at each of
# the three map layers (layer "1" halves the maps: upsampled or not).
_EXPLAIN = dict(N=3, C=1, H=8, W=8, classes=5)
_SALIENCY = [dict(_EXPLAIN, name="predicted_class"),
             dict(_EXPLAIN, name="given_target", kwargs={"target": 3}, tags=("target",)),
             dict(_EXPLAIN, name="target_per_image", kwargs={"target": "per_image"},
                  tags=("target",)),
             dict(_EXPLAIN, name="three_channels_nonsquare", C=3, H=10, W=6,
                  tags=("channels", "nonsquare")),
             dict(_EXPLAIN, name="batch1", N=1, tags=("batch1",)),
             dict(_EXPLAIN, name="float32", dtype="float32"),
             dict(_EXPLAIN, name="smoothgrad", kwargs={"samples": 3, "noise": 0.15, "rng": 11},
                  tags=("smoothgrad",)),
             dict(_EXPLAIN, name="smoothgrad_target", C=2,
                  kwargs={"samples": 2, "noise": 0.3, "rng": 5, "target": 1},
                  tags=("smoothgrad", "target", "channels"))]
_GRAD_CAM = [dict(_EXPLAIN, name="default_layer"),
             dict(_EXPLAIN, name="given_target", kwargs={"target": 4}, tags=("target",)),
             dict(_EXPLAIN, name="target_per_image", kwargs={"target": "per_image"},
                  tags=("target",)),
             dict(_EXPLAIN, name="first_maps", kwargs={"layer": "0"}, tags=("layer",)),
             dict(_EXPLAIN, name="halved_maps_nonsquare", H=9, W=7, kwargs={"layer": "1"},
                  tags=("layer", "nonsquare")),
             dict(_EXPLAIN, name="no_upsample_nonsquare", H=10, W=6,
                  kwargs={"layer": "1", "upsample": False}, tags=("nonsquare",)),
             dict(_EXPLAIN, name="batch1", N=1, tags=("batch1",)),
             dict(_EXPLAIN, name="float32", C=2, dtype="float32")]

# The residual block (checks.residual), on the check's stand-in layers: the identity
# shortcut (also a batch of one, non-square), the projection for more and for fewer
# channels at stride 1 and at stride 2 (odd sizes too), float32 for both shortcuts, finite
# differences of both; every untimed case runs two forward + backward rounds.
_RESIDUAL = [
    dict(name="identity", in_planes=3, planes=3, N=2, H=6, W=6),
    dict(name="identity_batch1", in_planes=4, planes=4, N=1, H=5, W=7,
         tags=("batch1", "nonsquare")),
    dict(name="more_channels", in_planes=2, planes=5, N=2, H=5, W=5),
    dict(name="fewer_channels", in_planes=4, planes=2, N=2, H=4, W=6, tags=("nonsquare",)),
    dict(name="stride2", in_planes=3, planes=3, N=2, H=6, W=6, stride=2, tags=("stride2",)),
    dict(name="stride2_channels_odd", in_planes=2, planes=4, N=3, H=7, W=5, stride=2,
         tags=("stride2", "nonsquare")),
    dict(name="float32_identity", in_planes=3, planes=3, N=2, H=5, W=5, dtype="float32"),
    dict(name="float32_stride2", in_planes=2, planes=4, N=2, H=8, W=8, stride=2,
         dtype="float32", tags=("stride2",)),
]
_RESIDUAL_FD = [
    dict(name="finite_difference_identity", in_planes=2, planes=2, N=2, H=4, W=5,
         finite_difference=True, tags=("nonsquare",)),
    dict(name="finite_difference_stride2", in_planes=2, planes=3, N=2, H=5, W=4, stride=2,
         finite_difference=True, tags=("stride2", "nonsquare")),
]

HIDDEN_PARAMS = {
    "saliency": _SALIENCY,
    "grad_cam": _GRAD_CAM,
    "relu_forward": _RELU,
    "relu_backward": _fd(_RELU, [dict(name="finite_difference", shape=(3, 5),
                                      finite_difference=True)])
    + _timed(shape=(128, 32, 16, 16), zeros=0.05, tags=("zeros",)),
    "linear_forward": _LINEAR,
    "linear_backward": _fd(_LINEAR, [dict(name="finite_difference", N=3, **{"in": 4, "out": 3},
                                          finite_difference=True)])
    + _timed(N=128, **{"in": 1024, "out": 256}),
    "conv2d_forward": _CONV,
    "conv2d_backward": _fd(_CONV, _CONV_FD)
    + _timed(N=4, C=8, H=16, W=16, F=8, k=3, padding=1, tags=("padding",)),
    "conv2d_im2col_forward": _CONV,
    "conv2d_im2col_backward": _fd(_CONV, _CONV_FD)
    + _timed(N=32, C=16, H=16, W=16, F=16, k=3, padding=1, tags=("padding",)),
    "max_pool2d_forward": _POOL + _TIES,
    "max_pool2d_backward": _fd(_POOL, _POOL_FD + _TIES)
    + _timed(N=32, C=32, H=32, W=32, k=2, stride=2),
    "avg_pool2d_forward": _POOL,
    "avg_pool2d_backward": _fd(_POOL, _POOL_FD)
    + _timed(N=16, C=32, H=32, W=32, k=3, stride=2, padding=1,
             tags=("stride", "overlap", "padding")),
    "batch_norm_forward": _BN + _BN_EVAL,
    "batch_norm_backward": _fd(_BN + _BN_EVAL, _BN_FD)
    + _timed(shape=(64, 64, 16, 16), training=True, tags=("4d", "training")),
    "dropout_forward": _DROPOUT,
    "dropout_backward": _DROPOUT + _timed(shape=(128, 32, 16, 16), p=0.5),
    "residual_block_backward": _fd(_RESIDUAL, _RESIDUAL_FD)
    + _timed(in_planes=16, planes=32, N=32, H=16, W=16, stride=2, tags=("stride2",)),
    "sgd_step": _SGD,
    "adam_step": _ADAM,
    "cross_entropy_forward": _CE,
    "cross_entropy_backward": _fd(_CE, [dict(name="finite_difference", N=4, K=5, weighted=True,
                                             finite_difference=True, tags=("weighted",)),
                                        dict(name="finite_difference_smoothing", N=3, K=4,
                                             weighted=True, smoothing=0.3,
                                             finite_difference=True,
                                             tags=("weighted", "label_smoothing"))])
    + _timed(N=2048, K=200),
}
