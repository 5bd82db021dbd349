"""SynSigns: the 43 GTSRB traffic-sign classes drawn procedurally over photo backgrounds.

Ganin & Lempitsky (2015, sec. 4.1) train on 100,000 "Synthetic Signs" (Moiseev et al. 2013:
sign icons rendered with varied position, rotation, background and blur) and adapt to GTSRB.
No picture of a real sign is used here: every class is drawn from geometric primitives.

Templates (one per class, cached): drawn with ``PIL.ImageDraw`` on a transparent canvas
about 8x the output size in sign coordinates (x in [-1, 1], y down), then downsampled with a
Lanczos filter (antialiasing) in premultiplied alpha. Shapes and colours follow the German
signs of GTSRB:

* prohibitory: white disc, red ring (speed limits with the number in a bold condensed
  font, no passing, trucks prohibited, no vehicles); no entry: red disc, white bar;
* warning: triangle pointing up, red rim, white fill, black pictogram (curves, bumps,
  person, children, bicycle, deer, snowflake, road works, traffic light in colour, ...);
* yield: inverted triangle; stop: red octagon with "STOP"; priority road: white diamond
  with a yellow centre;
* mandatory: blue disc with white arrows (turn, ahead, straight-or-turn, keep, roundabout);
* "end of" signs: white disc, grey symbols, a band of thin black diagonal stripes.
  Triangles are drawn on a canvas of their own aspect (width : height = 1 : 0.866) and
  stretched to a square, as GTSRB's bounding-box crops are when resized to 40x40.

One image: a random crop of a random background photo (random scale, maybe mirrored);
sometimes a grey pole under the sign or part of another sign above or below it; the sign
itself covering 70-95 % of the image, off-centre, rotated (sd 5 degrees), squeezed
horizontally (viewing angle) and warped by a random perspective (``Image.transform`` with
``PERSPECTIVE``, on a canvas twice the output size then box-filtered); the sign's own
brightness, fading (desaturation) and an illumination gradient; then the whole image's
brightness (often dark, as in GTSRB), contrast, colour cast, Gaussian blur and noise.

Each image has its own random generator, seeded with ``(seed, stream, index)``; classes
come in shuffled blocks of 43 so that any ``n`` is balanced (counts differ by at most 1).
"""
from __future__ import annotations

import hashlib
import io
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ._io import atomic_write_bytes, cache_dir, cached_arrays
from .sign_drawing import draw_sign, sign_font

__all__ = [
    "CLASS_NAMES",
    "N_CLASSES",
    "DEFAULT_SIZES",
    "make_synsigns",
    "load_synsigns",
    "synsigns_preview",
    "sign_template",
]

#: Short names of the 43 GTSRB classes, indexed by class id.
CLASS_NAMES = [
    "speed limit 20",  # 0
    "speed limit 30",  # 1
    "speed limit 50",  # 2
    "speed limit 60",  # 3
    "speed limit 70",  # 4
    "speed limit 80",  # 5
    "end of speed limit 80",  # 6
    "speed limit 100",  # 7
    "speed limit 120",  # 8
    "no passing",  # 9
    "no passing >3.5t",  # 10
    "right-of-way at intersection",  # 11
    "priority road",  # 12
    "yield",  # 13
    "stop",  # 14
    "no vehicles",  # 15
    "vehicles >3.5t prohibited",  # 16
    "no entry",  # 17
    "general caution",  # 18
    "dangerous curve left",  # 19
    "dangerous curve right",  # 20
    "double curve",  # 21
    "bumpy road",  # 22
    "slippery road",  # 23
    "road narrows on the right",  # 24
    "road work",  # 25
    "traffic signals",  # 26
    "pedestrians",  # 27
    "children crossing",  # 28
    "bicycles crossing",  # 29
    "beware of ice/snow",  # 30
    "wild animals crossing",  # 31
    "end of all limits",  # 32
    "turn right ahead",  # 33
    "turn left ahead",  # 34
    "ahead only",  # 35
    "go straight or right",  # 36
    "go straight or left",  # 37
    "keep right",  # 38
    "keep left",  # 39
    "roundabout mandatory",  # 40
    "end of no passing",  # 41
    "end of no passing >3.5t",  # 42
]
N_CLASSES = len(CLASS_NAMES)

