"""The explorer's JSON API through Flask's test client: what each endpoint answers, that the
numbers are minicnn's own, and that bad input is a 4xx JSON error after which the app still
answers."""

import base64
import io

import numpy as np
import pytest

pytest.importorskip("flask")
PIL = pytest.importorskip("PIL.Image")

from minicnn.explore.images import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS  # noqa: E402
from minicnn.explore.model import ExploredModel  # noqa: E402
from minicnn.explore.server import create_app  # noqa: E402


@pytest.fixture(scope="module")
def app(explored, test_images):
    return create_app([explored], test_images)


@pytest.fixture
def client(app):
    return app.test_client()


def png_bytes(array, mode="L"):
    buffer = io.BytesIO()
    PIL.fromarray(np.asarray(array, dtype=np.uint8), mode).save(buffer, format="PNG")
    return buffer.getvalue()


def decode(array):
    return np.frombuffer(base64.b64decode(array["data"]), dtype="<f4").reshape(array["shape"])


def assert_still_answers(client):
    response = client.get("/api/info")
    assert response.status_code == 200 and response.get_json()["models"]


def test_page_and_assets_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and b'data-testid="draw-canvas"' in page.data
    for asset in ("/static/explore.js", "/static/explore.css"):
        assert client.get(asset).status_code == 200
    # everything the page loads comes from this server
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert b"http://" not in page.data and b"https://" not in page.data


def test_info_describes_every_layer_with_its_shape(client, explored):
    info = client.get("/api/info").get_json()
    model = info["models"][0]
    assert model["model_class"] == "CNN" and model["epoch"] == 1
    assert model["classes"][0] == "T-shirt/top" and len(model["classes"]) == 10
    shapes = {layer["name"]: layer["shape"] for layer in model["layers"]}
    assert shapes["conv_block1.0"] == [32, 28, 28] and shapes["conv_block1.3"] == [32, 14, 14]
    assert shapes["conv_block2.3"] == [64, 7, 7] and shapes["classifier.5"] == [10]
    assert info["test_set"]["size"] == 500 and info["test_set"]["is_sample"]


