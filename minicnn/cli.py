"""The ``minicnn`` command (also ``python -m minicnn``).

    minicnn train [options]            train the lecture's CNN, write a run directory
    minicnn train --resume RUN_DIR     continue a run exactly where it stopped
    minicnn evaluate CHECKPOINT        test accuracy, overall and per class
    minicnn explain CHECKPOINT         saliency, Grad-CAM and occlusion of a few test images
    minicnn explore CHECKPOINT [B]     the model layer by layer in the browser (a local page)
    minicnn summary                    the CNN's layers, output shapes and parameter counts
    minicnn assignment ...             instructor tooling (release stubs, grade submissions)

Bad input ends with exit status 1 (2 for a bad command line) and one line on stderr,
``minicnn: error: ...``; set MINICNN_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys

PROG = "minicnn"
# minicnn.train.DEFAULT_THREADS, known here without importing NumPy (tests hold them equal)
_DEFAULT_THREADS = "auto"


class CLIError(Exception):
    """A problem with the user's input: reported as one line, no traceback."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is ONE line on stderr (no usage block). Public: the
    ``minicnn assignment`` commands and the Gradescope container's parser use it too."""

    def error(self, message):  # noqa: D401 (argparse's name)
        sys.stderr.write(f"{PROG}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _defaults():
    from minicnn.train import TrainConfig
    return TrainConfig()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _threads(text: str) -> int | str:
    """``--threads N``: N >= 1, "auto" for the idle cores, or 0 for the libraries' own
    default (None in TrainConfig and set_threads; see _thread_setting)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of threads or 'auto', got "
                                         f"{text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more threads, got {text!r}")
    return value


def _thread_setting(value):
    """The parsed --threads as TrainConfig and set_threads take it: 0 -> None."""
    return None if value == 0 else value


def _index(text: str) -> int:
    """An index or a count: an integer >= 0, written with the digits 0-9 only."""
    if text.isascii() and text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


# (flag, TrainConfig field, argparse keyword arguments). Every default is None, so that
# ``--resume`` can tell which settings were given on the command line.
def _train_options(d):
    return [
        ("--model", "model", dict(choices=_model_names(),
                                  help=f"the network (default {d.model}: the lecture's CNN; "
                                       f"gapcnn its global-average-pooling variant; lenet5; "
                                       f"resnet20/32/56, the CIFAR ResNets of He et al.)")),
        ("--dataset", "dataset", dict(choices=_dataset_names(),
                                      help=f"the images (default {d.dataset}; folder: your own, "
                                           f"--data-dir DIR with one sub-folder per class, or "
                                           f"train/ and test/ folders of those)")),
        ("--image-size", "image_size", dict(type=_positive_int, metavar="N",
                                            help="folder: resize every image to N x N (needed "
                                                 "when their sizes differ)")),
        ("--grayscale", "grayscale", dict(action="store_const", const=True,
                                          help="folder: read the images as grey, one channel")),
        ("--epochs", "epochs", dict(type=_positive_int, metavar="N",
                                    help=f"number of epochs (default {d.epochs}: a few minutes "
                                         f"with the lecture's CNN and Fashion-MNIST); with "
                                         f"--resume, the new total")),
        ("--batch-size", "batch_size", dict(type=_positive_int, metavar="N",
                                            help=f"images per batch (default {d.batch_size})")),
        ("--lr", "lr", dict(type=_positive_float, metavar="LR",
                            help=f"learning rate (default {d.lr:g})")),
        ("--weight-decay", "weight_decay", dict(type=_nonnegative_float, metavar="WD",
                                                help=f"L2 penalty; decoupled for adamw "
                                                     f"(default {d.weight_decay:g})")),
        ("--optimizer", "optimizer", dict(choices=("adam", "adamw", "sgd"),
                                          help=f"default {d.optimizer} (sgd uses momentum "
                                               f"{d.momentum})")),
        ("--scheduler", "scheduler", dict(choices=("plateau", "step", "cosine", "none"),
                                          help=f"learning-rate schedule (default {d.scheduler}:"
                                               f" ReduceLROnPlateau on the validation loss, "
                                               f"patience {d.patience}, factor {d.factor}; step:"
                                               f" x{d.factor} every {d.step_size} epochs; "
                                               f"cosine: over all epochs)")),
        ("--augment", "augment", dict(action=argparse.BooleanOptionalAction,
                                      help="RandomHorizontalFlip + RandomCrop(size, padding="
                                           "size // 14), and ColorJitter on RGB images, on "
                                           "the training images (default on; --no-augment "
                                           "turns it off)")),
        ("--dropout", "dropout", dict(type=float, metavar="P",
                                      help=f"dropout before the last layer (default "
                                           f"{d.dropout})")),
        ("--label-smoothing", "label_smoothing",
         dict(type=_nonnegative_float, metavar="EPS",
              help=f"CrossEntropyLoss(label_smoothing=EPS), in [0, 1]: each target is 1 - EPS "
                   f"on its label plus EPS/K on every class (default {d.label_smoothing:g})")),
        ("--seed", "seed", dict(type=int, metavar="S",
                                help=f"seed of the weights, the validation split, the data "
                                     f"order and the augmentation (default {d.seed})")),
        ("--data-dir", "data_dir", dict(metavar="DIR",
                                        help="directory holding the data set's files, or your "
                                             "images for --dataset folder (default: "
                                             "$MINICNN_DATA, ~/.cache/minicnn, Debian's "
                                             "dataset-fashion-mnist, else download, else, for "
                                             "Fashion-MNIST, the bundled sample)")),
        ("--sample", "sample", dict(action="store_const", const=True,
                                    help="use the 2,000/500-image sample bundled in the "
                                         "package (fast; accuracy is lower)")),
        ("--out", "out", dict(metavar="DIR", help="run directory (default runs/<timestamp>)")),
        ("--conv-method", "conv_method", dict(choices=_conv_methods(),
                                              help=f"how convolution is computed (default "
                                                   f"{d.conv_method}: the direct sum, Winograd, "
                                                   f"im2col or chunked GEMM per layer; naive "
                                                   f"is very slow)")),
        ("--threads", "threads", dict(type=_threads, metavar="N",
                                      help=f"threads for NumPy's BLAS and Numba (default "
                                           f"{d.threads}: as many as there are idle cores, "
                                           f"at most 8; 1 repeats a run bit for bit on any "
                                           f"machine; 0 = let the libraries decide)")),
        ("--val-size", "val_size", dict(type=_positive_int, metavar="N",
                                        help=f"training images held out for validation "
                                             f"(default {d.val_size}; at most a tenth of a "
                                             f"smaller data set such as the sample)")),
        ("--subset", "subset", dict(type=_positive_int, metavar="N",
                                    help="train on only N images (quick runs)")),
        ("--test-subset", "test_subset", dict(type=_positive_int, metavar="N",
                                              help="score only N test images each epoch "
                                                   "(stratified, seeded; quick runs: the "
                                                   "figure is an estimate, `minicnn "
                                                   "evaluate` scores them all)")),
        ("--figures", "figures", dict(action=argparse.BooleanOptionalAction,
                                      help="write the PNG figures at the end (default on)")),
        ("--progress", "progress", dict(action=argparse.BooleanOptionalAction,
                                        help="progress bar on stderr (default: only when "
                                             "stderr is a terminal)")),
    ]


def _conv_methods() -> tuple:
    from minicnn.functional.conv import CONV_METHODS

    return CONV_METHODS


def _model_names() -> tuple:
    from minicnn.train.config import MODEL_NAMES

    return MODEL_NAMES


def _dataset_names() -> tuple:
    from minicnn.train.config import DATASETS

    return DATASETS


# --data-dir of the commands that read a checkpoint's data set
_CHECKPOINT_DATA_DIR = ("directory holding the data set's files (default: the search path of "
                        "minicnn train --data-dir; for --dataset folder, where the run read "
                        "its images)")


def build_parser() -> argparse.ArgumentParser:
    d = _defaults()
    parser = Parser(prog=PROG, description="Convolutional neural networks from scratch in "
                                           "NumPy: train, evaluate and inspect the lecture's "
                                           "CNN on Fashion-MNIST, the networks of its "
                                           "references and other data sets.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a network (default: the lecture's CNN on Fashion-MNIST)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train the lecture's CNN with the lecture's recipe: Adam(lr=1e-3, weight_decay=1e-4),"
            "\nReduceLROnPlateau(patience=3, factor=0.5) on the validation loss, batch 64,\n"
            "RandomHorizontalFlip + RandomCrop(28, padding=2), Normalize(0.286, 0.353), 5,000\n"
            f"training images held out for validation, {d.epochs} epochs (a few minutes on a "
            "laptop).\n\n"
            "Writes a run directory: config.json, metrics.csv (one row per epoch), last.npz and\n"
            "best.npz (lowest validation loss) checkpoints, and PNG figures (curves, confusion\n"
            "matrix, first-layer filters, feature maps, misclassified images, explanations).\n"
            "Stops with an error if the loss becomes NaN or explodes, keeping the last good\n"
            "checkpoint.\n"
            "Ctrl-C stops too; `minicnn train --resume RUN_DIR` continues exactly where a run\n"
            "stopped (optionally with a larger --epochs).\n\n"
            "--model and --dataset train another network (LeNet-5, the CIFAR ResNets) or on\n"
            "other images (MNIST, CIFAR-10, a folder of your own) with the same recipe; the\n"
            "input shape, the classes and the normalisation come from the data."))
    for flag, dest, kwargs in _train_options(d):
        train.add_argument(flag, dest=dest, default=None, **kwargs)
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue the run in RUN_DIR from its last.npz")

    evaluate = commands.add_parser(
        "evaluate", help="test accuracy of a checkpoint, overall and per class",
        description="Evaluate a checkpoint written by `minicnn train` (last.npz or best.npz) "
                    "on the test images of the data set it was trained on (the checkpoint records "
                    "which): overall and per-class accuracy.")
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT", help="a .npz checkpoint")
    evaluate.add_argument("--data-dir", metavar="DIR", help=_CHECKPOINT_DATA_DIR)
    evaluate.add_argument("--sample", action="store_true",
                          help="evaluate on the bundled sample's test split")
    evaluate.add_argument("--batch-size", type=_positive_int, default=500, metavar="N",
                          help="images per forward pass (default 500)")
    evaluate.add_argument("--tta", action="store_true",
                          help="test-time augmentation: classify each image by the mean of "
                               "its and its mirror image's class probabilities (the training "
                               "flip; twice the forward passes)")
    evaluate.add_argument("--split", choices=("test", "val"), default="test",
                          help="score the test images (default) or the run's own validation "
                               "images (the same seeded hold-out), to choose e.g. --tta "
                               "without looking at the test set")
    evaluate.add_argument("--threads", type=_threads, default=d.threads, metavar="N",
                          help=f"threads for NumPy's BLAS and Numba (default {d.threads}: the "
                               f"idle cores; 0 = "
                               f"let them decide)")

    explain = commands.add_parser(
        "explain", help="why the model said what it said: saliency, Grad-CAM, occlusion",
        description="Explain a checkpoint's predictions on a few test images of the data set it "
                    "was trained on: one "
                    "figure row per image with the image (true and predicted class), the "
                    "saliency map |dz/dx|, Grad-CAM on the last conv block and the occlusion "
                    "map (minicnn.explain; z = the predicted class's logit).")
    explain.add_argument("checkpoint", metavar="CHECKPOINT", help="a .npz checkpoint")
    explain.add_argument("--index", type=_index, nargs="+", default=[0, 1, 2, 3], metavar="N",
                         help="test images to explain, by index (default 0 1 2 3)")
    explain.add_argument("--out", metavar="FILE",
                         help="where to write the figure (default: <checkpoint>_explanations"
                              ".png next to the checkpoint)")
    explain.add_argument("--data-dir", metavar="DIR", help=_CHECKPOINT_DATA_DIR)
    explain.add_argument("--sample", action="store_true",
                         help="take the images from the bundled sample's test split")
    explain.add_argument("--smoothgrad", type=_index, default=0, metavar="N",
                         help="average the saliency over N noisy copies (SmoothGrad, seed 0; "
                              "default 0: the plain gradient)")
    explain.add_argument("--threads", type=_threads, default=d.threads, metavar="N",
                         help=f"threads for NumPy's BLAS and Numba (default {d.threads}: the "
                              f"idle cores; 0 = "
                              f"let them decide)")

    summary = commands.add_parser("summary", help="print a model's layers, shapes and "
                                                  "parameter counts")
    summary.add_argument("--model", choices=_model_names(), default=d.model,
                         help=f"which network (default {d.model}, the lecture's CNN)")
    summary.add_argument("--input-shape", type=_positive_int, nargs=3, default=None,
                         metavar=("C", "H", "W"),
                         help="one input image's shape (default 1 28 28; 3 32 32 for the "
                              "resnets)")
    summary.add_argument("--num-classes", type=_positive_int, default=10, metavar="K")
    summary.add_argument("--dropout", type=float, default=d.dropout, metavar="P")

    data = commands.add_parser("data", help="the data sets: normalisation statistics",
                               description="minicnn data stats: the per-channel mean and "
                                           "standard deviation of a data set's training "
                                           "images (in [0, 1]), what Normalize needs.")
    data_commands = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    stats = data_commands.add_parser("stats", help="mean and std of the training images")
    stats.add_argument("--dataset", choices=_dataset_names(), default=d.dataset)
    stats.add_argument("--data-dir", metavar="DIR", help="where the files (or your images) are")
    stats.add_argument("--image-size", type=_positive_int, metavar="N",
                       help="folder: resize every image to N x N")
    stats.add_argument("--grayscale", action="store_true", help="folder: grey images")

    from minicnn.explore import add_parser as add_explore_parser
    add_explore_parser(commands)

    commands.add_parser("assignment", add_help=False,
                        help="instructor tooling: release student stubs, grade submissions "
                             "(minicnn assignment --help)")
    return parser


def _version() -> str:
    from minicnn import __version__
    return f"{PROG} {__version__}"


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

def _cmd_train(args) -> int:
    from minicnn import train as training

    given = {dest: getattr(args, dest) for _, dest, _ in _train_options(_defaults())
             if getattr(args, dest) is not None}
    if "threads" in given:                       # --threads 0: leave the libraries' defaults
        given["threads"] = _thread_setting(given["threads"])
    if args.resume:
        fixed = sorted(set(given) - set(training.RESUMABLE_OVERRIDES))
        if fixed:
            flags = ", ".join("--" + name.replace("_", "-") for name in fixed)
            raise CLIError(f"{flags} cannot change when resuming (the run's config.json fixes "
                           f"them); only --epochs, --threads, --data-dir, --figures and "
                           f"--progress can")
        result = training.resume(args.resume, **given)
    else:
        config = training.TrainConfig(**given)
        result = training.train(config)
    print(result.report())
    return 0


def _cmd_evaluate(args) -> int:
    from minicnn import train as training

    training.set_threads(_thread_setting(args.threads))  # one-shot: for the whole process
    result = training.evaluate_checkpoint(args.checkpoint, data_dir=args.data_dir,
                                          sample=args.sample, batch_size=args.batch_size,
                                          flip=args.tta, split=args.split, log=print)
    epoch = f" (epoch {result['epoch']})" if result.get("epoch") is not None else ""
    images = "test images" if result["split"] == "test" else "validation images (the run's own)"
    print(f"{args.checkpoint}{epoch} on {result['images']:,} {images} from {result['source']}")
    tta = ", flip test-time augmentation" if result["flip"] else ""
    name = "test" if result["split"] == "test" else "validation"
    print(f"{name} accuracy {100 * result['acc']:.2f}%  (loss {result['loss']:.4f}{tta})")
    print("per-class accuracy:")
    width = max(len(name) for name in result["classes"])
    for name, acc, total in zip(result["classes"], result["per_class"],
                                result["confusion"].sum(axis=1)):
        print(f"  {name:<{width}}  {100 * acc:6.2f}%  ({total} images)")
    return 0


def _cmd_explain(args) -> int:
    from pathlib import Path

    import matplotlib.pyplot as plt

    from minicnn import explain, viz
    from minicnn import train as training
    from minicnn.train.evaluation import load_checkpoint_model

    training.set_threads(_thread_setting(args.threads))  # a one-shot command: for the whole process
    checkpoint = Path(args.checkpoint)
    model, config, _ = load_checkpoint_model(checkpoint, data_dir=args.data_dir,
                                             sample=args.sample)
    test = training.open_split(config, "test", print)
    too_large = [index for index in args.index if index >= len(test)]
    if too_large:
        raise CLIError(f"--index {too_large[0]} is out of range: the test set from "
                       f"{test.source} has {len(test):,} images (0 to {len(test) - 1})")
    images = training.make_transforms(config, test.images.shape[1:])[1](test.images[args.index])
    labels = test.labels[args.index]
    out = Path(args.out) if args.out else checkpoint.with_name(f"{checkpoint.stem}"
                                                               f"_explanations.png")
    explained = explain.explain_batch(model, images, samples=args.smoothgrad, rng=0)
    fig = viz.plot_explanations(model, images, labels, test.classes, explanations=explained,
                                samples=args.smoothgrad,
                                title=f"Why did it say that? ({checkpoint.name})", save=out)
    plt.close(fig)
    for index, label, predicted, probability in zip(args.index, labels, explained.predicted,
                                                    explained.probability):
        print(f"test image {index}: true {test.classes[int(label)]}, predicted "
              f"{test.classes[int(predicted)]} ({100 * probability:.0f}%)")
    print(f"wrote {out}")
    return 0


def _cmd_summary(args) -> int:
    from minicnn import summary
    from minicnn.models import build

    shape = args.input_shape or ((3, 32, 32) if args.model.startswith("resnet") else (1, 28, 28))
    if shape[1] != shape[2]:
        raise CLIError(f"summary: the models take square images, got --input-shape "
                       f"{' '.join(map(str, shape))}")
    model = build(args.model, num_classes=args.num_classes, in_channels=shape[0],
                  image_size=shape[1], dropout=args.dropout, rng=0)
    print(summary(model, tuple(shape)))
    return 0


def _cmd_data(args) -> int:
    from minicnn.data import channel_stats
    from minicnn.train import TrainConfig
    from minicnn.train.datasets import load_datasets

    config = TrainConfig(dataset=args.dataset, data_dir=args.data_dir,
                         image_size=args.image_size, grayscale=bool(args.grayscale)).validate()
    splits = load_datasets(config, log=lambda line: print(line, file=sys.stderr))
    mean, std = channel_stats(splits.train)
    shape = "x".join(map(str, splits.train.images.shape[1:]))
    print(f"{args.dataset}: {len(splits.train)} training images ({shape}, validation split "
          f"held out), {len(splits.classes)} classes")
    print(f"mean {' '.join(f'{v:.4f}' for v in mean)}")
    print(f"std  {' '.join(f'{v:.4f}' for v in std)}")
    return 0


def _cmd_assignment(argv) -> int:
    try:
        from minicnn.assignments.cli import main as assignment_main
    except ImportError as exc:
        raise CLIError(f"the assignment tools are not available in this installation "
                       f"(minicnn.assignments.cli: {exc})") from None
    return int(assignment_main(list(argv)) or 0)


def _error_text(exc: BaseException) -> str:
    """What ``minicnn: error:`` is followed by: one line, but for a data set that was not
    found, whose message is a list (the places tried, the ways to fix it) kept as written."""
    from minicnn.data.locate import DatasetNotFoundError
    if isinstance(exc, DatasetNotFoundError) and str(exc).strip():
        return str(exc).strip()
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    if isinstance(exc, (CLIError, ValueError, FileNotFoundError, OSError, RuntimeError,
                        TypeError, KeyError)) and text:
        return text
    return f"{type(exc).__name__}: {text or 'no message'} (set MINICNN_DEBUG=1 for the traceback)"


def _threads_before_numpy(argv) -> None:
    """Apply ``train``/``evaluate``/``explain``'s thread count (``--threads N``, default
    ``DEFAULT_THREADS``) through the environment while NumPy is not imported yet: BLAS reads
    it once, at import. (Inside, ``limit_threads`` applies it again via threadpoolctl.)"""
    if "numpy" in sys.modules or not argv or argv[0] not in ("train", "evaluate", "explain"):
        return
    from minicnn.cores import settle_idle_threads
    settle_idle_threads()                    # idle library threads sleep soon (minicnn/cores.py)
    value = str(_DEFAULT_THREADS)
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
        elif arg == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
    if value.strip().lower() == "auto":
        from minicnn.cores import ENV_VARIABLE, resolve_threads
        try:
            value = str(resolve_threads("auto"))
        except ValueError:
            return                           # a bad $MINICNN_THREADS: the command says so
        os.environ[ENV_VARIABLE] = value     # so "auto" inside means this same count
    if value.isdigit() and int(value) >= 1:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = value


def main(argv=None) -> int:
    """Entry point of ``minicnn`` and ``python -m minicnn``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _threads_before_numpy(argv)
    debug = os.environ.get("MINICNN_DEBUG", "") not in ("", "0")
    try:
        if argv and argv[0] == "assignment":
            return _cmd_assignment(argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "explore":
            from minicnn.explore import run as explore
            return explore(args)
        return {"train": _cmd_train, "evaluate": _cmd_evaluate, "explain": _cmd_explain,
                "summary": _cmd_summary, "data": _cmd_data}[args.command](args)
    except SystemExit as exc:  # argparse (--help, --version, a bad command line)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 (the point: one line, no traceback)
        if debug:
            raise
        sys.stderr.write(f"{PROG}: error: {_error_text(exc)}\n")
        return 1
