"""SynNumbers / "Syn Digits": house-number-like digits rendered from TrueType fonts.

Ganin & Lempitsky (2015, sec. 4.1) train on ~500,000 images "generated from Windows fonts by
varying the text (that includes different one-, two-, and three-digit numbers), positioning,
orientation, background and stroke colors, and the amount of blur", and adapt to SVHN. The
label is the digit at the centre of the image. This module follows that recipe with the fonts
matplotlib ships (DejaVu Sans/Serif/Mono, STIX General and Computer Modern, 21 faces with
ordinary lining or italic digits) plus any fonts the caller adds.

One image (32x32 RGB), drawn at twice the resolution and box-filtered down:

* text: 1, 2 or 3 random digits (probabilities 0.25, 0.35, 0.40); the labelled digit is the
  middle one (of two digits, either one), placed near the image centre, so the neighbours
  are cut by the border as in SVHN crops;
* font: uniform over the font set; extra letter spacing, bolder strokes (stroke width),
  height 50-85 % of the image, horizontal stretch, shear, rotation (sd 7 degrees) and a
  small offset of the centre digit;
* colours: random background and text colours whose luminances differ by at least 60 (of
  255); optional background gradient, low-frequency texture, a border region of another
  colour (edge of a plate), a drop shadow or an outline around the text;
* Gaussian blur (radius 0-1.3 px, 70 % of images) and pixel noise.

Each image has its own random generator, seeded with ``(seed, stream, index)``, so image
``i`` is the same whatever ``n`` is and whatever else was generated before.

Fonts are found and validated by :mod:`~dann_from_scratch.datasets.digit_fonts` (its public
names are importable from here too).
"""
from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ._io import cache_dir, cached_arrays
from .digit_fonts import (BASE_PT, DEFAULT_FONT_NAMES, default_font_paths, find_fonts,
                          fonts_fingerprint, validate_font)

__all__ = [
    "make_syndigits",
    "load_syndigits",
    "find_fonts",
    "validate_font",
    "default_font_paths",
    "syndigits_preview",
    "DEFAULT_SIZES",
    "DEFAULT_FONT_NAMES",
]

IMAGE_SIZE = 32
_SCALE = 2  # drawn at 2x, then box-filtered to 32x32
# Bump when the recipe changes: it is part of the cache key.
GENERATOR_VERSION = 1

#: Default number of images per split of :func:`load_syndigits`.
DEFAULT_SIZES = {"train": 50_000, "test": 10_000}
_SPLIT_STREAM = {"train": 0, "test": 1}

# --------------------------------------------------------------------------- rendering


