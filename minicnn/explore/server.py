"""The explorer's web app (Flask): one page and a small JSON API over ``ExploredModel``.

    GET  /                    the page (static/index.html); /static/... its script and style
    GET  /api/info            the models (layers, classes, normalisation) and the test set
    GET  /api/test-image      a test image: ?index=N, ?pick=random, ?pick=class&label=K,
                              ?pick=mistake&model=M&after=N (the next image model M gets wrong)
    POST /api/predict         an image (multipart field ``image``, any format Pillow reads) or
                              JSON {"pixels": [...]} (the canvas, H*W values 0-255): each
                              model's probabilities and every layer's output
    POST /api/conv            JSON {pixels, model, layer, channel, row, col}: the arithmetic
                              of one conv map value
    POST /api/explain         JSON {pixels, model, target, smoothgrad, sanity}: saliency,
                              SmoothGrad, Grad-CAM, occlusion (and the randomisation check)

Arrays travel as base64 float32 (``{"shape", "data", "min", "max"}``): the page draws the
numbers the model computed, and a 64x14x14 layer costs 50 kB, not a megabyte of JSON.

Safety: the app answers only to a loopback Host name unless it was started for another
interface (a page elsewhere cannot reach it by DNS rebinding); it serves only its static
folder (Flask's ``safe_join`` refuses ``..``) and the models it was given, by index; uploads
are bounded (``MAX_CONTENT_LENGTH``, and pixels in ``images.decode_upload``); every error is
a JSON ``{"error": ...}`` with a 4xx status, and the server keeps running.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from minicnn.explore.arithmetic import ArithmeticRequestError
from minicnn.explore.images import MAX_UPLOAD_BYTES, ImageError, decode_upload, pixels_from_list

__all__ = ["create_app", "TestImages", "LOOPBACK_NAMES"]

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
#: most SmoothGrad samples one request may ask for (each is a forward and backward pass)
MAX_SMOOTHGRAD = 64


class TestImages:
    """The test split the page picks images from: uint8 ``images`` (N, H, W), ``labels``,
    ``classes``, ``source`` and ``is_sample``."""

    __test__ = False   # not a pytest class

    def __init__(self, images, labels, classes, source: str, is_sample: bool):
        self.images, self.labels = np.asarray(images), np.asarray(labels)
        self.classes, self.source, self.is_sample = list(classes), str(source), bool(is_sample)

    @classmethod
    def of(cls, explored, log=print):
        """The test split of ``explored``'s run, found as ``minicnn evaluate`` finds it."""
        from minicnn.train import open_split
        split = open_split(explored.config, "test", log)
        return cls(split.images, split.labels, split.classes, split.source, split.is_sample)


def encode_array(array) -> dict:
    """A float array as ``{"shape", "data" (base64 of little-endian float32), "min", "max"}``."""
    array = np.asarray(array, dtype="<f4")
    return dict(shape=list(array.shape),
                data=base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii"),
                min=float(array.min()) if array.size else 0.0,
                max=float(array.max()) if array.size else 0.0)


