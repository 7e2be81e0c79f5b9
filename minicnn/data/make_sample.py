"""Build the sample shipped with minicnn from the official Fashion-MNIST files.

    python -m minicnn.data.make_sample [--data-dir DIR] [--out PATH] [--seed 0]

Picks, with a fixed seed, 200 training and 50 test images of each class (2,000 + 500),
stratified, kept in their original order, and writes them as a compressed .npz whose bytes
depend only on the inputs (fixed zip timestamps), so rebuilding gives an identical file.

Arrays: ``train_images`` uint8 (2000, 28, 28), ``train_labels`` uint8 (2000,),
``test_images`` uint8 (500, 28, 28), ``test_labels`` uint8 (500,), and ``train_indices`` /
``test_indices`` (positions in the official files, for provenance).
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

from .fashion_mnist import CLASSES, SAMPLE_PATH, FashionMNIST

PER_CLASS = {"train": 200, "test": 50}
SEED = 0


def stratified_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator):
    """``per_class`` random positions of each class, sorted (original order kept)."""
    picks = []
    for c in range(len(CLASSES)):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} ({CLASSES[c]}) has only {len(members)} images, "
                             f"need {per_class}")
        picks.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def build_sample(data_dir=None, seed=SEED, download=False) -> dict[str, np.ndarray]:
    """The sample's arrays, from the full dataset (never from the sample itself)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in ("train", "test"):
        full = FashionMNIST(split, root=data_dir, download=download, allow_sample=False)
        idx = stratified_indices(full.labels, PER_CLASS[split], rng)
        arrays[f"{split}_images"] = full.images[idx]
        arrays[f"{split}_labels"] = full.labels[idx].astype(np.uint8)
        arrays[f"{split}_indices"] = idx.astype(np.uint16)
    return arrays


def save_npz_deterministic(path, arrays: dict[str, np.ndarray]) -> Path:
    """Like ``np.savez_compressed``, but with fixed timestamps: same arrays, same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    tmp.replace(path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minicnn.data.make_sample",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None,
                        help="directory with the official IDX files (default: usual search)")
    parser.add_argument("--out", default=str(SAMPLE_PATH), help="where to write the .npz")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--download", action="store_true",
                        help="allow downloading the full set if it is not found")
    args = parser.parse_args(argv)
    arrays = build_sample(args.data_dir, args.seed, args.download)
    out = save_npz_deterministic(args.out, arrays)
    print(f"wrote {out} ({out.stat().st_size:,} bytes): "
          + ", ".join(f"{k} {v.shape}" for k, v in sorted(arrays.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