def _luma(c: np.ndarray) -> float:
    return float(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour (float), mostly muted like painted plates and walls."""
    grey = rng.uniform(0, 255)
    chroma = rng.uniform(0, 1) ** 1.5 * 200  # many greyish, some vivid colours
    return np.clip(grey + chroma * (rng.uniform(0, 1, 3) - 0.5), 0, 255)


def _colours(rng: np.random.Generator, min_contrast: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Background and text colours (float RGB) whose luminances differ by min_contrast."""
    bg = _colour(rng)
    for _ in range(50):
        fg = _colour(rng)
        if abs(_luma(fg) - _luma(bg)) >= min_contrast:
            return bg, fg
    # Fallback (rare: mid-grey backgrounds with unlucky draws): push the text to an extreme.
    fg = np.zeros(3) if _luma(bg) > 127 else np.full(3, 255.0)
    return bg, fg


@lru_cache(maxsize=4)
def _grid(w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-0.5, 0.5] (y, x), each (w, w) float32."""
    t = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    return np.broadcast_to(t[:, None], (w, w)), np.broadcast_to(t[None, :], (w, w))


def _background(rng: np.random.Generator, bg: np.ndarray, fg: np.ndarray, w: int) -> np.ndarray:
    """W x W x 3 float32 background: flat colour, maybe a gradient, texture and a plate edge."""
    field = np.empty((w, w, 3), dtype=np.float32)
    field[:] = bg
    yy, xx = _grid(w)
    if rng.random() < 0.5:  # linear gradient towards a second colour, keeping contrast
        bg2 = np.clip(bg + rng.normal(0, 45, 3), 0, 255)
        if abs(_luma(bg2) - _luma(fg)) >= 45:
            a = rng.uniform(0, 2 * math.pi)
            t = np.clip(np.cos(a) * xx + np.sin(a) * yy + 0.5, 0, 1)[..., None]
            field += (bg2 - bg).astype(np.float32) * t
    if rng.random() < 0.5:  # low-frequency texture
        k = int(rng.integers(3, 7))
        amp = rng.uniform(4, 22)
        coarse = rng.normal(0, amp, (k, k, 3)).astype(np.float32)
        for c in range(3):
            field[..., c] += np.asarray(Image.fromarray(coarse[..., c], mode="F").resize((w, w), Image.BICUBIC))
    if rng.random() < 0.25:  # edge of the number plate: another colour beyond a line
        a = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(0.3, 0.48)
        side = np.clip((np.cos(a) * xx + np.sin(a) * yy - d) * w + 0.5, 0, 1)[..., None]
        field += (_colour(rng).astype(np.float32) - field) * side
    return field


def _text_mask(rng: np.random.Generator, font: ImageFont.FreeTypeFont, text: str, centre: int):
    """Draw ``text`` white on black; return (mask, centre_xy of the labelled digit, its height)."""
    stroke = int(rng.choice([0, 0, 0, 1, 2, 3]))
    spacing = rng.uniform(-0.04, 0.22) * BASE_PT
    pad = BASE_PT
    advances = [font.getlength(ch) for ch in text]
    width = int(sum(advances) + spacing * (len(text) - 1) + 2 * pad)
    height = int(2.2 * BASE_PT)
    baseline = int(1.5 * BASE_PT)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    x = float(pad)
    cx = cy = h = 0.0
    for i, ch in enumerate(text):
        draw.text((x, baseline), ch, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255)
        if i == centre:
            left, top, right, bottom = font.getbbox(ch, anchor="ls", stroke_width=stroke)
            cx, cy, h = x + (left + right) / 2, baseline + (top + bottom) / 2, float(bottom - top)
        x += advances[i] + spacing
    return mask, (cx, cy), max(h, 1.0)


def _as_alpha(im: Image.Image) -> np.ndarray:
    """An L image (2x size) box-filtered to the output size, as float32 (H, W, 1) in [0, 1]."""
    return np.asarray(im.reduce(_SCALE), dtype=np.float32)[..., None] * np.float32(1 / 255)


def _render(rng: np.random.Generator, fonts: Sequence[ImageFont.FreeTypeFont]) -> tuple[np.ndarray, str, int]:
    """One 32x32x3 uint8 image; returns (image, rendered text, index of the labelled digit)."""
    w = IMAGE_SIZE * _SCALE
    k = int(rng.choice([1, 2, 3], p=[0.25, 0.35, 0.40]))
    text = "".join(str(d) for d in rng.integers(0, 10, k))
    centre = int(rng.integers(0, 2)) if k == 2 else k // 2
    font = fonts[int(rng.integers(len(fonts)))]
    mask, (cx, cy), h = _text_mask(rng, font, text, centre)

    # Affine map from the master rendering to the 2x canvas: scale to the target height,
    # stretch, shear, rotate; the labelled digit's centre lands near the image centre.
    s = rng.uniform(0.50, 0.85) * w / h
    stretch = rng.uniform(0.8, 1.2)
    shear = rng.uniform(-0.2, 0.2)
    theta = math.radians(float(np.clip(rng.normal(0, 7), -20, 20)))
    c, sn = math.cos(theta), math.sin(theta)
    fwd = np.array([[c, -sn], [sn, c]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([s * stretch, s])
    inv = np.linalg.inv(fwd)
    ox, oy = w / 2 + rng.uniform(-0.06, 0.06) * w, w / 2 + rng.uniform(-0.06, 0.06) * w
    # input = inv @ (output - o) + c_digit, for output pixel centres (x + 0.5).
    off = np.array([cx, cy]) - inv @ np.array([ox, oy]) + inv @ np.array([0.5, 0.5]) - 0.5
    warped = mask.transform(
        (w, w), Image.AFFINE, (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1]), Image.BICUBIC
    )
    # Compose at the output size: the box filter commutes with blending over a smooth field.
    m = _as_alpha(warped)

    bg, fg = _colours(rng)
    img = _background(rng, bg, fg, IMAGE_SIZE)
    effect = rng.random()
    if effect < 0.15:  # drop shadow
        shift = rng.integers(1, 3, 2) * rng.choice([-1, 1], 2)
        sh = np.roll(m, (int(shift[1]), int(shift[0])), axis=(0, 1))
        shadow = np.clip(bg * rng.uniform(0.2, 0.6), 0, 255).astype(np.float32)
        img += (shadow - img) * sh
    elif effect < 0.25:  # outline in a third colour
        o = _as_alpha(warped.filter(ImageFilter.MaxFilter(int(rng.choice([3, 5])))))
        img += (_colour(rng).astype(np.float32) - img) * o
    img += (fg.astype(np.float32) - img) * m

    if rng.random() < 0.7:  # blur
        pil = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))
        img = np.asarray(pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.3))), dtype=np.float32)
    img = img + rng.normal(0, rng.uniform(0, 8), img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), text, centre


def make_syndigits(
    n: int,
    seed: int = 0,
    font_dirs: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    *,
    stream: int = 0,
    return_meta: bool = False,
):
    """Render ``n`` synthetic digit images (see the module docstring for the recipe).

    ``seed`` (a non-negative int) and ``stream`` (independent sequences for the same seed;
    :func:`load_syndigits` uses 0 for train, 1 for test) seed image ``i`` with
    ``SeedSequence(seed, spawn_key=(stream, i))``. ``font_dirs``: extra fonts, see
    :func:`find_fonts`.

    Returns ``(images, labels)``: uint8 (n, 32, 32, 3) and int64 (n,), the label being the
    centre digit. With ``return_meta=True`` also a dict with ``"texts"`` (the rendered
    strings) and ``"centre"`` (the index of the labelled digit in each string).
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    fonts = [validate_font(p) for p in find_fonts(font_dirs)]
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    labels = np.empty(n, dtype=np.int64)
    texts, centres = [], np.empty(n, dtype=np.int64)
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream), i)))
        images[i], text, centre = _render(rng, fonts)
        labels[i] = int(text[centre])
        texts.append(text)
        centres[i] = centre
    if return_meta:
        return images, labels, {"texts": np.asarray(texts, dtype="<U3"), "centre": centres}
    return images, labels


