"""One full training epoch of the lecture's CNN, minicnn against PyTorch, same data pipeline.

    python benchmarks/epoch.py --threads 2     # one epoch each on the full data (about a minute)
    python benchmarks/epoch.py --threads 1
    python benchmarks/epoch.py --quick         # 10 training batches; seconds

Both frameworks train on the same batches: minicnn's DataLoader with the lecture's training
transform (flip + crop(28, padding 2) + normalise), 55,000 training images in batches of 64,
Adam(lr=1e-3, weight_decay=1e-4); then both evaluate the 5,000 validation and 10,000 test
images in batches of 500. An epoch is that training pass plus the evaluation, which is what
`minicnn train` reports per epoch. Each framework runs in a fresh process of its own with
the same thread count (in one process, the OpenMP threads the first framework leaves spinning
slow the second one down: PyTorch's 2-thread epoch went from 22 to 33 s after a minicnn epoch).
The two epochs run one after the other, not interleaved, so use a quiet machine and repeat.

Outputs in ``--out`` (default benchmarks/results/): epoch[_TAG].md and epoch[_TAG].json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _common as common

BATCH = 64


def _datasets():
    from minicnn.data import FashionMNIST, train_val_split

    train, val = train_val_split(FashionMNIST("train"), 5000, seed=0)
    return train, val, FashionMNIST("test")


def _loaders(train, val, test, quick: bool):
    from minicnn.data import DataLoader, lecture_eval_transform, lecture_train_transform

    train_loader = DataLoader(train, BATCH, shuffle=True, seed=0,
                              transform=lecture_train_transform(), train=True)
    eval_loaders = [DataLoader(ds, 500, transform=lecture_eval_transform()) for ds in (val, test)]
    limit = 10 if quick else None          # --quick: 10 training batches, 1 batch per eval set
    return train_loader, eval_loaders, limit


def _take(loader, limit):
    for index, batch in enumerate(loader):
        if limit is not None and index >= limit:
            return
        yield batch


def epoch_minicnn(train_loader, eval_loaders, limit) -> dict:
    """Train one epoch and evaluate, as ``minicnn.train`` does (its own building blocks)."""
    from train_step import minicnn_setup

    model, criterion, optimizer = minicnn_setup()
    images = 0
    start = time.perf_counter()
    model.train()
    for x, y in _take(train_loader, limit):
        optimizer.zero_grad()
        criterion(model(x), y)
        model.backward(criterion.backward())
        optimizer.step()
        images += len(y)
    trained = time.perf_counter()
    model.eval()
    for loader in eval_loaders:
        for x, _ in _take(loader, 1 if limit else None):
            model(x)
    done = time.perf_counter()
    return {"train_s": trained - start, "eval_s": done - trained, "epoch_s": done - start,
            "images": images, "images_per_s": images / (trained - start)}


def epoch_torch(torch, train_loader, eval_loaders, limit) -> dict:
    """The same epoch in PyTorch: the lecture's module tree, the same batches."""
    from train_step import torch_setup

    model, criterion, optimizer = torch_setup(torch)
    images = 0
    start = time.perf_counter()
    model.train()
    for x, y in _take(train_loader, limit):
        optimizer.zero_grad()
        criterion(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        optimizer.step()
        images += len(y)
    trained = time.perf_counter()
    model.eval()
    with torch.inference_mode():
        for loader in eval_loaders:
            for x, _ in _take(loader, 1 if limit else None):
                model(torch.from_numpy(x))
    done = time.perf_counter()
    return {"train_s": trained - start, "eval_s": done - trained, "epoch_s": done - start,
            "images": images, "images_per_s": images / (trained - start)}


def _child(args) -> int:
    """One framework's epoch in this (fresh) process; prints its figures as one JSON line."""
    threads = common.configure_threads(args.threads)
    if args.child == "minicnn":            # as `minicnn train` does; PyTorch keeps glibc's
        common.apply_malloc(args)          # defaults (its own caching allocator), as it ships
    train_loader, eval_loaders, limit = _loaders(*_datasets(), args.quick)
    if args.child == "minicnn":
        row = epoch_minicnn(train_loader, eval_loaders, limit)
    else:
        torch = common.import_torch()
        torch.set_num_threads(threads)
        row = epoch_torch(torch, train_loader, eval_loaders, limit)
    print(json.dumps(row))
    return 0


def main(argv=None) -> int:
    parser = common.make_parser(__doc__)
    parser.add_argument("--child", choices=("minicnn", "pytorch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    threads = common.configure_threads(args.threads)
    malloc = common.apply_malloc(args)
    torch = common.import_torch(args.no_torch)
    if torch is not None:
        torch.set_num_threads(threads)
    busy = common.settle(args)
    info = common.machine_info(threads)
    info["malloc"] = malloc
    print(common.format_machine(info))

    results = {}
    for framework in ("minicnn", "pytorch"):
        if framework == "pytorch" and torch is None:
            continue
        child = [sys.executable, __file__, "--child", framework, "--threads", str(threads)]
        child += ["--quick"] if args.quick else []
        child += ["--default-malloc"] if args.default_malloc else []
        proc = subprocess.run(child, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        results[framework] = json.loads(proc.stdout.strip().splitlines()[-1])

    lines = ["# One training epoch of the lecture's CNN", "",
             f"Threads: {threads}; {'--quick (10 batches; figures mean nothing)' if args.quick else 'full epoch'}; "
             f"busy fraction before timing: {busy if busy is not None else 'not measured'}.", "",
             "| framework | train (s) | evaluate (s) | epoch (s) | training images/s |",
             "| :--- | ---: | ---: | ---: | ---: |"]
    for name, row in results.items():
        lines.append(f"| {name} | {row['train_s']:.1f} | {row['eval_s']:.1f} | "
                     f"{row['epoch_s']:.1f} | {row['images_per_s']:,.0f} |")
    if "pytorch" in results:
        ratio = results["minicnn"]["epoch_s"] / results["pytorch"]["epoch_s"]
        lines += ["", f"minicnn's epoch takes **{ratio:.2f}x** PyTorch's time."]
    text = "\n".join(lines) + "\n\n" + common.format_machine(info) + "\n"
    print(text)
    common.output_path(args, "epoch", "md").write_text(text)
    common.output_path(args, "epoch", "json").write_text(
        json.dumps({"machine": info, "threads": threads, "quick": args.quick,
                    "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
