"""Catalogued variants of the explanation tasks (see the package docstring)."""

from minicnn.assignments.audit.catalogue import Variant

SALIENCY = "saliency"
GRAD_CAM = "grad_cam"

_MAP = "return np.abs(gradient).max(axis=1)                          # (N, H, W)"

_SALIENCY = [
    Variant(SALIENCY, "signed_gradient", "bug",
            "the signed gradient's channel maximum, not its magnitude's",
            edits=((_MAP, "return gradient.max(axis=1)"),)),
    Variant(SALIENCY, "sum_over_channels", "bug",
            "|gradient| summed over the channels instead of their maximum",
            edits=((_MAP, "return np.abs(gradient).sum(axis=1)"),)),
    Variant(SALIENCY, "noise_not_scaled", "bug",
            "SmoothGrad's sigma is the noise fraction itself, not a fraction of the image's "
            "value range",
            edits=(("sigma = noise * spread", "sigma = noise + 0 * spread"),)),
    Variant(SALIENCY, "target_per_noisy_copy", "bug",
            "SmoothGrad explains each noisy copy's own prediction, not the clean image's target",
            edits=(("gradient, _, _ = _score_gradient(model, noisy, target, owner)",
                    "gradient, _, _ = _score_gradient(model, noisy, None, owner)"),)),
    Variant(SALIENCY, "smoothgrad_sum", "bug", "SmoothGrad sums the maps instead of averaging",
            edits=(("return total / samples", "return total"),)),
    Variant(SALIENCY, "channel_loop", "alternative",
            "the channel maximum as a running np.maximum over a loop on the channels",
            edits=((_MAP, "magnitude = np.abs(gradient)\n"        # inside "if samples == 0:"
                          "    out = magnitude[:, 0]\n"
                          "    for channel in range(1, magnitude.shape[1]):\n"
                          "        out = np.maximum(out, magnitude[:, channel])\n"
                          "    return out"),)),
]

_CAM = 'cam = np.maximum(np.einsum("nk,nkij->nij", alpha, maps), 0)   # (N, h, w)'

_GRAD_CAM = [
    Variant(GRAD_CAM, "no_relu", "bug", "the weighted sum without the ReLU",
            edits=((_CAM, 'cam = np.einsum("nk,nkij->nij", alpha, maps)'),)),
    Variant(GRAD_CAM, "alpha_summed", "bug",
            "alpha_k as the sum of the gradient over (i, j), not its mean",
            edits=(("alpha = dmaps.mean(axis=(2, 3))", "alpha = dmaps.sum(axis=(2, 3))"),)),
    Variant(GRAD_CAM, "relu_on_alpha", "bug",
            "the ReLU applied to the channel weights instead of to the weighted sum",
            edits=((_CAM, 'cam = np.einsum("nk,nkij->nij", np.maximum(alpha, 0), maps)'),)),
    Variant(GRAD_CAM, "alpha_from_activations", "bug",
            "alpha_k as the mean of the activations A_k, not of the gradient dz_t / dA_k",
            edits=(("alpha = dmaps.mean(axis=(2, 3))", "alpha = maps.mean(axis=(2, 3))"),)),
    Variant(GRAD_CAM, "target_ignored", "bug",
            "always explains the predicted class, whatever target was asked for",
            edits=(("target = _targets(target, logits, owner)",
                    "target = _targets(None, logits, owner)"),)),
    Variant(GRAD_CAM, "broadcast_sum", "alternative",
            "the weighted sum by broadcasting alpha over (i, j) and summing the channels",
            edits=((_CAM, "cam = np.maximum((alpha[:, :, None, None] * maps).sum(axis=1), 0)"),)),
]

VARIANTS = _SALIENCY + _GRAD_CAM
