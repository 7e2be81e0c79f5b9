"""``minicnn explore``: a trained model, layer by layer, live in the browser.

CNN Explainer for your own checkpoint: pick, upload or draw an image; see each class's
probability, every layer's output with its shape, how one value of a conv map is computed
(window x filter, summed, plus bias; then BatchNorm and ReLU), and saliency, SmoothGrad,
Grad-CAM and occlusion for any class, with the randomisation sanity check. Two checkpoints
side by side. A local Flask app; the page is a little hand-written HTML, CSS and JavaScript
in ``static/``, and loads nothing from another host.

    model.py       ExploredModel: a checkpoint opened, its forward pass recorded layer by layer
    arithmetic.py  the arithmetic of one conv map value, and receptive fields
    images.py      uploads (Pillow) and canvas pixels -> the model's input, with the steps
    server.py      the Flask app: the page and its JSON API
    cli.py         the ``minicnn explore`` command
    widgets.py     ipywidgets explorers for the notebooks (convolution, pooling, layers)
"""

__all__ = ["add_parser", "run"]


def add_parser(commands):
    """Register ``minicnn explore`` on ``minicnn``'s sub-parsers (see ``explore.cli``)."""
    from minicnn.explore.cli import add_parser as add
    return add(commands)


def run(args) -> int:
    """Run ``minicnn explore`` with parsed arguments (see ``explore.cli``)."""
    from minicnn.explore.cli import run as run_explorer
    return run_explorer(args)
