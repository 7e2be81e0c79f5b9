"""``minicnn explore CHECKPOINT --no-browser`` driven in headless Chromium (Debian's
/usr/bin/chromium through Playwright; nothing is downloaded): a person picks an image, draws
a stroke, clicks a conv map, reads the arithmetic and the explanations, uploads a photo. The
numbers the page shows are checked against minicnn's own forward pass; the page must log no
console error and ask no other host for anything.

Set MINICNN_SCREENSHOT=FILE to keep the screenshot it takes; docs/_static/explore.png is
    MINICNN_SCREENSHOT=docs/_static/explore.png MINICNN_SCREENSHOT_CHECKPOINT=runs/RUN/last.npz \
        pytest tests/explore/test_explore_browser.py
with a checkpoint of `minicnn train --sample --epochs 4`.
"""

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MINICNN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]'); the browser test "
                    "drives Debian's chromium with it")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does); "
                    f"MINICNN_CHROMIUM names another")
    return sync_playwright


@pytest.fixture(scope="module")
def server(checkpoint):
    """``minicnn explore CHECKPOINT --no-browser --port 0`` in a child process: (url, path)."""
    _playwright()
    path = Path(os.environ.get("MINICNN_SCREENSHOT_CHECKPOINT", checkpoint))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "minicnn", "explore", str(path),
                                "--no-browser", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    lines, url, deadline = [], None, time.monotonic() + 120
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"minicnn explore: (http://127\.0\.0\.1:\d+/)", line)
        url = found.group(1) if found else None
    if url is None:
        process.kill()
        pytest.fail("minicnn explore did not start:\n" + "".join(lines))
    yield url, path
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def probabilities(page, model=0):
    rows = page.locator(f"[data-testid=model][data-model='{model}'] "
                        f"[data-testid=probabilities] > *")
    return {rows.nth(i).get_attribute("data-class"): float(rows.nth(i).get_attribute("data-prob"))
            for i in range(rows.count())}