#: Default number of images per split of :func:`load_synsigns` (the paper used 100,000
#: for training).
DEFAULT_SIZES = {"train": 100_000, "test": 10_000}
_SPLIT_STREAM = {"train": 0, "test": 1}
GENERATOR_VERSION = 1  # part of the cache key: bump when the recipe changes
_SS = 2  # supersampling of the per-image canvas
_TEMPLATE_HI = 320  # width in pixels of the canvas the templates are drawn on

@lru_cache(maxsize=4 * N_CLASSES)
def _template(cls: int, size: int) -> Image.Image:
    """Premultiplied-alpha ("RGBa") template of class ``cls``, ``size`` x ``size`` pixels."""
    hi = max(_TEMPLATE_HI, 4 * size)
    im = draw_sign(cls, hi).convert("RGBa")
    return im.resize((size, size), Image.LANCZOS)


def sign_template(cls: int, size: int = 80) -> np.ndarray:
    """The clean sign of class ``cls`` as an RGBA uint8 array (size x size x 4, straight alpha)."""
    if not 0 <= cls < N_CLASSES:
        raise ValueError(f"class id must be in 0..{N_CLASSES - 1}, got {cls}")
    return np.asarray(_template(int(cls), int(size)).convert("RGBA")).copy()


# --------------------------------------------------------------------------- one image


def _perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> tuple:
    """Coefficients for ``Image.transform(PERSPECTIVE)`` taking output points ``dst`` to
    input points ``src`` (4 x 2 each)."""
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for k, ((x, y), (u, v)) in enumerate(zip(dst, src)):
        a[2 * k] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * k + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
        b[2 * k], b[2 * k + 1] = u, v
    return tuple(np.linalg.solve(a, b))


def _warp_sign(rng, cls: int, w: int, centre, extent: float, angle: float, squeeze: float, jitter: float):
    """Warp the class template onto a w x w canvas, box-filter it by ``_SS``; returns
    premultiplied float32 (w / _SS, w / _SS, 4)."""
    t = _template(cls, w)
    src = np.array([(0, 0), (w, 0), (w, w), (0, w)], dtype=np.float64)
    unit = (src / w - 0.5) * extent * w
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    dst = unit @ np.diag([squeeze, rng.uniform(0.94, 1.04)]) @ rot.T + np.asarray(centre)
    dst = dst + rng.normal(0, jitter * extent * w, (4, 2))
    coeffs = _perspective_coeffs(dst, src)
    warped = t.transform((w, w), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    return np.asarray(warped.reduce(_SS), dtype=np.float32)


def _background(rng, photos: Sequence[Image.Image], w: int) -> np.ndarray:
    photo = photos[int(rng.integers(len(photos)))]
    pw, ph = photo.size
    side = min(pw, ph) * rng.uniform(0.12, 0.6)
    side = max(side, min(pw, ph, 8))
    x0 = rng.uniform(0, pw - side)
    y0 = rng.uniform(0, ph - side)
    bg = photo.resize((w, w), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side), reducing_gap=1.5)
    arr = np.asarray(bg, dtype=np.float32)
    if rng.random() < 0.5:
        arr = arr[:, ::-1]
    return arr


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-0.5, 0.5] (y, x), each (size, size) float32."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    return np.broadcast_to(t[:, None], (size, size)), np.broadcast_to(t[None, :], (size, size))