def load_syndigits(
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    font_dirs: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` ("train" or "test") of the synthetic digits, generated once and cached.

    ``n`` defaults to :data:`DEFAULT_SIZES` (train 50,000, test 10,000; the paper used
    about 500,000 - pass ``n=`` for more; rendering runs at 500-800 images/s on one core,
    so the default training set takes about a minute). Train and test are independent random streams of the same ``seed``. The arrays
    are cached in ``cache_dir("syndigits")`` under a name built from split, n, seed, the
    recipe version and a fingerprint of the font files, and written atomically.

    Returns ``(images, labels)``: uint8 (n, 32, 32, 3) and int64 (n,).
    """
    if split not in _SPLIT_STREAM:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    n = DEFAULT_SIZES[split] if n is None else int(n)
    font_paths = find_fonts(font_dirs)
    name = (
        f"syndigits_v{GENERATOR_VERSION}_{split}_n{n}_seed{seed}_fonts{fonts_fingerprint(font_paths)}.npz"
    )

    def build() -> dict:
        images, labels = make_syndigits(n, seed=seed, font_dirs=font_dirs, stream=_SPLIT_STREAM[split])
        return {"images": images, "labels": labels}

    arrays = cached_arrays(cache_dir("syndigits") / name, build)
    return arrays["images"], arrays["labels"].astype(np.int64)


def syndigits_preview(
    path: str | os.PathLike, n: int = 64, seed: int = 0, font_dirs=None, ncols: int = 16, zoom: int = 3
) -> Path:
    """Save a PNG sheet of the first ``n`` images of ``make_syndigits(n, seed)``, each
    captioned "label (rendered text)" and shown ``zoom`` times enlarged; stored with a
    256-colour palette to stay small. Returns the path written (atomically)."""
    import io

    import matplotlib

    from ._io import atomic_write_bytes

    images, labels, meta = make_syndigits(n, seed=seed, font_dirs=font_dirs, return_meta=True)
    font_path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    font = ImageFont.truetype(str(font_path), 11)
    side = IMAGE_SIZE * zoom
    cell_w, caption_h, gap, title_h = side + 8, 15, 4, 24
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    sheet = Image.new("RGB", (ncols * cell_w, title_h + nrows * (side + caption_h + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 5), f"SynDigits: label (rendered text), {IMAGE_SIZE}x{IMAGE_SIZE}, seed {seed}, shown x{zoom}",
              font=ImageFont.truetype(str(font_path), 13), fill=(0, 0, 0))
    for i in range(n):
        x0 = (i % ncols) * cell_w
        y0 = title_h + (i // ncols) * (side + caption_h + gap)
        draw.text((x0 + cell_w / 2, y0), f"{labels[i]} ({meta['texts'][i]})", font=font, fill=(0, 0, 0), anchor="ma")
        sheet.paste(Image.fromarray(images[i]).resize((side, side), Image.NEAREST), (x0 + 4, y0 + caption_h))
    sheet = sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    return atomic_write_bytes(path, buf.getvalue())
