"""How long `minicnn explore` takes to answer a new input, for the lecture's CNN.

    python benchmarks/explore.py                  # one thread (the explorer's setting)
    python benchmarks/explore.py --checkpoint runs/RUN/last.npz
    python benchmarks/explore.py --quick          # a few repeats; seconds

A new input (a test image picked, a stroke drawn, an upload) costs the page two requests:
POST /api/predict (the probabilities and every layer's output, base64 float32) and
POST /api/explain (saliency, SmoothGrad over 8 noisy copies, Grad-CAM, occlusion with 6x6
patches at stride 2: 144 covered copies). Both are timed here through Flask's test client,
JSON encoding included, each call on a different test image, as one figure ("a new input")
and apart; plus a click on a conv map (POST /api/conv) and the explanations with the
randomisation sanity check. The network between browser and server (loopback) and the
page's drawing are not included; the browser test shows the whole page.

Without --checkpoint the lecture's CNN with freshly drawn weights is saved to a temporary
file (the time does not depend on what the weights learnt).

Outputs in ``--out`` (default benchmarks/results/): explore[_TAG].md and explore[_TAG].json.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import _common as common


def main(argv=None) -> int:
    parser = common.make_parser(__doc__)
    parser.set_defaults(threads=1)
    parser.add_argument("--checkpoint", type=Path,
                        help="a checkpoint written by minicnn train (default: the lecture's "
                             "CNN, untrained, saved to a temporary file)")
    args = parser.parse_args(argv)
    threads = common.configure_threads(args.threads)
    machine = common.start_run(args, threads)

    import minicnn
    from minicnn.explore.model import ExploredModel
    from minicnn.explore.server import TestImages, create_app
    from minicnn.models import CNN

    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint
        if path is None:
            path = Path(tmp) / "cnn.npz"
            minicnn.save(path, CNN(seed=0), epoch=0)
        explored = ExploredModel(path, sample=True)
        images = TestImages.of(explored, log=lambda message: None)
        client = create_app([explored], images).test_client()
        explored.warm_up()
        pool = [image.ravel().tolist() for image in images.images[:64]]
        counter = iter(range(10**9))

        def pixels():
            return pool[next(counter) % len(pool)]

        def post(path, body):
            response = client.post(path, json=body)
            assert response.status_code == 200, response.get_json()
            return response

        def predict():
            post("/api/predict", {"pixels": pixels()})

        def explain():
            post("/api/explain", {"pixels": pixels(), "smoothgrad": 8})

        def new_input():
            image = pixels()
            post("/api/predict", {"pixels": image})
            post("/api/explain", {"pixels": image, "smoothgrad": 8})

        def conv_click():
            post("/api/conv", {"pixels": pixels(), "layer": "conv_block2.0", "channel": 5,
                               "row": 7, "col": 6})

        def sanity():
            post("/api/explain", {"pixels": pixels(), "smoothgrad": 8, "sanity": True})

        repeats = 3 if args.quick else 15
        cases = [("a new input: predict + explain", new_input),
                 ("POST /api/predict (probabilities, every layer's output)", predict),
                 ("POST /api/explain (saliency, SmoothGrad x8, Grad-CAM, occlusion)", explain),
                 ("POST /api/conv (a click on conv_block2.0)", conv_click),
                 ("POST /api/explain with the sanity check", sanity)]
        timings = {}
        for name, fn in cases:
            timings[name] = common.measure(fn, repeats=repeats, warmup=1, min_repeat_time=0)
            t = timings[name]
            common.log(f"{name}: median {t.median * 1e3:.0f} ms "
                       f"(IQR {t.iqr_text()} ms, {t.repeats} repeats)")

    headline = timings[cases[0][0]]
    lines = [f"# minicnn explore: answering a new input ({explored.model_class}, "
             f"{threads} thread{'s' if threads > 1 else ''})", "",
             f"Command: `{common.command_line()}`", "",
             common.format_machine(machine), "",
             "| request | median (ms) | IQR (ms) | repeats |", "| :--- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {t.median * 1e3:.0f} | {t.iqr_text()} | {t.repeats} |"
              for name, t in timings.items()]
    lines += ["", f"A new input's prediction, maps and explanations: "
                  f"**{headline.median * 1e3:.0f} ms** (median)."]
    common.write_text(common.output_path(args, "explore", "md"), "\n".join(lines))
    common.write_json(common.output_path(args, "explore", "json"),
                      {"machine": machine, "command": common.command_line(),
                       "model": explored.model_class,
                       "timings": {name: t.to_dict() for name, t in timings.items()}})
    common.log(f"\na new input's prediction, maps and explanations: "
               f"{headline.median * 1e3:.0f} ms (median of {headline.repeats})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