def _render(rng: np.random.Generator, cls: int, photos: Sequence[Image.Image], size: int) -> np.ndarray:
    w = _SS * size
    bg = _background(rng, photos, size)

    extent = rng.uniform(0.7, 0.95)
    slack = (1 - extent) / 2 * 0.9 * w
    centre = (w / 2 + rng.uniform(-slack, slack), w / 2 + rng.uniform(-slack, slack))
    angle = float(np.clip(rng.normal(0, 5), -15, 15))
    squeeze = rng.uniform(0.78, 1.04)

    if rng.random() < 0.3:  # a grey pole under the sign
        x = centre[0] / _SS
        half = rng.uniform(0.025, 0.06) * size
        grey = rng.uniform(70, 200) * np.array([1.0, 1.0, 1.05])
        x0, x1 = int(max(0, round(x - half))), int(min(size, round(x + half)))
        bg[int(centre[1] / _SS):, x0:x1] = grey.astype(np.float32)
    if rng.random() < 0.15:  # part of another sign above or below
        other = int(rng.integers(N_CLASSES))
        e2 = extent * rng.uniform(0.8, 1.0)
        dy = (extent + e2) / 2 * w * rng.uniform(1.02, 1.15) * rng.choice([-1, 1])
        o = _warp_sign(rng, other, w, (centre[0], centre[1] + dy), e2, angle, squeeze, 0.0)
        bg = bg * (1 - o[..., 3:] * np.float32(1 / 255)) + o[..., :3]

    s = _warp_sign(rng, cls, w, centre, extent, angle, squeeze, rng.uniform(0.0, 0.05))
    rgb, alpha = s[..., :3], s[..., 3:] * np.float32(1 / 255)
    # The sign's own look: brightness, fading, an illumination gradient.
    gain = rng.uniform(0.7, 1.1)
    fade = rng.uniform(0.0, 0.45)
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    rgb = rgb * np.float32(gain * (1 - fade)) + luma[..., None] * np.float32(gain * fade)
    if rng.random() < 0.4:
        a = rng.uniform(0, 2 * math.pi)
        yy, xx = _grid(size)
        rgb = rgb * (1 + np.float32(rng.uniform(0.2, 0.6)) * (np.float32(np.cos(a)) * xx + np.float32(np.sin(a)) * yy))[..., None]
    img = bg * (1 - alpha) + rgb

    # The whole photo: exposure, contrast, colour cast, blur, noise.
    exposure = float(np.clip(np.exp(rng.normal(math.log(0.75), 0.45)), 0.2, 1.7))
    contrast = rng.uniform(0.6, 1.15)
    cast = rng.normal(1.0, 0.06, 3).astype(np.float32)
    mean = float(img.mean())
    img = ((img - mean) * np.float32(contrast) + np.float32(mean)) * (cast * np.float32(exposure))
    img = np.clip(img + 0.5, 0, 255)
    if rng.random() < 0.8:
        pil = Image.fromarray(img.astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.1) * size / 40))
        img = np.asarray(pil, dtype=np.float32)
    img = img + rng.normal(0, rng.uniform(0, 7), img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- public API


def _prepare_photos(photos, photo_dir) -> list[Image.Image]:
    if photos is None:
        from .backgrounds import load_photos  # imported lazily: reads files only when needed

        photos = load_photos(photo_dir)
    if len(photos) == 0:
        raise ValueError("photos: empty list, need at least one colour photo")
    out = []
    for i, p in enumerate(photos):
        p = np.asarray(p)
        if p.ndim != 3 or p.shape[2] != 3 or p.dtype != np.uint8:
            raise ValueError(f"photos[{i}]: expected H x W x 3 uint8, got {p.shape} {p.dtype}")
        if min(p.shape[:2]) < 8:
            raise ValueError(f"photos[{i}]: {p.shape[:2]} is too small (need at least 8x8)")
        out.append(Image.fromarray(p))
    return out


def _image_rng(seed: int, stream: int, i: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream), int(i))))


def _labels(n: int, seed: int, stream: int) -> np.ndarray:
    """Class of each image: shuffled blocks of 43, so every prefix is balanced."""
    blocks = []
    for b in range(-(-n // N_CLASSES)):
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream), 1 << 30, b)))
        blocks.append(rng.permutation(N_CLASSES))
    return np.concatenate(blocks)[:n].astype(np.int64) if blocks else np.zeros(0, dtype=np.int64)


