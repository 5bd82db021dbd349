"""GTSRB, the German Traffic Sign Recognition Benchmark (Stallkamp et al. 2012), 43 classes.

Reads the official layout::

    <root>/Final_Training/Images/000NN/*.ppm   with   GT-000NN.csv in each class folder
    <root>/Final_Test/Images/*.ppm             with   GT-final_test.csv (the ground-truth file)

The CSV files are semicolon-separated with the columns
``Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId``. Each image is cropped to its
region of interest (corners taken as inclusive pixel indices) and resized to
``size x size`` with PIL's bilinear filter; the paper's GTSRB network takes 40x40 input.

Splits, following the paper (sec. 4.1, "Synthetic Signs -> GTSRB"): "adapt" is 31,367
random training images used as the unlabelled target during adaptation, "eval" the other
7,842 of the 39,209 training images, used for evaluation. See :func:`gtsrb_split_indices`.
"""
from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ._io import DatasetError, cache_dir, cached_arrays, files_fingerprint, relative_name

__all__ = ["load_gtsrb", "gtsrb_split_indices", "find_gtsrb_root", "GTSRB_COLUMNS"]

GTSRB_COLUMNS = ("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId")
N_CLASSES = 43
# The paper's numbers: 31,367 of the 39,209 training images form the adaptation set.
PAPER_ADAPT, PAPER_TRAIN_TOTAL = 31_367, 39_209


# --------------------------------------------------------------------------- locating files


def find_gtsrb_root(data_dir: str | os.PathLike | None) -> Path:
    """The directory holding ``Final_Training`` (and/or ``Final_Test``).

    Accepts that directory itself, its ``Final_Training`` (or ``Final_Test``) subfolder, or a
    parent holding ``GTSRB/``. ``None`` means ``cache_dir("gtsrb")``; nothing is downloaded.
    """
    given = Path(data_dir) if data_dir is not None else cache_dir("gtsrb")
    candidates = [given, given / "GTSRB"]
    if given.name in ("Final_Training", "Final_Test"):
        candidates.insert(0, given.parent)
    for c in candidates:
        if (c / "Final_Training").is_dir() or (c / "Final_Test").is_dir():
            return c
    raise DatasetError(
        f"{given}: no GTSRB data found (expected Final_Training/Images/000NN/ with GT-000NN.csv, "
        "in this folder or in GTSRB/ below it); GTSRB is not downloaded automatically"
    )


def _read_csv(csv_path: Path) -> list[tuple[str, int, int, int, int, int, int, int]]:
    """Rows of a GTSRB annotation file, every column checked."""
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=";")
            header = next(reader, None)
            if header is None:
                raise DatasetError(f"{csv_path}: empty annotation file")
            header = [h.strip() for h in header]
            missing = [c for c in GTSRB_COLUMNS if c not in header]
            if missing:
                raise DatasetError(
                    f"{csv_path}: missing column(s) {', '.join(missing)} (header: {';'.join(header)})"
                )
            col = [header.index(c) for c in GTSRB_COLUMNS]
            rows = []
            for lineno, fields in enumerate(reader, start=2):
                if not fields or all(not x.strip() for x in fields):
                    continue
                try:
                    name = fields[col[0]].strip()
                    numbers = [int(fields[i]) for i in col[1:]]
                except (IndexError, ValueError):
                    raise DatasetError(
                        f"{csv_path}:{lineno}: bad row {';'.join(fields)!r} (need "
                        f"{len(header)} fields, integers in {', '.join(GTSRB_COLUMNS[1:])})"
                    ) from None
                relative_name(name, f"{csv_path}:{lineno}")
                if not 0 <= numbers[-1] < N_CLASSES:
                    raise DatasetError(f"{csv_path}:{lineno}: ClassId {numbers[-1]} outside 0..42")
                rows.append((name, *numbers))
    except OSError as exc:
        raise DatasetError(f"{csv_path}: cannot read annotation file ({exc})") from exc
    return rows


def _annotation_files(root: Path, part: str) -> list[tuple[Path, Path]]:
    """(csv file, folder of its images) pairs for part "train" or "test"."""
    if part == "train":
        images = root / "Final_Training" / "Images"
        if not images.is_dir():
            raise DatasetError(f"{images}: GTSRB training image folder missing")
        pairs = []
        for folder in sorted(p for p in images.iterdir() if p.is_dir()):
            csv_path = folder / f"GT-{folder.name}.csv"
            if not csv_path.is_file():
                raise DatasetError(f"{csv_path}: annotation file missing for class folder {folder.name}")
            pairs.append((csv_path, folder))
        if not pairs:
            raise DatasetError(f"{images}: no class folder 000NN/ found")
        return pairs
    images = root / "Final_Test" / "Images"
    for place in (images, root / "Final_Test", root, root.parent):
        if (place / "GT-final_test.csv").is_file():
            return [(place / "GT-final_test.csv", images)]
    raise DatasetError(
        f"{images / 'GT-final_test.csv'}: test ground truth missing (also looked in "
        f"{root / 'Final_Test'} and {root}); GT-final_test.test.csv lacks ClassId, download "
        "the separate ground-truth file GT-final_test.csv"
    )