class APIError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def create_app(models, test_images: TestImages | None = None, *, allow_any_host=False,
               seed: int = 0):
    """The Flask app serving ``models`` (a list of one or two ``ExploredModel``) and
    ``test_images``. ``allow_any_host``: answer to any Host header (the server listens on
    another interface than loopback, and the user was warned)."""
    from flask import Flask, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES + 64 * 1024   # the file + the form
    app.json.sort_keys = False
    rng = np.random.default_rng(seed)
    size = tuple(models[0].input_size)
    channels = models[0].in_channels

    def model_at(value):
        try:
            index = int(value)
        except (TypeError, ValueError):
            raise APIError(f"model must be an index (0 to {len(models) - 1}), got {value!r}",
                           400) from None
        if not 0 <= index < len(models):
            raise APIError(f"no model {index}: this explorer has {len(models)} "
                           f"(0 to {len(models) - 1})", 404)
        return models[index]

    def json_body() -> dict:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise APIError("expected a JSON object (Content-Type: application/json)", 400)
        return body

    def integer(body, name, default=None, low=None, high=None):
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise APIError(f"{name} must be an integer, got {value!r}", 400)
        if (low is not None and value < low) or (high is not None and value > high):
            raise APIError(f"{name} must be in {low}..{high}, got {value}", 400)
        return value

    def pixels_of(body):
        if "pixels" not in body:
            raise APIError("the JSON needs pixels: the input image as a list of "
                           f"{size[0] * size[1] * channels} values 0-255, row by row", 400)
        return pixels_from_list(body["pixels"], size, channels)

    @app.before_request
    def only_loopback_names():
        if allow_any_host:
            return None
        host = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") \
            else request.host[1:].split("]", 1)[0]
        if host not in LOOPBACK_NAMES:
            raise APIError(f"this explorer answers on 127.0.0.1 and localhost only, not "
                           f"{host!r} (start it with --host to serve another name)", 403)
        return None

    @app.errorhandler(APIError)
    @app.errorhandler(ImageError)
    @app.errorhandler(ArithmeticRequestError)
    def api_error(error):
        return jsonify(error=str(error)), getattr(error, "status", 400)

    @app.errorhandler(HTTPException)
    def http_error(error):
        messages = {413: f"the upload is too large (at most {MAX_UPLOAD_BYTES:,} bytes)",
                    404: "not found: the explorer serves its page, /static/ and /api/ only"}
        return jsonify(error=messages.get(error.code, error.description)), error.code

    @app.errorhandler(ValueError)
    def value_error(error):
        return jsonify(error=" ".join(str(error).split())), 400

    @app.errorhandler(Exception)
    def unexpected(error):                   # a bug: say so, keep serving
        app.logger.exception("minicnn explore: unexpected error")
        return jsonify(error=f"internal error ({type(error).__name__}: {error})"), 500

    @app.after_request
    def headers(response):
        # everything the page loads comes from here; nothing from another host
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def page():
        return send_from_directory(STATIC, "index.html")

    @app.get("/api/info")
    def info():
        described = [model.describe() for model in models]
        for d in described:
            if not d["classes"]:           # a checkpoint saved by hand: the test set's names
                d["classes"] = (test_images.classes if test_images else
                                [f"class {k}" for k in range(d["num_classes"])])
        data = None if test_images is None else dict(
            size=int(len(test_images.images)), classes=test_images.classes,
            source=test_images.source, is_sample=test_images.is_sample)
        return jsonify(models=described, test_set=data, input_size=list(size),
                       channels=channels, max_upload_bytes=MAX_UPLOAD_BYTES)

    @app.get("/api/test-image")
    def test_image():
        if test_images is None:
            raise APIError("no test images: the data set was not found", 404)
        n = len(test_images.images)
        args = request.args
        pick = args.get("pick", "index")

        def arg_int(name, default=None):
            text = args.get(name)
            if text is None:
                if default is None:
                    raise APIError(f"{name} is missing", 400)
                return default
            if not text.lstrip("-").isdigit():
                raise APIError(f"{name} must be an integer, got {text!r}", 400)
            return int(text)

        if pick == "index":
            index = arg_int("index", 0)
            if not 0 <= index < n:
                raise APIError(f"index {index} is out of range: the test set has {n:,} images "
                               f"(0 to {n - 1})", 404)
        elif pick == "random":
            index = int(rng.integers(n))
        elif pick == "class":
            label = arg_int("label")
            matches = np.flatnonzero(test_images.labels == label)
            if not len(matches):
                raise APIError(f"no test image of class {label}", 404)
            index = int(rng.choice(matches))
        elif pick == "mistake":
            model = model_at(args.get("model", "0"))
            after = arg_int("after", -1)
            wrong = np.flatnonzero(model.test_predictions(test_images.images)
                                   != test_images.labels)
            if not len(wrong):
                raise APIError("the model classifies every test image correctly", 404)
            later = wrong[wrong > after]
            index = int(later[0] if len(later) else wrong[0])
        else:
            raise APIError(f"pick must be index, random, class or mistake, got {pick!r}", 400)
        label = int(test_images.labels[index])
        return jsonify(index=index, label=label, class_name=test_images.classes[label],
                       pixels=test_images.images[index].ravel().tolist())

    @app.post("/api/predict")
    def predict():
        if request.files or request.mimetype == "multipart/form-data":
            upload = request.files.get("image")
            if upload is None:
                raise APIError("the form needs a file in the field 'image'", 400)
            pixels, steps = decode_upload(upload.read(MAX_UPLOAD_BYTES + 1), size, channels)
        else:
            pixels, steps = pixels_of(json_body()), None
        results = []
        for model in models:
            result = model.predict(pixels)
            results.append(dict(
                probabilities=result["probabilities"].tolist(),
                logits=result["logits"].tolist(),
                predicted=result["predicted"],
                layers=[dict(name=layer["name"], type=layer["type"],
                             output=encode_array(layer["output"]))
                        for layer in result["layers"]]))
        return jsonify(pixels=pixels.ravel().tolist(), steps=steps, models=results)

    @app.post("/api/conv")
    def conv():
        body = json_body()
        model = model_at(body.get("model", 0))
        layer = body.get("layer")
        if not isinstance(layer, str):
            raise APIError("layer must be a Conv2d's dotted name, e.g. 'conv_block1.0'", 400)
        result = model.conv_arithmetic(pixels_of(body), layer, integer(body, "channel"),
                                       integer(body, "row"), integer(body, "col"))
        for key in ("window", "weight", "products", "channel_sums", "in_padding"):
            result[key] = np.asarray(result[key]).tolist()
        return jsonify(result)

    @app.post("/api/explain")
    def explain():
        body = json_body()
        model = model_at(body.get("model", 0))
        target = body.get("target")
        if target is not None:
            target = integer(body, "target", low=0, high=model.num_classes - 1)
        smoothgrad = integer(body, "smoothgrad", 8, 0, MAX_SMOOTHGRAD)
        sanity = body.get("sanity", False)
        if not isinstance(sanity, bool):
            raise APIError(f"sanity must be true or false, got {sanity!r}", 400)
        result = model.explain(pixels_of(body), target, smoothgrad=smoothgrad, sanity=sanity)
        for key in ("maps", "randomised"):
            if key in result:
                result[key] = {method: None if m is None else encode_array(m)
                               for method, m in result[key].items()}
        return jsonify(result)

    return app