def make_synsigns(
    n: int,
    seed: int = 0,
    photos: Sequence[np.ndarray] | None = None,
    photo_dir: str | os.PathLike | None = None,
    size: int = 40,
    *,
    stream: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``n`` synthetic traffic signs (see the module docstring for the recipe).

    Backgrounds come from ``photos`` (H x W x 3 uint8 arrays) or, when it is None, from
    ``load_photos(photo_dir)`` (the BSDS500 folder, or with None the photos bundled with
    scikit-learn / scikit-image). Classes are balanced: shuffled blocks of 43. Image ``i``
    is rendered with ``SeedSequence(seed, spawn_key=(stream, i))``, so the same arguments
    give the same bytes. ``size``: output side in pixels (GTSRB net input: 40).

    Returns ``(images, labels)``: uint8 (n, size, size, 3) and int64 (n,) in 0..42.
    """
    n, size = int(n), int(size)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    pil_photos = _prepare_photos(photos, photo_dir)
    labels = _labels(n, seed, stream)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        images[i] = _render(_image_rng(seed, stream, i), int(labels[i]), pil_photos, size)
    return images, labels


def _photos_fingerprint(photos: Sequence[np.ndarray]) -> str:
    h = hashlib.sha256()
    for p in photos:
        h.update(repr(np.shape(p)).encode())
        h.update(np.ascontiguousarray(p).tobytes())
    return h.hexdigest()[:16]


def load_synsigns(
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    photo_dir: str | os.PathLike | None = None,
    size: int = 40,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` ("train" or "test") of SynSigns, generated once and cached.

    ``n`` defaults to :data:`DEFAULT_SIZES` (train 100,000 as in the paper, test 10,000;
    rendering runs at 500-800 images/s on one core, about two minutes for the training set).
    Train and test are independent random streams of the same ``seed``. Background photos
    come from ``load_photos(photo_dir)``. The arrays are cached in ``cache_dir("synsigns")``
    under a name built from split, n, seed, size, the recipe version and a fingerprint of
    the photos, written atomically.

    Returns ``(images, labels)``: uint8 (n, size, size, 3) and int64 (n,).
    """
    if split not in _SPLIT_STREAM:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    n = DEFAULT_SIZES[split] if n is None else int(n)
    from .backgrounds import load_photos

    photos = load_photos(photo_dir)
    name = (
        f"synsigns_v{GENERATOR_VERSION}_{split}_n{n}_seed{seed}_size{size}"
        f"_photos{_photos_fingerprint(photos)}.npz"
    )

    def build() -> dict:
        images, labels = make_synsigns(n, seed=seed, photos=photos, size=size, stream=_SPLIT_STREAM[split])
        return {"images": images, "labels": labels}

    arrays = cached_arrays(cache_dir("synsigns") / name, build)
    return arrays["images"], arrays["labels"].astype(np.int64)


def synsigns_preview(
    path: str | os.PathLike,
    seed: int = 0,
    photos: Sequence[np.ndarray] | None = None,
    photo_dir: str | os.PathLike | None = None,
    size: int = 40,
    ncols: int = 9,
    zoom: int = 3,
) -> Path:
    """Save a PNG sheet with one rendered image per class, captioned "id name".

    The image of class ``c`` is rendered with ``SeedSequence(seed, spawn_key=(2, c))`` and
    shown ``zoom`` times enlarged (nearest neighbour); the sheet is stored with a 256-colour
    palette. Returns the path written (atomically).
    """
    import textwrap

    pil_photos = _prepare_photos(photos, photo_dir)
    images = [_render(_image_rng(seed, 2, c), c, pil_photos, size) for c in range(N_CLASSES)]
    font = sign_font(False).font_variant(size=11)
    side = size * zoom
    cell_w, caption_h, gap = max(side + 10, 150), 30, 6
    nrows = -(-N_CLASSES // ncols)
    title_h = 26
    sheet = Image.new("RGB", (ncols * cell_w, title_h + nrows * (side + caption_h + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 6), f"SynSigns: one sample per GTSRB class ({size}x{size}, seed {seed}, shown x{zoom})",
              font=sign_font(True).font_variant(size=13), fill=(0, 0, 0))
    for c, img in enumerate(images):
        x0 = (c % ncols) * cell_w
        y0 = title_h + (c // ncols) * (side + caption_h + gap)
        caption = textwrap.wrap(f"{c} {CLASS_NAMES[c]}", 24)[:2]
        for k, line in enumerate(caption):
            draw.text((x0 + cell_w / 2, y0 + 1 + 13 * k), line, font=font, fill=(0, 0, 0), anchor="ma")
        tile = Image.fromarray(img).resize((side, side), Image.NEAREST)
        sheet.paste(tile, (x0 + (cell_w - side) // 2, y0 + caption_h))
    # A 256-colour palette keeps the sheet small (about 100 KB) without visible loss.
    sheet = sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    return atomic_write_bytes(path, buf.getvalue())
