// minicnn explore: the page. Plain JavaScript, no build step, no library.
// It asks the local server (server.py) for numbers and draws them; it computes none itself
// except colours, so what you see is what the model computed.
"use strict";

const SIZE = 28;                        // replaced by /api/info's input_size
const state = {
  info: null,
  height: SIZE, width: SIZE,
  pixels: new Uint8ClampedArray(SIZE * SIZE),   // the current input, 0-255, row by row
  test: null,                                   // {index, label, class_name} or null
  results: null,                                // /api/predict's models
  targets: [],                                  // per model: class to explain, null = predicted
  sanity: [],
  picked: [],                                   // per model: {layer, channel, row, col}
  version: 0,                                   // bumps on every change of the input
};

// ---------------------------------------------------------------------------------- helpers

function $(selector, root) { return (root || document).querySelector(selector); }

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of [].concat(children || [])) {
    if (child != null) node.append(child);
  }
  return node;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

function postJSON(path, body) {
  return api(path, {method: "POST", headers: {"Content-Type": "application/json"},
                    body: JSON.stringify(body)});
}

function decode(array) {          // {shape, data: base64 float32} -> Float32Array
  const bytes = atob(array.data);
  const buffer = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) buffer[i] = bytes.charCodeAt(i);
  return new Float32Array(buffer.buffer);
}

function fmt(value, digits) {
  if (value === null || value === undefined) return "–";
  const d = digits === undefined ? 4 : digits;
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(2);
  return value.toFixed(d);
}

// ---------------------------------------------------------------------------------- colours

// Signed values: blue (negative), white (0), orange-red (positive); |v| / scale.
function diverging(v, scale) {
  const t = Math.max(-1, Math.min(1, scale > 0 ? v / scale : 0));
  if (t >= 0) return [255 - 61 * t, 255 - 190 * t, 255 - 243 * t];
  return [255 + 218 * t, 255 + 156 * t, 255 + 20 * t];
}
// Non-negative values: white to deep purple.
function sequential(v, scale) {
  const t = Math.max(0, Math.min(1, scale > 0 ? v / scale : 0));
  return [255 - 188 * t, 255 - 229 * t, 255 - 137 * t];
}
// Heat for explanations: black, red, yellow, white.
function heat(v, scale) {
  const t = Math.max(0, Math.min(1, scale > 0 ? v / scale : 0));
  return [Math.min(255, 3 * 255 * t), Math.max(0, Math.min(255, 3 * 255 * t - 255)),
          Math.max(0, 3 * 255 * t - 510)];
}

function paint(canvas, w, h, values, offset, colour, scale) {
  canvas.width = w; canvas.height = h;
  const context = canvas.getContext("2d");
  const image = context.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = colour(values[offset + i], scale);
    image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b;
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

// ---------------------------------------------------------------------------------- the input

function drawInput() {
  const canvas = $("#draw-canvas");
  const context = canvas.getContext("2d");
  const image = context.createImageData(state.width, state.height);
  for (let i = 0; i < state.pixels.length; i++) {
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = state.pixels[i];
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function setInput(pixels, caption, test) {
  state.pixels = Uint8ClampedArray.from(pixels);
  state.test = test || null;
  $("#input-caption").textContent = caption || "";
  $("#test-index").textContent = test ? `#${test.index}` : "";
  drawInput();
}

async function loadTestImage(query) {
  try {
    const image = await api(`/api/test-image?${query}`);
    $("#conversion").hidden = true;
    setInput(image.pixels, `test image #${image.index}: ${image.class_name}`, image);
    changed();
  } catch (error) { showError(error.message); }
}

function setupDrawing() {
  const canvas = $("#draw-canvas");
  let drawing = false, last = null;
  function at(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) / box.width * state.width,
            (event.clientY - box.top) / box.height * state.height];
  }
  function dab(x, y) {
    const radius = parseFloat($("#brush").value), erase = $("#erase").checked;
    const reach = Math.ceil(radius + 1);
    for (let r = Math.floor(y) - reach; r <= Math.floor(y) + reach; r++) {
      for (let c = Math.floor(x) - reach; c <= Math.floor(x) + reach; c++) {
        if (r < 0 || c < 0 || r >= state.height || c >= state.width) continue;
        const d = Math.hypot(c + 0.5 - x, r + 0.5 - y);
        const strength = Math.max(0, Math.min(1, radius - d + 0.5));
        if (strength <= 0) continue;
        const i = r * state.width + c;
        state.pixels[i] = erase ? Math.min(state.pixels[i], 255 * (1 - strength))
                                : Math.max(state.pixels[i], 255 * strength);
      }
    }
  }
  function stroke(event) {
    const [x, y] = at(event);
    const [x0, y0] = last || [x, y];
    const steps = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) / 0.3));
    for (let s = 1; s <= steps; s++) dab(x0 + (x - x0) * s / steps, y0 + (y - y0) * s / steps);
    last = [x, y];
    drawInput();
    if (state.test) {
      state.test = null;
      $("#input-caption").textContent = "your drawing";
      $("#test-index").textContent = "";
    }
    changed();
  }
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true; last = null;
    canvas.setPointerCapture(event.pointerId);
    stroke(event);
  });
  canvas.addEventListener("pointermove", (event) => { if (drawing) stroke(event); });
  const stop = () => { drawing = false; last = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  $("#btn-clear").addEventListener("click", () => {
    setInput(new Uint8ClampedArray(state.width * state.height), "an empty canvas: draw");
    $("#conversion").hidden = true;
    changed();
  });
}