def test_predict_from_pixels_is_minicnns_own_forward(client, explored, test_images):
    image = test_images.images[3]
    body = client.post("/api/predict", json={"pixels": image.ravel().tolist()}).get_json()
    result = body["models"][0]
    model = explored.model
    x = explored.normalise(image)
    expected = model(x)[0].astype(np.float64)
    np.testing.assert_allclose(result["logits"], expected, rtol=1e-5, atol=1e-6)
    p = np.exp(expected - expected.max())
    np.testing.assert_allclose(result["probabilities"], p / p.sum(), rtol=1e-5, atol=1e-7)
    assert result["predicted"] == int(np.argmax(expected))
    layers = {layer["name"]: decode(layer["output"]) for layer in result["layers"]}
    block1 = model.conv_block1(x)[0]
    np.testing.assert_allclose(layers["conv_block1.3"], block1, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(layers["conv_block2.3"], model.conv_block2(block1[None])[0],
                               rtol=1e-5, atol=1e-6)


def test_test_image_pickers(client, test_images):
    first = client.get("/api/test-image?index=7").get_json()
    assert first["index"] == 7 and first["label"] == int(test_images.labels[7])
    assert first["pixels"] == test_images.images[7].ravel().tolist()
    of_class = client.get("/api/test-image?pick=class&label=8").get_json()
    assert of_class["label"] == 8 and of_class["class_name"] == "Bag"
    assert 0 <= client.get("/api/test-image?pick=random").get_json()["index"] < 500


def test_mistakes_are_images_the_model_gets_wrong(client, explored, test_images):
    picked = client.get("/api/test-image?pick=mistake&model=0&after=-1").get_json()
    prediction = client.post("/api/predict", json={"pixels": picked["pixels"]}).get_json()
    assert prediction["models"][0]["predicted"] != picked["label"]
    after = client.get(f"/api/test-image?pick=mistake&after={picked['index']}").get_json()
    assert after["index"] != picked["index"]


def test_upload_is_converted_like_the_data_set_and_the_steps_are_said(client):
    # a dark shape on a white photo-like background, wider than tall
    image = np.full((60, 90), 230, dtype=np.uint8)
    image[15:35, 30:60] = 20                                    # 30 wide, 20 high
    response = client.post("/api/predict", data={"image": (io.BytesIO(png_bytes(image)),
                                                           "shirt.png")})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    pixels = np.array(body["pixels"]).reshape(28, 28)
    assert pixels[14, 14] > 200 and pixels[0, 0] < 30           # inverted: light on black
    assert pixels[2, 14] == 0                                   # padded (aspect kept)
    steps = " ".join(body["steps"])
    for words in ("PNG of 90x60", "inverted", "stretched the contrast: 25-235",
                  "kept the 30x20 pixels", "scaled to 28x19", "centred"):
        assert words in steps
    assert len(body["models"][0]["probabilities"]) == 10


def test_rgba_jpeg_and_gif_uploads_are_read(client):
    rgba = np.zeros((40, 40, 4), dtype=np.uint8)
    rgba[10:30, 10:30] = (200, 50, 50, 255)                     # a red square, transparent around
    for data, name in ((png_bytes(rgba, "RGBA"), "a.png"),):
        body = client.post("/api/predict", data={"image": (io.BytesIO(data), name)}).get_json()
        assert "flattened the transparency onto white" in body["steps"]
    for fmt in ("JPEG", "GIF", "BMP", "WEBP"):
        buffer = io.BytesIO()
        PIL.fromarray(np.full((30, 20, 3), 90, dtype=np.uint8), "RGB").save(buffer, format=fmt)
        response = client.post("/api/predict", data={"image": (io.BytesIO(buffer.getvalue()),
                                                               f"x.{fmt.lower()}")})
        assert response.status_code == 200, (fmt, response.get_json())


@pytest.mark.parametrize("data, status, words", [
    (b"this is not an image", 415, "not an image"),
    (b"%PDF-1.4 a pdf is not an image either", 415, "not an image"),
    (b"", 400, "empty"),
])
def test_non_images_are_a_4xx_json_error_and_the_server_keeps_answering(client, data, status,
                                                                         words):
    response = client.post("/api/predict", data={"image": (io.BytesIO(data), "x.png")})
    assert response.status_code == status
    assert words in response.get_json()["error"]
    assert_still_answers(client)


def test_a_truncated_png_is_a_400(client):
    data = png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64)))
    response = client.post("/api/predict", data={"image": (io.BytesIO(data[:len(data) // 2]),
                                                           "cut.png")})
    assert response.status_code == 400 and "cannot be" in response.get_json()["error"]
    assert_still_answers(client)


def test_an_image_with_too_many_pixels_is_refused_before_decoding(client):
    side = int(MAX_UPLOAD_PIXELS ** 0.5) + 10
    buffer = io.BytesIO()
    PIL.new("1", (side, side)).save(buffer, format="PNG")       # a few kB on disk
    assert len(buffer.getvalue()) < 1_000_000
    response = client.post("/api/predict", data={"image": (io.BytesIO(buffer.getvalue()),
                                                           "bomb.png")})
    assert response.status_code == 413 and "pixels" in response.get_json()["error"]
    assert_still_answers(client)


def test_an_upload_over_the_byte_limit_is_a_413(client):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_UPLOAD_BYTES + 100_000)
    response = client.post("/api/predict", data={"image": (io.BytesIO(big), "big.png")})
    assert response.status_code == 413 and "too large" in response.get_json()["error"]
    assert_still_answers(client)


@pytest.mark.parametrize("body, words", [
    ({}, "pixels"),
    ({"pixels": [0] * 783}, "784"),
    ({"pixels": [300] * 784}, "0..255"),
    ({"pixels": ["a"] * 784}, "0..255"),
    ({"pixels": "no"}, "784"),
])
def test_bad_pixels_are_a_400(client, body, words):
    response = client.post("/api/predict", json=body)
    assert response.status_code == 400 and words in response.get_json()["error"]


def test_a_form_without_the_image_field_is_a_400(client):
    response = client.post("/api/predict", data={"picture": (io.BytesIO(b"x"), "x.png")})
    assert response.status_code == 400 and "'image'" in response.get_json()["error"]


@pytest.mark.parametrize("path", [
    "/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
    "/static/../../explain.py", "/../minicnn/explore/server.py", "/static//etc/passwd",
    "/static/%2fetc%2fpasswd", "/etc/passwd", "/api/../static/../server.py",
])
def test_path_traversal_is_refused(client, path):
    response = client.get(path, follow_redirects=True)     # werkzeug merges "//" by a redirect
    assert 400 <= response.status_code < 500
    assert b"import" not in response.data and b"root:" not in response.data
    assert_still_answers(client)


def test_checkpoints_are_not_served(client, checkpoint):
    for path in (f"/static/{checkpoint}", "/last.npz", f"/{checkpoint.name}"):
        assert client.get(path, follow_redirects=True).status_code == 404


def test_other_host_names_are_refused_by_default(app):
    client = app.test_client()
    response = client.get("/api/info", headers={"Host": "evil.example:8000"})
    assert response.status_code == 403 and "127.0.0.1" in response.get_json()["error"]
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
        assert client.get("/api/info", headers={"Host": host}).status_code == 200


def test_conv_arithmetic_sum_equals_the_map_value(client, explored, test_images):
    pixels = test_images.images[5].ravel().tolist()
    for layer, channel, row, col in (("conv_block1.0", 4, 0, 0), ("conv_block1.0", 31, 27, 13),
                                     ("conv_block2.0", 10, 6, 13)):
        a = client.post("/api/conv", json=dict(pixels=pixels, layer=layer, channel=channel,
                                               row=row, col=col)).get_json()
        assert a["sum"] == pytest.approx(a["value"], rel=1e-4, abs=1e-5)
        products = np.array(a["window"]) * np.array(a["weight"])
        np.testing.assert_allclose(products, a["products"], rtol=1e-12)
        assert products.sum() + a["bias"] == pytest.approx(a["sum"], rel=1e-12, abs=1e-12)
        assert [step["type"] for step in a["then"]] == ["BatchNorm2d", "ReLU"]
        for step in a["then"]:
            assert step["result"] == pytest.approx(step["value"], rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("body, status, words", [
    (dict(layer="conv_block1.1", channel=0, row=0, col=0), 400, "BatchNorm2d"),
    (dict(layer="nope", channel=0, row=0, col=0), 400, "no layer"),
    (dict(layer="conv_block1.0", channel=32, row=0, col=0), 400, "channel"),
    (dict(layer="conv_block2.0", channel=0, row=14, col=0), 400, "row"),
    (dict(layer="conv_block1.0", channel=0, row=0, col=-1), 400, "col"),
    (dict(layer="conv_block1.0", channel="1", row=0, col=0), 400, "integer"),
    (dict(layer="conv_block1.0", channel=0, row=0, col=0, model=3), 404, "no model 3"),
])
def test_bad_conv_requests_are_4xx(client, body, status, words):
    response = client.post("/api/conv", json=dict(pixels=[0] * 784, **body))
    assert response.status_code == status and words in response.get_json()["error"]


def test_explanations_for_any_class_and_the_sanity_check(client, explored, test_images):
    from minicnn import explain
    image = test_images.images[2]
    pixels = image.ravel().tolist()
    body = client.post("/api/explain", json=dict(pixels=pixels, target=6,
                                                 smoothgrad=4)).get_json()
    assert body["target"] == 6
    x = explored.normalise(image)
    maps = {method: decode(body["maps"][method]) for method in body["maps"]}
    np.testing.assert_allclose(maps["saliency"], explain.saliency(explored.model, x, 6)[0],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps["grad_cam"], explain.grad_cam(explored.model, x, 6)[0],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps["occlusion"], explain.occlusion(explored.model, x, 6)[0],
                               rtol=1e-5, atol=1e-6)
    assert maps["smoothgrad"].shape == (28, 28)
    checked = client.post("/api/explain", json=dict(pixels=pixels, sanity=True)).get_json()
    assert set(checked["randomised"]) == set(checked["maps"]) == {
        "saliency", "smoothgrad", "grad_cam", "occlusion"}
    assert all(rho is None or -1 <= rho <= 1 for rho in checked["correlation"].values())
    assert not np.allclose(decode(checked["randomised"]["saliency"]),
                           decode(checked["maps"]["saliency"]))


@pytest.mark.parametrize("body, words", [
    (dict(target=10), "target"), (dict(target=-1), "target"), (dict(smoothgrad=1000), "smoothgrad"),
    (dict(sanity="yes"), "sanity"),
])
def test_bad_explain_requests_are_400(client, body, words):
    response = client.post("/api/explain", json=dict(pixels=[0] * 784, **body))
    assert response.status_code == 400 and words in response.get_json()["error"]


def test_non_json_bodies_and_unknown_routes_are_json_errors(client):
    response = client.post("/api/conv", data="not json", content_type="text/plain")
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]
    response = client.get("/api/nothing")
    assert response.status_code == 404 and "error" in response.get_json()
    response = client.get("/api/predict")
    assert response.status_code == 405 and "error" in response.get_json()


def test_two_checkpoints_side_by_side(explored, gap_checkpoint, test_images):
    client = create_app([explored, ExploredModel(gap_checkpoint)], test_images).test_client()
    info = client.get("/api/info").get_json()
    assert [m["model_class"] for m in info["models"]] == ["CNN", "GAPCNN"]
    gap_layers = [layer["name"] for layer in info["models"][1]["layers"]]
    assert "conv_block3.0" in gap_layers and "classifier.0" in gap_layers
    assert info["models"][1]["classes"] == info["models"][0]["classes"]   # from the test set
    body = client.post("/api/predict", json={"pixels": [0] * 784}).get_json()
    assert len(body["models"]) == 2
    a = client.post("/api/conv", json=dict(pixels=[40] * 784, model=1, layer="conv_block3.0",
                                           channel=5, row=3, col=3)).get_json()
    assert a["sum"] == pytest.approx(a["value"], rel=1e-4, abs=1e-5)
    assert a["receptive_field"]["size"] == [18, 18]
    explained = client.post("/api/explain", json=dict(pixels=[0] * 784, model=1)).get_json()
    assert explained["maps"]["grad_cam"] is not None


def test_damaged_files_are_4xx_never_500(client):
    """Random bytes changed in real PNG, JPEG, GIF and BMP files: each answer is a 200 or a
    4xx JSON error; Pillow's many exception types never reach the server as a crash."""
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 255, (24, 20, 3)).astype(np.uint8)
    originals = []
    for fmt in ("PNG", "JPEG", "GIF", "BMP"):
        buffer = io.BytesIO()
        PIL.fromarray(picture, "RGB").save(buffer, format=fmt)
        originals.append(buffer.getvalue())
    statuses = set()
    for trial in range(60):
        data = bytearray(originals[trial % len(originals)])
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        if trial % 5 == 0:
            data = data[:int(rng.integers(8, len(data)))]
        response = client.post("/api/predict", data={"image": (io.BytesIO(bytes(data)),
                                                               "x")})
        statuses.add(response.status_code)
        assert response.status_code == 200 or 400 <= response.status_code < 500, \
            (trial, response.get_json())
        assert "error" in response.get_json() or "models" in response.get_json()
    assert 200 in statuses and statuses - {200}


