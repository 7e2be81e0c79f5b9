"""``minicnn explore CHECKPOINT [CHECKPOINT_B]``: the command line of the explorer.

``add_parser(commands)`` registers the subcommand on ``minicnn``'s parser; ``run(args)``
opens the checkpoints, starts the server and (unless ``--no-browser``) the browser.
"""

from __future__ import annotations

import sys

__all__ = ["add_parser", "run", "serve"]

DEFAULT_PORT = 8000


def add_parser(commands):
    """Add ``explore`` to an argparse sub-parser collection (``minicnn``'s)."""
    explore = commands.add_parser(
        "explore", help="explore a trained model in the browser, layer by layer",
        description="Open a checkpoint in a local web page: pick, upload or draw an image and "
                    "see the prediction, every layer's feature maps, how one conv value is "
                    "computed, and saliency, Grad-CAM and occlusion for any class. A second "
                    "checkpoint is shown side by side (e.g. epoch 1 and the end). The page "
                    "loads nothing from the internet; the models run on one thread.")
    explore.add_argument("checkpoint", metavar="CHECKPOINT",
                         help="a .npz checkpoint written by minicnn train (runs/RUN/last.npz)")
    explore.add_argument("checkpoint_b", metavar="CHECKPOINT_B", nargs="?",
                         help="a second checkpoint, shown side by side")
    explore.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                         help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    explore.add_argument("--host", default="127.0.0.1",
                         help="interface to listen on (default 127.0.0.1: this computer only)")
    explore.add_argument("--no-browser", action="store_true",
                         help="do not open a browser; only print the address")
    explore.add_argument("--data-dir", metavar="DIR",
                         help="directory of the Fashion-MNIST IDX files (default: the run's, "
                              "else the usual places, else the bundled sample)")
    explore.add_argument("--sample", action="store_true",
                         help="pick test images from the sample bundled in the package")
    return explore


def _is_loopback(host: str) -> bool:
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(checkpoints, *, host="127.0.0.1", port=DEFAULT_PORT, data_dir=None, sample=False,
          log=print, warm_up=True):
    """Open ``checkpoints`` and return ``(server, url)``: a werkzeug server, not yet serving
    (call ``server.serve_forever()``; ``server.shutdown()`` from another thread stops it).
    ``warm_up``: run the explanations once first, so the page's first request is fast.

    Raises ValueError (a bad checkpoint, a busy port) with a message for the person."""
    from werkzeug.serving import make_server

    from minicnn.explore.model import ExploredModel
    from minicnn.explore.server import TestImages, create_app

    if port < 0 or port > 65535:
        raise ValueError(f"--port must be 0-65535, got {port}")
    models = [ExploredModel(path, data_dir=data_dir, sample=sample) for path in checkpoints]
    test_images = TestImages.of(models[0], log)
    log(f"test images: {len(test_images.images):,} from {test_images.source}")
    for model in models if warm_up else ():
        model.warm_up()
    loopback = _is_loopback(host)
    if not loopback:
        log(f"warning: listening on {host}, not 127.0.0.1: anyone who can reach this computer "
            f"on port {port} can use the explorer and run the models")
    app = create_app(models, test_images, allow_any_host=not loopback)
    # one log line per request would flood the terminal while a student draws
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        server = make_server(host, port, app, threaded=True)
    except (OSError, SystemExit) as exc:     # werkzeug exits on "address in use"
        reason = getattr(exc, "strerror", None) or "the port is in use or not allowed"
        raise ValueError(f"cannot listen on {host}:{port} ({reason}); pass --port N for "
                         f"another port, or --port 0 for any free one") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return server, f"http://{shown}:{server.server_port}/"


def run(args) -> int:
    """``minicnn explore``: serve until Ctrl-C."""
    from minicnn.explore.model import CheckpointError
    from minicnn.train import set_threads

    set_threads(1)   # one core: requests are small; the other stays free for the browser
    checkpoints = [args.checkpoint] + ([args.checkpoint_b] if args.checkpoint_b else [])
    try:
        server, url = serve(checkpoints, host=args.host, port=args.port,
                            data_dir=args.data_dir, sample=args.sample)
    except CheckpointError as exc:
        raise ValueError(str(exc)) from None
    print(f"minicnn explore: {url}  (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        import threading
        import webbrowser
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("minicnn explore: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
