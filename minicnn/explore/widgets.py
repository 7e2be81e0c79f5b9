"""The explorer in a notebook: small interactive views built from core ipywidgets only (they
work in Jupyter and on Colab with nothing to install).

    conv_explorer(image)        kernel size, stride and padding sliders on a real image: the
                                padded input, the output map, the output-size formula live
    pool_explorer(image)        the same for max and average pooling
    layer_view(model, images)   the explorer's layer view: pick an image and a layer, see
                                every channel's map with its shape, and the prediction

Each returns an object whose ``widget`` is displayed (it displays itself as the last line of
a cell) and whose attributes (``kernel``, ``stride``, ``padding``, ``formula``, ``output``,
``result``...) are the live widgets and the numbers shown, so a test can set values and read
what a student would see. The maps are minicnn's own (``minicnn.functional``; the layer view
records the model's forward with ``minicnn.explore.model.record_layers``), drawn as PNG
images by Pillow.
"""

from __future__ import annotations

import html
import io

import numpy as np

__all__ = ["conv_explorer", "pool_explorer", "layer_view", "FILTERS", "to_png"]


def _widgets():
    try:
        import ipywidgets
    except ImportError:
        raise ImportError("the notebook explorers need ipywidgets (pip install ipywidgets; "
                          "Colab has it)") from None
    return ipywidgets