def wait_for_change(page, before, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = probabilities(page)
        if now != before:
            return now
        page.wait_for_timeout(50)
    raise AssertionError("the probabilities did not change")


def canvas_pixels(page):
    """The input as the page shows it: the draw canvas's red channel (grey), row by row."""
    return np.array(page.evaluate("""() => {
        const c = document.querySelector('[data-testid=draw-canvas]');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)
                    .filter((_, i) => i % 4 === 0);
    }"""), dtype=np.uint8).reshape(28, 28)


def layer_output(explored, pixels, layer_name):
    """minicnn's own forward, layer by layer, up to ``layer_name`` (eval mode)."""
    from minicnn.explain import layer_sequence
    x = explored.normalise(pixels)
    explored.model.eval()
    for name, layer in layer_sequence(explored.model):
        x = layer(x)
        if name == layer_name:
            return x[0]
    raise AssertionError(f"no layer {layer_name}")


def test_a_person_explores_a_checkpoint(server, tmp_path):
    from minicnn.explore.model import ExploredModel
    url, path = server
    explored = ExploredModel(path)
    origin = urlparse(url).netloc
    console, requests = [], []
    with _playwright()() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.on("console", lambda message: console.append((message.type, message.text)))
        page.on("pageerror", lambda error: console.append(("pageerror", str(error))))
        page.on("request", lambda request: requests.append(request.url))

        start = time.monotonic()
        page.goto(url)
        prediction = page.locator("[data-testid=prediction]")
        page.wait_for_selector("[data-testid=explanation][data-method=occlusion] canvas")
        loaded = time.monotonic() - start
        classes = explored.classes
        assert prediction.text_content() in classes

        # every layer shown, by its module name, with its maps
        layers = page.locator("[data-testid=layer]")
        names = [layers.nth(i).get_attribute("data-layer") for i in range(layers.count())]
        assert names == [layer["name"] for layer in explored.describe()["layers"]]
        conv1 = page.locator("[data-testid=layer][data-layer='conv_block1.0']")
        assert conv1.locator("canvas").count() == 32
        assert "32 × 28 × 28" in conv1.text_content()

        # pick an image: the next test image
        first = probabilities(page)
        page.click("#btn-next")
        page.wait_for_selector("#input-caption:has-text('test image #1')")
        picked = wait_for_change(page, first)
        assert sum(picked.values()) == pytest.approx(1.0, abs=1e-6)
        assert prediction.text_content() == max(picked, key=picked.get)
        for name in classes:                  # the bars show the probabilities, to scale
            row = page.locator(f"[data-testid=model][data-model='0'] "
                               f"[data-testid=probabilities] > [data-class='{name}']")
            track = row.locator(".bar-track").bounding_box()
            bar = row.locator(".bar").bounding_box()
            assert bar["width"] / track["width"] == pytest.approx(picked[name], abs=0.02)

        # draw a stroke: the probabilities follow
        box = page.locator("[data-testid=draw-canvas]").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.15)
        page.mouse.down()
        for step in range(1, 11):
            page.mouse.move(box["x"] + box["width"] * (0.2 + 0.06 * step),
                            box["y"] + box["height"] * (0.15 + 0.07 * step))
        page.mouse.up()
        wait_for_change(page, picked)
        # once the stroke's last request is answered, the bars are the drawing's prediction
        deadline = time.monotonic() + 10
        while True:
            pixels = canvas_pixels(page)
            drawn = probabilities(page)
            expected = explored.predict(pixels)["probabilities"]
            if np.allclose([drawn[name] for name in classes], expected, rtol=1e-5, atol=1e-7) \
                    or time.monotonic() > deadline:
                break
            page.wait_for_timeout(100)
        np.testing.assert_allclose([drawn[name] for name in classes], expected, rtol=1e-5,
                                   atol=1e-7)
        assert pixels.max() == 255 and drawn != picked

        # click a conv position: the arithmetic is minicnn's own number
        for layer, channel in (("conv_block1.0", 2), ("conv_block2.0", 9)):
            tile = page.locator(f"[data-testid=layer][data-layer='{layer}'] "
                                f"canvas[data-channel='{channel}']")
            tile.scroll_into_view_if_needed()
            tile_box = tile.bounding_box()
            size = 28 if layer == "conv_block1.0" else 14
            want_row, want_col = int(0.4 * size), int(0.55 * size)
            cell = tile_box["width"] / size                 # click the middle of that cell
            tile.click(position={"x": (want_col + 0.5) * cell, "y": (want_row + 0.5) * cell})
            panel = page.locator(f"[data-testid=conv-arithmetic][data-layer='{layer}']")
            panel.wait_for()
            row, col = int(panel.get_attribute("data-row")), int(panel.get_attribute("data-col"))
            assert (row, col) == (want_row, want_col)
            assert int(panel.get_attribute("data-channel")) == channel
            value = float(panel.get_attribute("data-value"))
            total = float(panel.get_attribute("data-sum"))
            ours = float(layer_output(explored, pixels, layer)[channel, row, col])
            assert value == pytest.approx(ours, rel=1e-5, abs=1e-6)
            assert total == pytest.approx(ours, rel=1e-4, abs=1e-5)
            assert "✓ the same" in panel.text_content()

        # the three explanations, then for another class, then the sanity check
        why = page.locator("[data-testid=model][data-model='0'] .explanations").first
        for method in ("saliency", "grad_cam", "occlusion"):
            assert page.locator(f"[data-testid=explanation][data-method={method}] canvas"
                                ).count() == 1
        target = (classes.index(prediction.text_content()) + 3) % len(classes)
        page.select_option(".target-pick", str(target))
        page.wait_for_selector(f"[data-testid=model][data-model='0'] "
                               f".explanations[data-target='{target}']")
        assert why.get_attribute("data-target") == str(target)
        page.check(".sanity-box")
        page.wait_for_selector("[data-testid=explanation-randomised]"
                               "[data-method=saliency-randomised]")
        assert "ρ" in page.locator(".sanity-row").text_content()

        # upload a photo-like image: converted, the steps shown
        from PIL import Image
        photo = np.full((120, 80, 3), 235, dtype=np.uint8)
        photo[20:100, 15:65] = (40, 60, 120)
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, format="JPEG")
        before = probabilities(page)
        page.set_input_files("#upload", files=[{"name": "photo.jpg", "mimeType": "image/jpeg",
                                                "buffer": buffer.getvalue()}])
        page.wait_for_selector("#conversion-steps li:has-text('inverted')")
        wait_for_change(page, before)

        page.goto(url)                                    # fresh, for the picture
        page.wait_for_selector("[data-testid=explanation][data-method=occlusion] canvas")
        page.wait_for_timeout(300)
        shot = tmp_path / "explore.png"
        page.screenshot(path=str(shot))
        browser.close()

    if os.environ.get("MINICNN_SCREENSHOT"):          # kept small: 128 colours, ~70 kB
        Image.open(shot).convert("RGB").quantize(128, dither=Image.Dither.NONE).save(
            os.environ["MINICNN_SCREENSHOT"], optimize=True)
    errors = [entry for entry in console if entry[0] in ("error", "pageerror")]
    assert not errors, errors
    elsewhere = [u for u in requests if urlparse(u).scheme not in ("data", "blob")
                 and urlparse(u).netloc != origin]
    assert not elsewhere, f"requests to another host: {elsewhere}"
    assert loaded < 15, f"the page took {loaded:.1f} s to show its first explanations"


def test_two_checkpoints_side_by_side_in_the_page(checkpoint, gap_checkpoint):
    """``minicnn explore A B``: two columns, each with its own layers, prediction and
    explanations, for the same input; the mistakes can be either model's."""
    import threading

    from minicnn.explore.cli import serve
    sync_playwright = _playwright()
    server, url = serve([checkpoint, gap_checkpoint], port=0, log=lambda line: None,
                        warm_up=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    console = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.on("console", lambda message: console.append((message.type, message.text)))
            page.on("pageerror", lambda error: console.append(("pageerror", str(error))))
            page.goto(url)
            for model in ("0", "1"):
                page.wait_for_selector(f"[data-testid=model][data-model='{model}'] "
                                       f"[data-testid=explanation][data-method=occlusion]")
            gap = page.locator("[data-testid=model][data-model='1']")
            assert gap.locator("[data-testid=layer][data-layer='conv_block3.0']").count() == 1
            assert page.locator("[data-testid=model][data-model='0'] "
                                "[data-layer='conv_block3.0']").count() == 0
            assert "GAPCNN" in gap.locator(".model-title").text_content()
            assert page.locator("#mistake-model option").count() == 2
            page.select_option("#mistake-model", "1")
            page.click("#btn-mistake")
            page.wait_for_selector("#input-caption:has-text('test image #')")
            page.wait_for_timeout(500)
            assert "✗" in gap.locator(".truth").text_content()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not [entry for entry in console if entry[0] in ("error", "pageerror")], console
