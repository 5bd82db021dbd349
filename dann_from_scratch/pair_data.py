"""The data of a pair: loaded, brought to the network's input shape and split.

:func:`load_pair_data` reads the source training set, the target training set and the target
test set of a pair (:mod:`~dann_from_scratch.pairs`), holds out a labelled **source
validation** split and an unlabelled **target validation** split (both out of the training
sets, :func:`holdout_split`), and fits every image to the network (:func:`fit_images`).

**Image shapes.** Images whose height/width differ from the network's input are resized with
PIL's bilinear filter (MNIST 28x28 -> 32x32 for the SVHN network in SVHN -> MNIST; the usual
choice in public DANN code, and it makes the digit fill the frame about as much as an SVHN
digit does), or zero-padded around the centre with ``image_fit="pad"``; one-channel images
are repeated over three channels (three-channel images fed to a one-channel net are
converted to luminance).

**What the data are.** ``PairData.info`` records, besides the domains and sizes, a
fingerprint of each of the five sets as the networks see them (:func:`array_fingerprint`
of the fitted images and their labels) and the provenance of each domain
(:func:`~dann_from_scratch.datasets.domain_provenance`: MNIST-M's photo set, the fonts and
recipe versions of the synthetic sets). Runs store both in their sidecars, and a resume on
data that differ is refused naming the set or the field that changed
(:func:`~dann_from_scratch.runs.resume_point`). :func:`data_notes` says it in words.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import DOMAINS, DatasetError, domain_provenance, load_domain
from .errors import ConfigError
from .models import input_shape_of
from .pairs import PairSpec, get_pair

__all__ = ["PairData", "load_pair_data", "data_identity", "data_notes", "array_fingerprint",
           "fit_images", "holdout_split",
           "subset_rows", "QUICK_SIZES", "VAL_FRACTION", "MAX_VAL", "IMAGE_FITS"]

# quick mode: at most this many images per set (seconds, for tests)
QUICK_SIZES = {"source_train": 96, "source_val": 32, "target_train": 96, "target_val": 32,
               "target_test": 64}
VAL_FRACTION = 0.1            # held-out share of source / target training sets
MAX_VAL = 5000                # ... at most this many images
IMAGE_FITS = ("resize", "pad")
_SETS = ("source_train", "source_val", "target_train", "target_val", "target_test")


# -- images to the network's shape ------------------------------------------------------------------
def fit_images(images: np.ndarray, input_shape, mode: str = "resize") -> np.ndarray:
    """Bring uint8 images (N, H, W, C) (or (N, H, W)) to the network's ``input_shape`` (C, H, W),
    still as (N, H', W', C') uint8.

    Height/width: ``mode="resize"`` resizes each image with PIL's bilinear filter; ``"pad"``
    zero-pads (or centre-crops) around the centre. Channels: one channel is repeated to C; three
    channels fed to a one-channel network become luminance (ITU-R 601). Images that already fit
    are returned unchanged (no copy).
    """
    if mode not in IMAGE_FITS:
        raise ConfigError("image_fit", f"image_fit must be 'resize' or 'pad', got {mode!r}")
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"fit_images: expected images (N, H, W, C), got shape {x.shape}")
    c, h, w = (int(s) for s in input_shape)
    if x.shape[1:3] != (h, w):
        x = _resize(x, h, w) if mode == "resize" else _pad(x, h, w)
    if x.shape[3] != c:
        if x.shape[3] == 1:
            x = np.repeat(x, c, axis=3)
        elif c == 1 and x.shape[3] == 3:
            lum = x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
            x = np.clip(np.rint(lum), 0, 255).astype(np.uint8)[..., None]
        else:
            raise ValueError(f"fit_images: images have {x.shape[3]} channels, the network "
                             f"takes {c}")
    return x


def _resize(x: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(x), h, w, x.shape[3]), dtype=np.uint8)
    for i, img in enumerate(x):
        im = Image.fromarray(img[..., 0] if img.shape[2] == 1 else img)
        arr = np.asarray(im.resize((w, h), Image.BILINEAR), dtype=np.uint8)
        out[i] = arr[..., None] if arr.ndim == 2 else arr
    return out


def _pad(x: np.ndarray, h: int, w: int) -> np.ndarray:
    n, ih, iw, c = x.shape
    out = np.zeros((n, h, w, c), dtype=x.dtype)
    # source window (crop when larger) and destination offset (pad when smaller)
    sy, sx = max(0, (ih - h) // 2), max(0, (iw - w) // 2)
    dy, dx = max(0, (h - ih) // 2), max(0, (w - iw) // 2)
    ch, cw = min(ih, h), min(iw, w)
    out[:, dy:dy + ch, dx:dx + cw] = x[:, sy:sy + ch, sx:sx + cw]
    return out


def array_fingerprint(images: np.ndarray, labels: np.ndarray | None = None) -> str:
    """Short BLAKE2b hash of a set: the dtype, shape and bytes of its images and labels.
    Fast enough to run on every load (about 1 GB/s: a fraction of a second for full
    MNIST-M)."""
    h = hashlib.blake2b(digest_size=8)
    for a in (images, labels):
        if a is None:
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


# -- splits ---------------------------------------------------------------------------------------
def holdout_split(labels_or_n, fraction: float = VAL_FRACTION, seed: int = 0,
                  max_holdout: int | None = MAX_VAL) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, holdout_idx), both sorted. With a label vector the split is stratified (each
    class gives ``round(fraction * n_class)`` rows, at least one when it has two or more);
    with a count it is a plain random split. ``max_holdout`` caps the held-out size."""
    rng = np.random.default_rng(seed)
    if np.ndim(labels_or_n) == 0:
        n = int(labels_or_n)
        k = int(round(fraction * n))
        if max_holdout is not None:
            k = min(k, max_holdout)
        k = min(max(k, 1), n - 1) if n >= 2 else 0
        perm = rng.permutation(n)
        return np.sort(perm[k:]), np.sort(perm[:k])
    y = np.asarray(labels_or_n)
    share = fraction
    if max_holdout is not None and len(y):
        share = min(fraction, max_holdout / len(y))
    hold = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        k = int(round(share * len(members)))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        else:
            k = 0
        hold.append(members[:k])
    hold = np.sort(np.concatenate(hold)) if hold else np.zeros(0, np.int64)
    mask = np.ones(len(y), bool)
    mask[hold] = False
    return np.flatnonzero(mask), hold


def subset_rows(rng: np.random.Generator, n: int, k: int | None) -> np.ndarray:
    """Sorted indices of at most ``k`` of ``n`` rows, drawn with ``rng`` (all when k is None)."""
    if k is None or n <= k:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


# -- a pair's data --------------------------------------------------------------------------------
@dataclass
class PairData:
    """Everything a pair's runs read: (X, y) tuples of uint8 images already fitted to the
    network and int64 labels. ``target_train`` / ``target_val`` labels are used only by the
    train-on-target run (and never for choosing anything); ``target_test`` labels only to report
    accuracy at the end. ``info`` describes where each set came from."""

    source_train: tuple
    source_val: tuple
    target_train: tuple
    target_val: tuple
    target_test: tuple
    info: dict


def data_identity(spec: PairSpec, data_dir=None, quick: bool = False,
                  image_fit: str | None = None) -> dict:
    """What decides the data :func:`load_pair_data` gives, known before loading anything: the
    domains read (the embedded defaults when ``data_dir`` is None and the pair has them), the
    data folder, how images are fitted, quick mode."""
    embedded = data_dir is None and spec.default_source is not None
    return {"source": spec.default_source if embedded else spec.source,
            "target": spec.default_target if embedded else spec.target,
            "embedded_default": embedded,
            "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
            "image_fit": image_fit or spec.image_fit, "quick": bool(quick)}


def load_pair_data(spec: PairSpec | str, data_dir=None, quick: bool = False, seed: int = 0,
                   download: bool = False, image_fit: str | None = None) -> PairData:
    """Load, fit and split the data of a pair (see the module docstring).

    ``data_dir`` None: the embedded default domains where the pair has them (mnist-mnistm),
    otherwise the loaders' caches. ``seed`` drives the data generation/splits (fixed at 0 by
    :func:`~dann_from_scratch.experiments.reproduce` so every run of every seed sees the same
    data). ``download``: let MNIST/SVHN loaders fetch missing files. Missing files raise a
    one-line :class:`DatasetError` that says which files the pair needs and where to get them.
    """
    spec = get_pair(spec) if isinstance(spec, str) else spec
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DatasetError(f"{data_dir}: data directory does not exist ({spec.name} needs "
                           f"{spec.data_help})")
    ident = data_identity(spec, data_dir, quick, image_fit)
    raw = _load_sets(spec, ident["source"], ident["target"], data_dir, quick, seed, download)
    (xs, ys), (xt, yt), (xtt, ytt) = raw["source"], raw["target"], raw["test"]
    rows = _split_rows(ys, len(yt), len(ytt), quick, seed)
    input_shape = input_shape_of(spec.model)
    sets = {name: (fit_images(x[rows[name]], input_shape, ident["image_fit"]), y[rows[name]])
            for name, (x, y) in (("source_train", (xs, ys)), ("source_val", (xs, ys)),
                                 ("target_train", (xt, yt)), ("target_val", (xt, yt)),
                                 ("target_test", (xtt, ytt)))}
    info = {**{k: ident[k] for k in ("source", "target", "embedded_default", "data_dir")},
            "provenance": _provenance(spec, ident["source"], ident["target"], data_dir, quick),
            "fingerprints": {k: array_fingerprint(*sets[k]) for k in _SETS},
            "splits": _split_notes(spec, ident["source"], ident["target"]),
            "sizes": {k: int(len(sets[k][1])) for k in _SETS},
            "original_shapes": {"source": list(xs.shape[1:]), "target": list(xt.shape[1:])},
            "input_shape": list(input_shape),
            "image_fit": ident["image_fit"], "quick": ident["quick"], "split_seed": int(seed)}
    return PairData(**sets, info=info)


def provenance_parts(prov: dict, quote: str = "") -> list[str]:
    """What one domain was built from, as short phrases (photo set, fonts, generator
    version); ``quote`` wraps the hashes (a backtick in Markdown)."""
    parts = []
    if "photos" in prov:
        parts.append(f"photos: {prov['photos']} ({prov['photos_count']} photos, sha256 "
                     f"{quote}{prov['photos_sha256']}{quote})")
    if "fonts" in prov:
        parts.append(f"fonts: {prov['fonts']} (sha256 {quote}{prov['fonts_sha256']}{quote})")
    parts.append(f"generator {prov['generator']}")
    return parts


def data_notes(info: dict) -> list[str]:
    """What a pair's data were built from, one line per domain that has a provenance
    (e.g. ``target mnistm5k: photos: bundled photos (11 photos, sha256 ...)``), plus any
    warning recorded with it (a ``bsds500/`` folder without ``train/``)."""
    lines = []
    for role, prov in (info.get("provenance") or {}).items():
        if not prov:
            continue
        lines.append(f"{role} {info[role]}: " + ", ".join(provenance_parts(prov)))
        if "photos_note" in prov:
            lines.append(f"warning: {prov['photos_note']}")
    return lines


def _provenance(spec: PairSpec, source: str, target: str, data_dir, quick: bool) -> dict:
    """``{"source": ..., "target": ...}``: :func:`domain_provenance` of the two domains, with
    the loader arguments :func:`_load_sets` gives them."""
    quick_kw = spec.quick_kwargs if quick else {}
    return {role: domain_provenance(domain, data_dir, **{**kwargs, **quick_kw.get(role, {})})
            for role, domain, kwargs in (("source", source, spec.source_kwargs),
                                         ("target", target, spec.target_kwargs))}


def _load_sets(spec: PairSpec, source: str, target: str, data_dir, quick: bool, seed: int,
               download: bool) -> dict:
    """``{"source", "target", "test"}``: the raw (images, labels) of the pair's three sets."""
    quick_kw = spec.quick_kwargs if quick else {}
    source_kw = {**spec.source_kwargs, **quick_kw.get("source", {})}
    target_kw = {**spec.target_kwargs, **quick_kw.get("target", {})}
    jobs = [("source", source, spec.source_train_split, source_kw),
            ("target", target, spec.target_train_split, target_kw),
            ("test", target, spec.target_test_split, target_kw)]
    # domains read from files first: a missing file is reported before any slow generation
    jobs.sort(key=lambda job: not DOMAINS[job[1]].reads_files)
    return {key: _load_one(spec, domain, split, data_dir, seed, download, kw)
            for key, domain, split, kw in jobs}


def _load_one(spec: PairSpec, domain: str, split: str, data_dir, seed: int, download: bool,
              kw: dict):
    """One set, or a one-line DatasetError saying what the domain needs."""
    try:
        return load_domain(domain, split, data_dir=data_dir, seed=seed, download=download, **kw)
    except DatasetError as exc:
        where = f"in {data_dir}" if data_dir is not None else "(no data_dir= given)"
        msg = " ".join(str(exc).split())
        raise DatasetError(f"{spec.name}: cannot load {domain}/{split} {where}: {msg}. "
                           f"{domain} needs {DOMAINS[domain].needs}; pass data_dir=DATA_DIR"
                           ) from exc


def _split_rows(source_labels, n_target: int, n_test: int, quick: bool, seed: int) -> dict:
    """Row indices of the five sets: stratified source validation, random target validation,
    every test image; in quick mode a random few of each (:data:`QUICK_SIZES`)."""
    s_tr, s_va = holdout_split(source_labels, VAL_FRACTION, seed=seed + 101)
    t_tr, t_va = holdout_split(n_target, VAL_FRACTION, seed=seed + 202)
    rows = {"source_train": s_tr, "source_val": s_va, "target_train": t_tr, "target_val": t_va,
            "target_test": np.arange(n_test)}
    if quick:
        rng = np.random.default_rng(seed + 303)
        rows = {name: idx[subset_rows(rng, len(idx), QUICK_SIZES[name])]
                for name, idx in rows.items()}
    return rows


def _split_notes(spec: PairSpec, source: str, target: str) -> dict:
    """Where each set comes from, in words (results.json and results.md)."""
    return {"source_train": f"{source}/{spec.source_train_split} minus held-out validation",
            "source_val": f"{source}/{spec.source_train_split} (held out, stratified "
                          f"{VAL_FRACTION:.0%}, at most {MAX_VAL})",
            "target_train": f"{target}/{spec.target_train_split} minus held-out "
                            "(unlabelled for DANN)",
            "target_val": f"{target}/{spec.target_train_split} (held out, unlabelled: "
                          "domain-classifier error only)",
            "target_test": f"{target}/{spec.target_test_split}"}