async function upload(file) {
  const form = new FormData();
  form.append("image", file);
  try {
    const result = await api("/api/predict", {method: "POST", body: form});
    setInput(result.pixels, `your image: ${file.name}`);
    const preview = $("#upload-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    const steps = $("#conversion-steps");
    steps.replaceChildren(...result.steps.map((step) => el("li", {text: step})));
    $("#conversion").hidden = false;
    state.version++;
    showResults(result.models);
    scheduleExplain();
  } catch (error) { showError(`${file.name}: ${error.message}`); }
}

// ------------------------------------------------------------ predicting, live and in order

let predicting = false, predictAgain = false;

function changed() {
  state.version++;
  showError("");
  predict();
}

async function predict() {
  if (predicting) { predictAgain = true; return; }
  predicting = true;
  try {
    do {
      predictAgain = false;
      const result = await postJSON("/api/predict", {pixels: Array.from(state.pixels)});
      showResults(result.models);          // even mid-stroke: the page follows the pen
    } while (predictAgain);
    scheduleExplain();
  } catch (error) {
    showError(error.message);
  } finally {
    predicting = false;
  }
}

// ---------------------------------------------------------------------------------- models

function modelColumn(index) { return $(`.model[data-model="${index}"]`); }

function buildModelColumns() {
  const root = $("#models");
  root.replaceChildren();
  root.classList.toggle("single", state.info.models.length === 1);
  state.info.models.forEach((model, index) => {
    state.targets.push(null); state.sanity.push(false); state.picked.push(null);
    const title = el("p", {class: "model-title"}, [
      el("b", {text: model.name}),
      ` · ${model.model_class}, ${model.parameters.toLocaleString()} parameters` +
      (model.epoch !== null && model.epoch !== undefined ? `, epoch ${model.epoch}` : "")]);

    const prediction = el("section", {class: "panel", "aria-label": "prediction"}, [
      el("h2", {text: "2 · The prediction"}),
      el("div", {class: "prediction-head"}, [
        el("span", {class: "prediction", "data-testid": "prediction", text: "…"}),
        el("span", {class: "prediction-prob"}),
        el("span", {class: "truth"})]),
      el("div", {class: "bars", "data-testid": "probabilities"},
         model.classes.map((name) => el("div", {class: "bar-row", "data-class": name,
                                                 "data-prob": "0"}, [
           el("span", {text: name}),
           el("span", {class: "bar-track"}, el("span", {class: "bar"})),
           el("span", {class: "bar-value", text: "–"})])))]);

    const targetPick = el("select", {class: "target-pick", "aria-label": "class to explain"},
      [el("option", {value: "", text: "the predicted class"})].concat(
        model.classes.map((name, k) => el("option", {value: String(k), text: name}))));
    targetPick.addEventListener("change", () => {
      state.targets[index] = targetPick.value === "" ? null : parseInt(targetPick.value, 10);
      explain(index);
    });
    const sanity = el("input", {type: "checkbox", class: "sanity-box"});
    sanity.addEventListener("change", () => { state.sanity[index] = sanity.checked; explain(index); });
    const why = el("section", {class: "panel", "aria-label": "explanations"}, [
      el("h2", {text: "3 · Why? Which pixels moved the score"}),
      el("div", {class: "explain-controls"}, [
        el("label", {}, ["explain ", targetPick]),
        el("label", {title: "the same maps from a copy whose weights are re-drawn at random: " +
                            "a map that does not change explains the image, not the model"},
           [sanity, " sanity check: randomised weights"])]),
      el("div", {class: "explanations"}),
      el("div", {class: "sanity-row", hidden: ""}),
      el("p", {class: "legend", text: "Saliency |dz/dx| and SmoothGrad (its average over " +
        "noisy copies), Grad-CAM on " + (model.grad_cam_layer || "–") + ", occlusion: how far " +
        "the class's logit z falls when a 6x6 patch is covered (red: evidence for the class, " +
        "blue: against)."})]);

    const blocks = [];
    for (const layer of model.layers) {
      const block = layer.name.includes(".") ? layer.name.split(".").slice(0, -1).join(".") : "";
      if (!blocks.length || blocks[blocks.length - 1].name !== block) blocks.push({name: block, layers: []});
      blocks[blocks.length - 1].layers.push(layer);
    }
    const overview = el("div", {class: "network", "aria-label": "the network"},
      blocks.map((block) => el("div", {class: "net-block"}, [
        block.name ? el("span", {class: "net-block-name", text: block.name}) : null,
        ...block.layers.map((layer) => el("span", {
          class: `net-layer ${layer.type}`, title: layer.description,
          onclick: () => $(`.layer[data-layer="${CSS.escape(layer.name)}"]`,
                           modelColumn(index)).scrollIntoView({behavior: "smooth"})},
          [el("span", {class: "t", text: layer.type}),
           el("span", {class: "s", text: layer.shape.join("×")})]))])));

    const layers = el("section", {class: "panel", "aria-label": "layers"}, [
      el("h2", {text: "4 · Every layer"}), overview,
      el("p", {class: "hint", text: "Each square is one channel's map, coloured on the " +
        "layer's own scale (blue negative, white 0, red positive; purple for values ≥ 0). " +
        "Click a pixel of a Conv2d map to see how it was computed."}),
      ...model.layers.map((layer) => layerCard(index, layer))]);

    root.append(el("div", {class: "model", "data-testid": "model", "data-model": String(index)},
                   [title, prediction, why, layers]));
  });
}

function layerCard(modelIndex, layer) {
  const isConv = layer.type === "Conv2d";
  const card = el("div", {class: `layer ${isConv ? "conv" : ""}`, "data-testid": "layer",
                          "data-layer": layer.name, "data-type": layer.type}, [
    el("div", {class: "layer-head"}, [
      el("span", {class: "layer-name", text: layer.name}),
      el("span", {class: "layer-desc", text: layer.description}),
      el("span", {class: "layer-shape", text: layer.shape.join(" × ")})]),
    el("div", {class: "layer-range"}),
    layer.shape.length === 3 ? el("div", {class: "maps"}) : el("canvas", {class: "vector"}),
    el("div", {class: "readout"})]);
  if (layer.shape.length === 3) {
    const maps = $(".maps", card);
    for (let c = 0; c < layer.shape[0]; c++) {
      maps.append(el("canvas", {"data-channel": String(c), width: String(layer.shape[2]),
                                height: String(layer.shape[1])}));
    }
    maps.addEventListener("mousemove", (event) => readout(modelIndex, layer, card, event));
    if (isConv) {
      maps.addEventListener("click", (event) => {
        const hit = position(layer, event);
        if (hit) showArithmetic(modelIndex, layer.name, hit.channel, hit.row, hit.col);
      });
    }
  }
  return card;
}

function position(layer, event) {
  const canvas = event.target;
  if (canvas.tagName !== "CANVAS" || canvas.dataset.channel === undefined) return null;
  const box = canvas.getBoundingClientRect();
  const [, h, w] = layer.shape;
  return {channel: parseInt(canvas.dataset.channel, 10),
          row: Math.min(h - 1, Math.max(0, Math.floor((event.clientY - box.top) / box.height * h))),
          col: Math.min(w - 1, Math.max(0, Math.floor((event.clientX - box.left) / box.width * w)))};
}

function layerValues(modelIndex, name) {
  if (!state.results) return null;
  const layer = state.results[modelIndex].layers.find((l) => l.name === name);
  if (!layer) return null;
  if (!layer.values) layer.values = decode(layer.output);
  return layer;
}

function readout(modelIndex, layer, card, event) {
  const hit = position(layer, event);
  const data = layerValues(modelIndex, layer.name);
  if (!hit || !data) return;
  const [, h, w] = layer.shape;
  const value = data.values[(hit.channel * h + hit.row) * w + hit.col];
  $(".readout", card).textContent =
    `channel ${hit.channel}, row ${hit.row}, col ${hit.col}: ${fmt(value)}`;
}

function showResults(models) {
  state.results = models;
  models.forEach((result, index) => {
    const column = modelColumn(index);
    const info = state.info.models[index];
    const probs = result.probabilities;
    const top = result.predicted;
    $("[data-testid=prediction]", column).textContent = info.classes[top];
    $(".prediction-prob", column).textContent = `${(100 * probs[top]).toFixed(1)}%`;
    const truth = $(".truth", column);
    if (state.test) {
      const right = state.test.label === top;
      truth.className = `truth ${right ? "right" : "wrong"}`;
      truth.textContent = right ? `✓ true class ${state.test.class_name}`
                                : `✗ true class ${state.test.class_name}`;
    } else { truth.className = "truth"; truth.textContent = ""; }
    const rows = column.querySelectorAll("[data-testid=probabilities] > .bar-row");
    rows.forEach((row, k) => {
      row.dataset.prob = String(probs[k]);
      row.classList.toggle("top", k === top);
      $(".bar", row).style.width = `${(100 * probs[k]).toFixed(2)}%`;
      $(".bar-value", row).textContent = `${(100 * probs[k]).toFixed(1)}%`;
    });
    for (const layer of result.layers) drawLayer(column, layer);
    const picked = state.picked[index];
    if (picked) showArithmetic(index, picked.layer, picked.channel, picked.row, picked.col);
  });
}

function drawLayer(column, layer) {
  const card = $(`.layer[data-layer="${CSS.escape(layer.name)}"]`, column);
  if (!card) return;
  const values = layer.values = decode(layer.output);
  const shape = layer.output.shape;
  const signed = layer.output.min < 0;
  const scale = signed ? Math.max(-layer.output.min, layer.output.max) : layer.output.max;
  const colour = signed ? diverging : sequential;
  $(".layer-range", card).textContent =
    `values ${fmt(layer.output.min, 3)} to ${fmt(layer.output.max, 3)}`;
  if (shape.length === 3) {
    const [channels, h, w] = shape;
    const canvases = card.querySelectorAll(".maps canvas");
    for (let c = 0; c < channels; c++) paint(canvases[c], w, h, values, c * h * w, colour, scale);
  } else {
    const n = shape[0], width = Math.min(n, 64), height = Math.ceil(n / width);
    const padded = new Float32Array(width * height);
    padded.set(values);
    const canvas = $("canvas.vector", card);
    paint(canvas, width, height, padded, 0, colour, scale);
    canvas.style.height = `${Math.max(12, Math.round(height * (canvas.clientWidth || 480) / width))}px`;
    canvas.onmousemove = (event) => {
      const box = canvas.getBoundingClientRect();
      const col = Math.floor((event.clientX - box.left) / box.width * width);
      const row = Math.floor((event.clientY - box.top) / box.height * height);
      const i = row * width + col;
      if (i >= 0 && i < n) $(".readout", card).textContent = `unit ${i}: ${fmt(values[i])}`;
    };
  }
}

// ---------------------------------------------------------------------------------- arithmetic

async function showArithmetic(modelIndex, layerName, channel, row, col) {
  const column = modelColumn(modelIndex);
  const card = $(`.layer[data-layer="${CSS.escape(layerName)}"]`, column);
  state.picked[modelIndex] = {layer: layerName, channel, row, col};
  column.querySelectorAll(".maps canvas.picked").forEach((c) => c.classList.remove("picked"));
  const tile = $(`.maps canvas[data-channel="${channel}"]`, card);
  if (tile) tile.classList.add("picked");
  let result;
  try {
    result = await postJSON("/api/conv", {pixels: Array.from(state.pixels), model: modelIndex,
                                          layer: layerName, channel, row, col});
  } catch (error) { showError(error.message); return; }
  const old = $(".arith", column);
  const panel = arithmeticPanel(modelIndex, result);
  if (old) old.remove();
  card.append(panel);
}

function grid(values, padding) {
  return el("table", {class: "grid"}, values.map((row, r) => el("tr", {},
    row.map((v, c) => el("td", {class: padding && padding[r][c] ? "pad" : "",
                                text: fmt(v, 3)})))));
}

function arithmeticPanel(modelIndex, a) {
  const close = el("button", {type: "button", text: "close",
    onclick: () => { state.picked[modelIndex] = null; panel.remove(); }});
  const difference = Math.abs(a.sum - a.value);
  const agrees = difference <= 1e-4 * Math.max(1, Math.abs(a.value));
  const info = state.info.models[modelIndex];
  const where = a.reads_input
    ? `the input image, normalised as in training: (pixel / 255 − ${info.mean[0]}) / ${info.std[0]}`
    : "the previous layer's maps";
  const channelBlocks = a.window.map((window, c) => el("div", {class: "term-row"}, [
    el("span", {class: "label", text: a.in_channels > 1
      ? `input channel ${c}: window · filter → products, sum ${fmt(a.channel_sums[c])}`
      : "window · filter → products"}),
    grid(window, a.in_padding), el("span", {class: "op", text: "×"}),
    grid(a.weight[c]), el("span", {class: "op", text: "="}), grid(a.products[c])]));
  const channels = a.in_channels > 4
    ? el("div", {class: "channel-list"}, channelBlocks) : el("div", {}, channelBlocks);
  const rfCanvas = el("canvas", {width: "140", height: "140"});
  drawReceptiveField(rfCanvas, a.receptive_field);
  const rf = a.receptive_field;
  const panel = el("div", {class: "arith", "data-testid": "conv-arithmetic",
                           "data-value": String(a.value), "data-sum": String(a.sum),
                           "data-layer": a.layer, "data-channel": String(a.channel),
                           "data-row": String(a.row), "data-col": String(a.col)}, [
    el("div", {class: "arith-head"}, [
      el("h4", {text: `${a.layer}, channel ${a.channel}, row ${a.row}, col ${a.col}`}), close]),
    el("div", {class: "arith-body"}, [
      el("div", {class: "rf"}, [rfCanvas, el("p", {text: rf
        ? `receptive field: rows ${rf.top}–${rf.bottom}, cols ${rf.left}–${rf.right} ` +
          `(${rf.size[0]}×${rf.size[1]} pixels of the input)`
        : "receptive field: not a chain of windows back to the input"})]),
      el("div", {class: "terms"}, [
        el("p", {class: "legend", text: `A ${a.kernel_size.join("×")} window of ${where} ` +
          `(${a.in_channels} channel${a.in_channels > 1 ? "s" : ""}, stride ` +
          `${a.stride.join("×")}, padding ${a.padding.join("×")}; grey = padding, 0), ` +
          `times filter ${a.channel}, element by element:`}),
        channels,
        el("p", {class: "sum-line"}, [
          `Σ products = ${fmt(a.sum - a.bias, 6)}, + bias ${fmt(a.bias, 6)} = `,
          el("b", {text: fmt(a.sum, 6)})]),
        el("p", {class: "sum-line"}, [
          `the value in the map: ${fmt(a.value, 6)} `,
          el("span", {class: agrees ? "check" : "check bad",
                      text: agrees ? `✓ the same (difference ${difference.toExponential(1)})`
                                   : `✗ differs by ${difference.toExponential(2)}`})]),
        a.then.length ? el("ol", {class: "steps-after"}, a.then.map((step) => el("li", {},
          `${step.name} ${step.type}: ${step.formula}` +
          (step.type === "BatchNorm2d"
            ? ` = (${fmt(step.input)} − ${fmt(step.params.running_mean)}) / √(` +
              `${fmt(step.params.running_var)} + ${step.params.eps}) · ` +
              `${fmt(step.params.weight)} + ${fmt(step.params.bias)}` : "") +
          ` = ${fmt(step.result)} (map: ${fmt(step.value)})`))) : null])])]);
  return panel;
}

function drawReceptiveField(canvas, rf) {
  const context = canvas.getContext("2d");
  const scale = canvas.width / state.width;
  const source = el("canvas", {width: String(state.width), height: String(state.height)});
  source.getContext("2d").putImageData($("#draw-canvas").getContext("2d")
    .getImageData(0, 0, state.width, state.height), 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  if (!rf) return;
  context.fillStyle = "rgba(0, 0, 0, 0.45)";
  const top = Math.max(0, rf.top), left = Math.max(0, rf.left);
  const bottom = Math.min(state.height - 1, rf.bottom), right = Math.min(state.width - 1, rf.right);
  context.fillRect(0, 0, canvas.width, top * scale);
  context.fillRect(0, (bottom + 1) * scale, canvas.width, canvas.height);
  context.fillRect(0, top * scale, left * scale, (bottom - top + 1) * scale);
  context.fillRect((right + 1) * scale, top * scale, canvas.width, (bottom - top + 1) * scale);
  context.strokeStyle = "#f97316";
  context.lineWidth = 2;
  context.strokeRect(left * scale + 1, top * scale + 1, (right - left + 1) * scale - 2,
                     (bottom - top + 1) * scale - 2);
}

// ---------------------------------------------------------------------------------- explanations

let explainTimer = null;
const explaining = [];

function scheduleExplain() {
  clearTimeout(explainTimer);
  explainTimer = setTimeout(() => state.info.models.forEach((_, i) => explain(i)), 120);
}

async function explain(index) {
  if (explaining[index]) { explaining[index] = "again"; return; }
  explaining[index] = true;
  try {
    do {
      if (explaining[index] === "again") explaining[index] = true;
      const version = state.version;
      const result = await postJSON("/api/explain", {
        pixels: Array.from(state.pixels), model: index, target: state.targets[index],
        smoothgrad: 8, sanity: state.sanity[index]});
      if (version === state.version) showExplanations(index, result);
      else explaining[index] = "again";
    } while (explaining[index] === "again");
  } catch (error) {
    showError(error.message);
  } finally {
    explaining[index] = false;
  }
}

const METHODS = [["saliency", "saliency"], ["smoothgrad", "SmoothGrad"],
                 ["grad_cam", "Grad-CAM"], ["occlusion", "occlusion"]];

function explanationTile(method, title, map, note, rho) {
  const canvas = el("canvas", {width: String(state.width), height: String(state.height)});
  const tile = el("div", {class: "explanation", "data-testid": "explanation",
                          "data-method": method}, [canvas, el("span", {text: title})]);
  if (map) {
    const values = decode(map);
    const signed = map.min < 0;
    const scale = signed ? Math.max(-map.min, map.max) : map.max;
    paint(canvas, state.width, state.height, values, 0, signed ? diverging : heat, scale);
    blendInput(canvas, signed);
  } else {
    tile.append(el("div", {class: "note", text: note || "not available"}));
  }
  if (rho !== undefined) {
    tile.append(el("div", {class: "rho", title: "Spearman's rank correlation with the " +
                   "trained model's map (near 1: the map does not depend on the weights)",
                   text: rho === null ? "ρ –" : `ρ = ${rho.toFixed(2)}`}));
  }
  return tile;
}

function blendInput(canvas, signed) {
  // the input faintly under the map, so you can see where on the image it points
  const context = canvas.getContext("2d");
  const image = context.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < state.pixels.length; i++) {
    const g = state.pixels[i];
    for (let k = 0; k < 3; k++) {
      const v = image.data[4 * i + k];
      image.data[4 * i + k] = signed ? v * (0.8 + 0.2 * (1 - g / 255)) : 0.8 * v + 0.2 * g;
    }
  }
  context.putImageData(image, 0, 0);
}

function showExplanations(index, result) {
  const column = modelColumn(index);
  const info = state.info.models[index];
  const box = $(".explanations", column);
  const name = info.classes[result.target];
  box.replaceChildren(...METHODS.map(([method, title]) => explanationTile(
    method, title, result.maps[method], result.notes[method])));
  box.dataset.target = String(result.target);
  box.setAttribute("aria-label", `explanations for ${name}`);
  const sanityRow = $(".sanity-row", column);
  if (result.randomised) {
    sanityRow.hidden = false;
    sanityRow.replaceChildren(
      el("h4", {text: `The same maps from randomised weights (for ${name}); ρ = rank ` +
                      "correlation with the maps above"}),
      el("div", {class: "explanations"}, METHODS.map(([method, title]) => {
        const tile = explanationTile(`${method}-randomised`, title, result.randomised[method],
                                     result.notes[method], result.correlation[method]);
        tile.dataset.testid = "explanation-randomised";
        return tile;
      })));
  } else {
    sanityRow.hidden = true;
    sanityRow.replaceChildren();
  }
}

// ---------------------------------------------------------------------------------- start

async function start() {
  try {
    state.info = await api("/api/info");
  } catch (error) { showError(`cannot reach the explorer: ${error.message}`); return; }
  const info = state.info;
  [state.height, state.width] = info.input_size;
  const canvas = $("#draw-canvas");
  canvas.width = state.width; canvas.height = state.height;
  state.pixels = new Uint8ClampedArray(state.width * state.height);
  $("#subtitle").textContent = info.models.map((m) => `${m.name} (${m.model_class}` +
    (m.epoch !== null && m.epoch !== undefined ? `, epoch ${m.epoch}` : "") + ")").join("  vs  ") +
    (info.test_set ? ` · test images: ${info.test_set.size.toLocaleString()} from ` +
                     `${info.test_set.source}` : "");
  buildModelColumns();
  setupDrawing();

  const classes = info.test_set ? info.test_set.classes : info.models[0].classes;
  const classPick = $("#class-pick");
  classPick.replaceChildren(el("option", {value: "", text: "a test image of class…"}),
    ...classes.map((name, k) => el("option", {value: String(k), text: name})));
  classPick.addEventListener("change", () => {
    if (classPick.value !== "") loadTestImage(`pick=class&label=${classPick.value}`);
  });
  const mistakeModel = $("#mistake-model");
  if (info.models.length > 1) {
    mistakeModel.hidden = false;
    mistakeModel.replaceChildren(...info.models.map((m, i) =>
      el("option", {value: String(i), text: `of ${m.name}`})));
  }
  const n = info.test_set ? info.test_set.size : 0;
  const current = () => (state.test ? state.test.index : -1);
  $("#btn-next").addEventListener("click", () => loadTestImage(`index=${(current() + 1) % n}`));
  $("#btn-prev").addEventListener("click", () => loadTestImage(`index=${(current() - 1 + n) % n}`));
  $("#btn-random").addEventListener("click", () => loadTestImage("pick=random"));
  $("#btn-mistake").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    button.textContent = "finding…";
    await loadTestImage(`pick=mistake&model=${mistakeModel.value || 0}&after=${current()}`);
    button.disabled = false;
    button.textContent = "a mistake";
  });
  $("#upload").addEventListener("change", (event) => {
    if (event.target.files.length) upload(event.target.files[0]);
  });
  if (n) await loadTestImage("index=0");
  else changed();
}

document.addEventListener("DOMContentLoaded", start);