def test_an_eps_file_is_not_opened(client):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    response = client.post("/api/predict", data={"image": (io.BytesIO(eps), "x.eps")})
    assert response.status_code == 415


def test_a_sixteen_bit_image_is_rescaled_and_a_rotated_photo_turned_upright(client):
    deep = (np.arange(30 * 30).reshape(30, 30) * 60).astype(np.uint16)
    buffer = io.BytesIO()
    PIL.fromarray(deep).save(buffer, format="PNG")
    body = client.post("/api/predict", data={"image": (io.BytesIO(buffer.getvalue()),
                                                       "deep.png")}).get_json()
    assert any(step.startswith("rescaled its 0-53940 values") for step in body["steps"])
    tall = np.zeros((40, 20), dtype=np.uint8)
    tall[:, :5] = 255                                      # a bright stripe on the left
    image = PIL.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6                                       # "rotate 90 degrees clockwise"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    body = client.post("/api/predict", data={"image": (io.BytesIO(buffer.getvalue()),
                                                       "phone.jpg")}).get_json()
    assert "turned upright (the file's EXIF orientation)" in body["steps"]
    bright = np.array(body["pixels"]).reshape(28, 28) > 100
    assert bright.any(axis=0).sum() > 3 * bright.any(axis=1).sum()   # the stripe lies flat