# --------------------------------------------------------------------------- decoding


def _decode(path: Path, row: tuple, size: int, csv_path: Path) -> np.ndarray:
    _, width, height, x1, y1, x2, y2, _ = row
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (width, height):
                raise DatasetError(
                    f"{path}: image is {im.size[0]}x{im.size[1]} but {csv_path.name} says "
                    f"Width={width}, Height={height}"
                )
            if not (0 <= x1 <= x2 and 0 <= y1 <= y2 and x1 < width and y1 < height):
                raise DatasetError(
                    f"{csv_path}: ROI ({x1},{y1})-({x2},{y2}) of {path.name} lies outside the "
                    f"{width}x{height} image"
                )
            # ROI corners are inclusive; clip the far corner in case it names the border.
            box = (x1, y1, min(x2 + 1, width), min(y2 + 1, height))
            return np.asarray(im.crop(box).resize((size, size), Image.BILINEAR), dtype=np.uint8)
    except FileNotFoundError:
        raise DatasetError(f"{path}: image listed in {csv_path.name} is missing") from None
    except OSError as exc:
        raise DatasetError(f"{path}: unreadable image ({exc})") from exc


def _build(parts: list[tuple[Path, Path, list]], size: int) -> dict:
    images, labels = [], []
    for csv_path, folder, rows in parts:
        for row in rows:
            images.append(_decode(folder / row[0], row, size, csv_path))
            labels.append(row[-1])
    if not images:
        raise DatasetError(f"{parts[0][0]}: no image listed")
    return {"images": np.stack(images), "labels": np.asarray(labels, dtype=np.int64)}


def _load_part(root: Path, part: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """All images of part "train" or "test", decoded once and cached as .npz."""
    parts = [(csv_path, folder, _read_csv(csv_path))
             for csv_path, folder in _annotation_files(root, part)]
    # Key: location, output size, the annotation files' content (cheap to hash) and the
    # size and modification time of every image they list, so replaced images are decoded
    # again instead of served stale from the cache.
    h = hashlib.sha256(f"{root.resolve()}|{part}|{size}".encode())
    for csv_path, folder, rows in parts:
        h.update(csv_path.read_bytes())
        h.update(files_fingerprint((folder / row[0] for row in rows), csv_path.name).encode())
    path = cache_dir("gtsrb_decoded") / f"gtsrb_{part}_{size}px_{h.hexdigest()[:16]}.npz"
    arrays = cached_arrays(path, lambda: _build(parts, size))
    return arrays["images"], arrays["labels"].astype(np.int64)


# --------------------------------------------------------------------------- public API


def gtsrb_split_indices(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted) of the "adapt" and "eval" parts of a training set of ``n`` images.

    A permutation from ``numpy.random.default_rng(seed)``; its first
    ``round(n * 31367 / 39209)`` entries are "adapt", the rest "eval". For the full set
    (n = 39,209) that is exactly the paper's 31,367 / 7,842; smaller sets keep the same
    proportion (about 80 / 20). Not stratified, as in the paper ("random").
    """
    perm = np.random.default_rng(seed).permutation(n)
    n_adapt = int(round(n * PAPER_ADAPT / PAPER_TRAIN_TOTAL))
    return np.sort(perm[:n_adapt]), np.sort(perm[n_adapt:])


def load_gtsrb(
    split: str = "adapt",
    data_dir: str | os.PathLike | None = None,
    size: int = 40,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a GTSRB split as ROI-cropped ``size x size`` colour images.

    ``split``: "train" (all 39,209 training images), "adapt" (31,367 of them, the paper's
    unlabelled adaptation target), "eval" (the other 7,842, for evaluation) or "test" (the
    official test set, needs GT-final_test.csv). ``data_dir``: see :func:`find_gtsrb_root`.
    Within a split, images keep the order of the class folders and CSV rows.

    Returns ``(images, labels)``: uint8 (N, size, size, 3) and int64 (N,) in 0..42.
    """
    if split not in ("train", "adapt", "eval", "test"):
        raise ValueError(f"split must be 'train', 'adapt', 'eval' or 'test', got {split!r}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    root = find_gtsrb_root(data_dir)
    if split == "test":
        return _load_part(root, "test", size)
    images, labels = _load_part(root, "train", size)
    if split == "train":
        return images, labels
    adapt, evaluation = gtsrb_split_indices(len(labels), seed)
    keep = adapt if split == "adapt" else evaluation
    return images[keep], labels[keep]