def to_png(array, scale: int = 6, signed=None) -> bytes:
    """A 2-d array as a PNG, each value a ``scale`` x ``scale`` square: grey from black (min)
    to white (max), or for a signed array (``signed=None`` decides from the values) blue for
    negative, white for 0, red for positive."""
    from PIL import Image
    a = np.asarray(array, dtype=np.float64)
    signed = bool(a.size and a.min() < 0) if signed is None else signed
    if signed:
        bound = np.abs(a).max() or 1.0
        t = a / bound
        pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
        rgb = np.stack([255 - 61 * pos - 218 * neg, 255 - 190 * pos - 156 * neg,
                        255 - 243 * pos - 20 * neg], axis=-1)
    else:
        low, high = (a.min(), a.max()) if a.size else (0.0, 1.0)
        grey = (a - low) / (high - low) * 255 if high > low else np.zeros_like(a)
        rgb = np.stack([grey] * 3, axis=-1)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    image = image.resize((max(1, a.shape[1] * scale), max(1, a.shape[0] * scale)),
                         Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _filter(name: str, k: int) -> np.ndarray:
    """A k x k filter of a kind: vertical or horizontal edges (a Sobel-like ramp), a box blur,
    or the identity (a single 1 in the middle)."""
    ramp = np.linspace(1, -1, k) if k > 1 else np.ones(1)
    smooth = np.minimum(np.arange(1, k + 1), np.arange(k, 0, -1)).astype(np.float64)
    if name == "vertical edges":
        return np.outer(smooth, ramp)
    if name == "horizontal edges":
        return np.outer(ramp, smooth)
    if name == "blur":
        return np.full((k, k), 1.0 / (k * k))
    weight = np.zeros((k, k))
    weight[k // 2, k // 2] = 1.0
    return weight


FILTERS = ("vertical edges", "horizontal edges", "blur", "identity")


def _formula(size: int, kernel: int, stride: int, padding: int) -> tuple[str, int]:
    out = (size + 2 * padding - kernel) // stride + 1
    text = (f"H<sub>out</sub> = &lfloor;(H + 2p &minus; k) / s&rfloor; + 1 = "
            f"&lfloor;({size} + 2&middot;{padding} &minus; {kernel}) / {stride}&rfloor; + 1 "
            f"= <b>{out}</b>")
    return text, out


def _default_image():
    from minicnn.data import FashionMNIST
    return FashionMNIST("test", root="sample").images[0]


def _as_grey(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3:                       # (1, H, W) or (H, W, 1)
        image = image.reshape(image.shape[-2:] if image.shape[0] == 1 else image.shape[:2])
    if image.ndim != 2:
        raise ValueError(f"expected one greyscale image (H, W), got shape {image.shape}")
    return image.astype(np.float64) / (255.0 if image.dtype == np.uint8 else 1.0)


class _WindowExplorer:
    """Shared by the conv and pooling explorers: sliders, the padded input, the output, the
    formula; ``update()`` recomputes on every change."""

    title = ""

    def __init__(self, image, kernel, stride, padding, extra):
        w = _widgets()
        self.image = _as_grey(_default_image() if image is None else image)
        style = {"description_width": "70px"}
        self.kernel = w.IntSlider(value=kernel, min=1, max=7, description="kernel k",
                                  style=style, continuous_update=True)
        self.stride = w.IntSlider(value=stride, min=1, max=4, description="stride s",
                                  style=style)
        self.padding = w.IntSlider(value=padding, min=0, max=3, description="padding p",
                                   style=style)
        self.extra = extra
        self.formula = w.HTML()
        self.input_view = w.Image(format="png")
        self.output = w.Image(format="png")
        self.caption = w.HTML()
        self.result = None                          # the output map shown (2-d array)
        self.output_shape = None
        for control in (self.kernel, self.stride, self.padding, extra):
            control.observe(lambda change: self.update(), names="value")
        self.widget = w.VBox([
            w.HTML(f"<b>{self.title}</b>"),
            w.HBox([w.VBox([self.kernel, self.stride, self.padding, extra]), self.formula]),
            w.HBox([w.VBox([w.HTML("input (padding in grey)"), self.input_view]),
                    w.VBox([self.caption, self.output])])])
        self.update()

    def compute(self, k, s, p):                      # returns the (H_out, W_out) map
        raise NotImplementedError

    def update(self):
        k, s, p = self.kernel.value, self.stride.value, self.padding.value
        height, width = self.image.shape
        text, expected = _formula(height, k, s, p)
        shown = np.pad(self.image, p, constant_values=0.5)        # padding drawn grey
        self.input_view.value = to_png(shown, scale=5, signed=False)
        try:
            self.result = np.asarray(self.compute(k, s, p))
        except ValueError as error:
            self.result, self.output_shape = None, None
            self.formula.value = text + f"<br><span style='color:#b91c1c'>" \
                                        f"{html.escape(str(error))}</span>"
            self.caption.value = "no output"
            self.output.value = to_png(np.zeros((1, 1)), scale=1)
            return
        self.output_shape = self.result.shape
        self.formula.value = text + (f"<br>the output computed by minicnn: "
                                     f"{self.result.shape[0]} &times; {self.result.shape[1]}"
                                     f" {'&check;' if self.result.shape[0] == expected else '?'}")
        self.caption.value = f"output {self.result.shape[0]} &times; {self.result.shape[1]}"
        self.output.value = to_png(self.result, scale=max(1, 5 * (height + 2 * p)
                                                          // max(self.result.shape)))

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


class ConvExplorer(_WindowExplorer):
    title = "Convolution: slide a k x k filter with stride s over the padded image"

    def __init__(self, image=None, kernel=3, stride=1, padding=1, filter="vertical edges"):
        w = _widgets()
        self.filter = w.Dropdown(options=FILTERS, value=filter, description="filter",
                                 style={"description_width": "70px"})
        super().__init__(image, kernel, stride, padding, self.filter)

    def compute(self, k, s, p):
        from minicnn.functional import conv2d_forward
        self.weight = _filter(self.filter.value, k)
        out, _ = conv2d_forward(self.image[None, None], self.weight[None, None], None,
                                stride=s, padding=p)
        return out[0, 0]


class PoolExplorer(_WindowExplorer):
    title = "Pooling: each k x k window (stride s) summarised by its max or its mean"

    def __init__(self, image=None, kernel=2, stride=2, padding=0, mode="max"):
        w = _widgets()
        self.mode = w.ToggleButtons(options=("max", "average"), value=mode,
                                    description="pooling", style={"description_width": "70px"})
        super().__init__(image, kernel, stride, padding, self.mode)

    def compute(self, k, s, p):
        from minicnn.functional import avg_pool2d_forward, max_pool2d_forward
        pool = max_pool2d_forward if self.mode.value == "max" else avg_pool2d_forward
        out, _ = pool(self.image[None, None], k, s, p)
        return out[0, 0]


def conv_explorer(image=None, **settings) -> ConvExplorer:
    """Sliders for kernel size, stride and padding over a real image (default: the first
    Fashion-MNIST test image of the bundled sample); the output of ``conv2d_forward`` and
    the output-size formula follow. ``settings``: kernel, stride, padding, filter."""
    return ConvExplorer(image, **settings)


def pool_explorer(image=None, **settings) -> PoolExplorer:
    """The same for ``max_pool2d_forward`` / ``avg_pool2d_forward``. ``settings``: kernel,
    stride, padding, mode ("max" or "average")."""
    return PoolExplorer(image, **settings)


class LayerView:
    """The explorer's layer view inline: an image slider, a layer menu, every channel's map
    of that layer (as the model computed it) with its shape, and the prediction."""

    def __init__(self, model, images, classes=None, normalise=None, labels=None,
                 columns: int = 16):
        from minicnn.explore.model import record_layers, softmax
        w = _widgets()
        self.model, self.images = model, np.asarray(images)
        self.labels = None if labels is None else np.asarray(labels)
        self.normalise = normalise or _lecture_normalise
        self.columns = columns
        self._record, self._softmax = record_layers, softmax
        self.index = w.IntSlider(value=0, min=0, max=len(self.images) - 1, description="image")
        self.image_view = w.Image(format="png")
        self.prediction = w.HTML()
        self.layer = w.Dropdown(description="layer", options=[])
        self.shape = w.HTML()
        self.maps = w.Image(format="png")
        self.records = []
        self.classes = classes
        self.index.observe(lambda change: self.run(), names="value")
        self.layer.observe(lambda change: self.show_layer(), names="value")
        self.widget = w.VBox([w.HBox([w.VBox([self.index, self.image_view]), self.prediction]),
                              w.HBox([self.layer, self.shape]), self.maps])
        self.run()

    def run(self):
        image = self.images[self.index.value]
        x = self.normalise(image)
        self.model.eval()
        with self._record(self.model) as records:
            logits = self.model(x)
        self.records = list(records)
        self.probabilities = self._softmax(logits[0])
        names = self.classes or [str(k) for k in range(len(self.probabilities))]
        top = int(np.argmax(self.probabilities))
        truth = "" if self.labels is None else \
            f" (true: {html.escape(str(names[int(self.labels[self.index.value])]))})"
        rows = "".join(f"<tr><td>{html.escape(str(name))}</td><td style='text-align:right'>"
                       f"{100 * p:.1f}%</td></tr>"
                       for name, p in sorted(zip(names, self.probabilities),
                                             key=lambda item: -item[1])[:5])
        self.prediction.value = (f"<b>prediction: {html.escape(str(names[top]))}</b>{truth}"
                                 f"<table>{rows}</table>")
        self.image_view.value = to_png(_as_grey(image), scale=4, signed=False)
        options = [record.name for record in self.records]
        current = self.layer.value
        if list(self.layer.options) != options:
            self.layer.options = options
        self.layer.value = current if current in options else options[0]
        self.show_layer()

    def show_layer(self):
        record = next((r for r in self.records if r.name == self.layer.value), None)
        if record is None:
            return
        out = record.output[0]
        self.shape.value = (f"{type(record.module).__name__}, output "
                            f"{' &times; '.join(str(n) for n in out.shape)}, values "
                            f"{out.min():.3g} to {out.max():.3g}")
        self.maps.value = to_png(self.tiled(out), scale=3)

    def tiled(self, out):
        """Channels side by side in rows of ``columns`` (a 1-pixel gap), or a vector as rows."""
        if out.ndim == 1:
            width = min(len(out), 64)
            padded = np.full(-(-len(out) // width) * width, np.nan)
            padded[:len(out)] = out
            tiles = padded.reshape(-1, width)
            return np.nan_to_num(tiles, nan=0.0)
        channels, h, w = out.shape
        cols = min(self.columns, channels)
        rows = -(-channels // cols)
        grid = np.zeros((rows * (h + 1) - 1, cols * (w + 1) - 1))
        for c in range(channels):
            r, q = divmod(c, cols)
            grid[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = out[c]
        return grid

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


def _lecture_normalise(image):
    """uint8 (H, W) -> (1, 1, H, W), normalised as the lecture's evaluation transform."""
    from minicnn.data import lecture_eval_transform
    return lecture_eval_transform()(np.asarray(image, dtype=np.uint8)[None])


def layer_view(model, images, classes=None, labels=None, normalise=None) -> LayerView:
    """The explorer's layer view for ``model`` on uint8 ``images`` (N, H, W); ``normalise``
    turns one image into the model's input (default: the lecture's ToTensor + Normalize)."""
    return LayerView(model, images, classes=classes, labels=labels, normalise=normalise)
