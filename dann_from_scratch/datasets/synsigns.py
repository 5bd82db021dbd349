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
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ._io import DatasetError, atomic_write_bytes, cache_dir, cached_arrays

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

# Colours (sRGB) roughly as on German signs.
RED = (200, 28, 38)
BLUE = (18, 82, 172)
WHITE = (245, 245, 242)
BLACK = (22, 22, 22)
YELLOW = (250, 188, 18)
GREY = (125, 125, 125)
DARK = (45, 45, 45)
AMBER = (245, 165, 0)
GREEN = (0, 150, 70)

_TRI_H = math.sqrt(3) / 2  # height : width of the triangle canvases


# --------------------------------------------------------------------------- drawing helpers


class _Pen:
    """Draws in "unit" coordinates: x in [-1, 1] spans the canvas width, y points down and
    uses the same scale, (0, 0) is the canvas centre. ``sub`` nests a similarity transform
    (move, scale, mirror, rotate) so pictograms are drawn in their own [-1, 1] box."""

    def __init__(self, image: Image.Image, matrix: np.ndarray | None = None):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        if matrix is None:
            s = image.width / 2
            matrix = np.array([[s, 0.0, image.width / 2], [0.0, s, image.height / 2]])
        self.m = matrix

    def sub(self, cx=0.0, cy=0.0, scale=1.0, mirror=False, angle=0.0) -> "_Pen":
        a = math.radians(angle)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        lin = rot @ np.diag([-scale if mirror else scale, scale])
        local = np.hstack([lin, [[cx], [cy]]])
        m = np.hstack([self.m[:, :2] @ local[:, :2], (self.m[:, :2] @ local[:, 2] + self.m[:, 2])[:, None]])
        return _Pen(self.image, m)

    # geometry ---------------------------------------------------------------------------
    def px(self, pts) -> list[tuple[float, float]]:
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        q = p @ self.m[:, :2].T + self.m[:, 2]
        return [tuple(x) for x in q]

    def length(self, d: float) -> float:
        return d * math.sqrt(abs(np.linalg.det(self.m[:, :2])))

    # primitives ---------------------------------------------------------------------------
    def poly(self, pts, fill):
        self.draw.polygon(self.px(pts), fill=fill)

    def circle(self, c, r, fill):
        (x, y), rr = self.px([c])[0], self.length(r)
        self.draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=fill)

    def ring(self, c, r, w, fill):
        """Circle outline of radius ``r`` (centre of the stroke) and width ``w``."""
        (x, y), ro, ww = self.px([c])[0], self.length(r + w / 2), self.length(w)
        self.draw.ellipse([x - ro, y - ro, x + ro, y + ro], outline=fill, width=max(1, round(ww)))

    def ellipse(self, c, rx, ry, fill, angle=0.0, n=64):
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        a = math.radians(angle)
        x, y = rx * np.cos(t), ry * np.sin(t)
        pts = np.stack([c[0] + x * math.cos(a) - y * math.sin(a), c[1] + x * math.sin(a) + y * math.cos(a)], 1)
        self.poly(pts, fill)

    def line(self, pts, w, fill, caps=True):
        """Thick polyline: one quadrilateral per segment, discs at the joints (and ends)."""
        p = np.asarray(self.px(pts), dtype=np.float64)
        r = max(0.5, self.length(w) / 2)
        for a, b in zip(p[:-1], p[1:]):
            d = b - a
            norm = float(np.hypot(*d))
            if norm < 1e-9:
                continue
            nrm = np.array([-d[1], d[0]]) / norm * r
            self.draw.polygon([tuple(a + nrm), tuple(b + nrm), tuple(b - nrm), tuple(a - nrm)], fill=fill)
        joints = p if caps else p[1:-1]
        for x, y in joints:
            self.draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)

    def rect(self, x0, y0, x1, y1, fill):
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], fill)

    def rounded_poly(self, pts, r, fill):
        """Polygon ``pts`` (already inset by ``r``) grown by ``r`` with round corners."""
        self.poly(pts, fill)
        closed = list(np.asarray(pts, dtype=float)) + [np.asarray(pts[0], dtype=float), np.asarray(pts[1], dtype=float)]
        self.line(closed, 2 * r, fill, caps=True)

    def arrow(self, pts, w, head_w, head_l, fill):
        """Polyline ``pts`` ending in a triangular head whose tip is the last point."""
        p = np.asarray(pts, dtype=np.float64)
        tip = p[-1]
        # Walk back along the path by head_l to find the base of the head.
        remaining, i, base = head_l, len(p) - 1, p[0]
        while i > 0:
            seg = p[i] - p[i - 1]
            d = float(np.hypot(*seg))
            if d >= remaining:
                base = p[i] - seg * (remaining / d)
                break
            remaining -= d
            i -= 1
        direction = (tip - base) / max(float(np.hypot(*(tip - base))), 1e-9)
        normal = np.array([-direction[1], direction[0]])
        shaft = np.vstack([p[:i], base + direction * head_l * 0.15])
        if len(shaft) >= 2:
            self.line(shaft, w, fill, caps=False)
        self.poly([tip, base + normal * head_w / 2, base - normal * head_w / 2], fill)

    def text(self, text, c, w, h, fill, bold=True):
        """``text`` squeezed/stretched to fill a w x h box centred at ``c``."""
        font = _font(bold)
        left, top, right, bottom = font.getbbox(text)
        mask = Image.new("L", (right - left + 4, bottom - top + 4), 0)
        ImageDraw.Draw(mask).text((2 - left, 2 - top), text, font=font, fill=255)
        mask = mask.crop(mask.getbbox())
        (cx, cy), ww, hh = self.px([c])[0], max(1, round(self.length(w))), max(1, round(self.length(h)))
        mask = mask.resize((ww, hh), Image.LANCZOS)
        self.image.paste(fill, (round(cx - ww / 2), round(cy - hh / 2)), mask)


@lru_cache(maxsize=2)
def _font(bold: bool) -> ImageFont.FreeTypeFont:
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    try:
        return ImageFont.truetype(str(path), 200)
    except OSError as exc:  # pragma: no cover - matplotlib always ships it
        raise DatasetError(f"{path}: cannot open the font for sign numbers ({exc})") from exc


def _arc(c, r, a0, a1, n=40) -> np.ndarray:
    """Points of a circular arc (angles in degrees, y down so angles turn clockwise)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], 1)


# --------------------------------------------------------------------------- pictograms
# Each draws in its own [-1, 1] box (y down).


def _car_rear(p: _Pen, fill, window=WHITE):
    p.rect(-0.92, -0.02, 0.92, 0.58, fill)
    p.poly([(-0.74, 0.0), (-0.52, -0.62), (0.52, -0.62), (0.74, 0.0)], fill)
    p.poly([(-0.55, -0.08), (-0.4, -0.5), (0.4, -0.5), (0.55, -0.08)], window)
    p.rect(-0.86, 0.5, -0.5, 0.86, fill)
    p.rect(0.5, 0.5, 0.86, 0.86, fill)


def _truck_rear(p: _Pen, fill):
    p.rect(-0.9, -0.95, 0.9, 0.62, fill)
    p.rect(-0.85, 0.55, -0.45, 0.9, fill)
    p.rect(0.45, 0.55, 0.85, 0.9, fill)


def _truck_side(p: _Pen, fill, window=WHITE):
    p.poly([(-1.0, 0.42), (-1.0, -0.05), (-0.86, -0.48), (-0.42, -0.48), (-0.42, 0.42)], fill)
    p.poly([(-0.9, -0.08), (-0.8, -0.38), (-0.52, -0.38), (-0.52, -0.08)], window)
    p.rect(-0.36, -0.78, 1.0, 0.36, fill)
    p.rect(-1.0, 0.3, 1.0, 0.46, fill)
    for x in (-0.7, 0.4, 0.74):
        p.circle((x, 0.5), 0.19, fill)


def _exclamation(p: _Pen, fill):
    p.poly([(-0.17, -0.95), (0.17, -0.95), (0.09, 0.4), (-0.09, 0.4)], fill)
    p.circle((0.0, 0.74), 0.16, fill)


def _crossroad(p: _Pen, fill):
    p.poly([(-0.1, -0.95), (0.1, -0.95), (0.24, 0.95), (-0.24, 0.95)], fill)
    p.rect(-0.68, -0.22, 0.68, -0.06, fill)


def _curve(p: _Pen, fill):  # bends to the left; mirror for right
    pts = np.vstack([[(0.3, 0.95)], _arc((-0.25, 0.05), 0.55, 0, -90), [(-0.9, -0.5)]])
    p.arrow(pts, 0.26, 0.62, 0.5, fill)


def _double_curve(p: _Pen, fill):  # first to the left
    u = np.linspace(0, 1, 60)
    pts = np.stack([0.12 - 0.42 * np.sin(2 * np.pi * u * 0.9), 0.95 - 1.75 * u], 1)
    p.arrow(pts, 0.24, 0.58, 0.42, fill)


def _bumps(p: _Pen, fill):
    x = np.linspace(-0.95, 0.95, 80)
    top = 0.45 - 0.5 * np.clip(np.cos((np.abs(x) - 0.45) / 0.36 * np.pi / 2), 0, None) ** 1.5 * (np.abs(np.abs(x) - 0.45) < 0.36)
    pts = np.vstack([np.stack([x, top], 1), [(0.95, 0.8), (-0.95, 0.8)]])
    p.poly(pts, fill)


def _slippery(p: _Pen, fill):
    _car_rear(p.sub(0.0, -0.42, 0.52, angle=-12), fill)
    for x0 in (-0.45, 0.25):
        t = np.linspace(0, 1, 30)
        pts = np.stack([x0 + 0.22 * t + 0.16 * np.sin(t * 2 * np.pi), 0.95 - 0.7 * t], 1)
        p.line(pts, 0.11, fill)


def _narrows_right(p: _Pen, fill):
    p.line([(-0.42, 0.95), (-0.42, -0.95)], 0.2, fill, caps=False)
    p.line([(0.42, 0.95), (0.42, 0.25), (0.08, -0.25), (0.08, -0.95)], 0.2, fill, caps=False)


def _road_work(p: _Pen, fill):
    p.circle((-0.22, -0.72), 0.17, fill)
    p.line([(-0.28, -0.45), (-0.05, 0.2)], 0.3, fill)
    p.line([(-0.05, 0.2), (-0.42, 0.92)], 0.2, fill)
    p.line([(-0.02, 0.2), (0.22, 0.92)], 0.2, fill)
    p.line([(-0.2, -0.35), (0.4, 0.15)], 0.14, fill)  # arms and shovel handle
    p.line([(0.35, 0.1), (0.55, 0.42)], 0.08, fill)
    p.poly([(0.45, 0.38), (0.7, 0.3), (0.72, 0.55), (0.55, 0.6)], fill)
    p.poly([(0.3, 0.95), (0.72, 0.62), (0.98, 0.95)], fill)  # heap


def _traffic_light(p: _Pen, fill):
    p.rounded_poly([(-0.26, -0.86), (0.26, -0.86), (0.26, 0.86), (-0.26, 0.86)], 0.1, fill)
    for y, colour in ((-0.56, RED), (0.0, AMBER), (0.56, GREEN)):
        p.circle((0.0, y), 0.21, colour)


def _person(p: _Pen, fill):
    p.circle((0.08, -0.76), 0.18, fill)
    p.line([(0.03, -0.5), (-0.06, 0.12)], 0.3, fill)
    p.line([(-0.06, 0.1), (-0.42, 0.92)], 0.2, fill)
    p.line([(-0.04, 0.1), (0.32, 0.92)], 0.2, fill)
    p.line([(0.02, -0.42), (-0.36, 0.08)], 0.15, fill)
    p.line([(0.04, -0.42), (0.36, 0.02)], 0.15, fill)


def _children(p: _Pen, fill):
    _person(p.sub(-0.42, -0.02, 0.55), fill)
    _person(p.sub(0.42, 0.16, 0.46), fill)
    p.line([(-0.22, 0.0), (0.25, 0.1)], 0.08, fill)


def _bicycle(p: _Pen, fill):
    for x in (-0.55, 0.55):
        p.ring((x, 0.45), 0.34, 0.1, fill)
    p.line([(-0.55, 0.45), (-0.05, 0.45), (0.3, -0.12), (-0.25, -0.12), (-0.55, 0.45)], 0.09, fill, caps=False)
    p.line([(-0.05, 0.45), (-0.3, -0.28)], 0.09, fill)  # seat tube
    p.line([(0.3, -0.12), (0.55, 0.45)], 0.09, fill)  # fork
    p.line([(0.3, -0.12), (0.24, -0.35), (0.42, -0.38)], 0.08, fill)  # handlebar
    p.circle((0.0, -0.86), 0.14, fill)  # rider
    p.line([(-0.08, -0.68), (-0.28, -0.28)], 0.2, fill)
    p.line([(-0.12, -0.6), (0.3, -0.36)], 0.1, fill)
    p.line([(-0.28, -0.28), (0.02, 0.1), (-0.05, 0.45)], 0.12, fill)


def _snowflake(p: _Pen, fill):
    for k in range(3):
        a = math.radians(90 + 60 * k)
        d = np.array([math.cos(a), math.sin(a)])
        p.line([d * -0.92, d * 0.92], 0.11, fill)
        for sgn in (-1, 1):
            q = d * sgn * 0.55
            for b in (-1, 1):
                ang = a + (0 if sgn > 0 else math.pi) + b * math.radians(45)
                p.line([q, q + 0.3 * np.array([math.cos(ang), math.sin(ang)])], 0.09, fill)


def _deer(p: _Pen, fill):
    p.ellipse((-0.05, 0.05), 0.52, 0.2, fill, angle=-28)
    p.line([(0.3, -0.12), (0.5, -0.55)], 0.17, fill)  # neck
    p.ellipse((0.62, -0.58), 0.17, 0.09, fill, angle=25)  # head
    p.line([(0.5, -0.64), (0.38, -0.95)], 0.06, fill)  # antlers
    p.line([(0.56, -0.66), (0.6, -0.95)], 0.06, fill)
    p.line([(0.3, 0.0), (0.62, 0.3), (0.92, 0.26)], 0.09, fill)  # front legs, stretched
    p.line([(0.22, 0.05), (0.45, 0.42), (0.7, 0.5)], 0.09, fill)
    p.line([(-0.42, 0.28), (-0.75, 0.55), (-0.98, 0.88)], 0.1, fill)  # hind legs
    p.line([(-0.35, 0.3), (-0.58, 0.7), (-0.82, 0.95)], 0.1, fill)
    p.line([(-0.5, 0.15), (-0.68, 0.02)], 0.07, fill)  # tail


def _stripes(p: _Pen, fill=DARK, n=5, spacing=0.09, w=0.045, r=0.94):
    """Thin parallel stripes from bottom-left to top-right across a disc of radius r."""
    d = np.array([1.0, -1.0]) / math.sqrt(2)
    o = np.array([1.0, 1.0]) / math.sqrt(2)
    for k in range(n):
        off = (k - (n - 1) / 2) * spacing
        half = math.sqrt(max(r * r - off * off, 0.0))
        p.line([o * off - d * half, o * off + d * half], w, fill, caps=False)


def _arrow_up(p: _Pen, fill):
    p.arrow([(0.0, 0.78), (0.0, -0.78)], 0.26, 0.7, 0.5, fill)


def _arrow_turn(p: _Pen, fill):  # up, then turning right
    pts = np.vstack([[(-0.28, 0.78)], _arc((0.17, 0.05), 0.45, 180, 270), [(0.8, -0.4)]])
    p.arrow(pts, 0.26, 0.66, 0.44, fill)


def _arrow_straight_or(p: _Pen, fill):  # straight or right
    p.arrow([(-0.22, 0.8), (-0.22, -0.8)], 0.24, 0.58, 0.42, fill)
    pts = np.vstack([[(-0.22, 0.45)], _arc((0.2, 0.45), 0.42, 180, 270), [(0.82, 0.03)]])
    p.arrow(pts, 0.24, 0.58, 0.42, fill)


def _arrow_keep(p: _Pen, fill):  # keep right: pointing down-right
    p.arrow([(-0.55, -0.55), (0.58, 0.58)], 0.26, 0.7, 0.5, fill)


def _roundabout(p: _Pen, fill):
    for k in range(3):
        a0 = 120 * k + 100
        p.arrow(_arc((0.0, 0.0), 0.58, a0, a0 - 80), 0.22, 0.5, 0.32, fill)


# --------------------------------------------------------------------------- sign templates


def _tri_vertices(up: bool, inset: float) -> np.ndarray:
    """Equilateral triangle filling a 2 x 1.732 canvas (margin 3 %), sides moved in by inset."""
    s = 1.94
    h = s * _TRI_H
    if up:
        v = np.array([(0.0, -h / 2), (s / 2, h / 2), (-s / 2, h / 2)])
    else:
        v = np.array([(-s / 2, -h / 2), (s / 2, -h / 2), (0.0, h / 2)])
    c = v.mean(axis=0)
    rho = s / (2 * math.sqrt(3))
    return c + (v - c) * (rho - inset) / rho


def _triangle(p: _Pen, up: bool, rim: float):
    for colour, inset, r in ((WHITE, 0.0, 0.09), (RED, 0.028, 0.07), (WHITE, rim, 0.03)):
        p.rounded_poly(_tri_vertices(up, inset + r), r, colour)


def _disc(p: _Pen, layers):
    for colour, r in layers:
        p.circle((0.0, 0.0), r, colour)


_PROHIBITORY = ((WHITE, 0.97), (RED, 0.945), (WHITE, 0.72))
_MANDATORY = ((WHITE, 0.97), (BLUE, 0.93))
_END = ((GREY, 0.97), (WHITE, 0.945))
_SPEED = {0: "20", 1: "30", 2: "50", 3: "60", 4: "70", 5: "80", 7: "100", 8: "120"}
_WARNING = {
    11: _crossroad, 18: _exclamation, 21: _double_curve, 22: _bumps, 23: _slippery,
    24: _narrows_right, 25: _road_work, 26: _traffic_light, 27: _person, 28: _children,
    29: _bicycle, 30: _snowflake, 31: _deer,
}


def _draw_sign(cls: int, width: int) -> Image.Image:
    """The sign of class ``cls`` on a transparent RGBA canvas ``width`` pixels wide."""
    triangle = cls in _WARNING or cls in (13, 19, 20)
    height = round(width * _TRI_H) if triangle else width
    im = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    p = _Pen(im)
    if triangle:
        up = cls != 13
        _triangle(p, up, rim=0.2 if up else 0.26)
        if up:
            pic = p.sub(0.0, 0.29, 0.35)
            if cls == 19:
                _curve(pic, BLACK)
            elif cls == 20:
                _curve(pic.sub(mirror=True), BLACK)
            else:
                _WARNING[cls](pic, BLACK)
    elif cls in _SPEED:
        _disc(p, _PROHIBITORY)
        text = _SPEED[cls]
        p.text(text, (0.0, 0.0), 1.02 if len(text) == 2 else 1.2, 0.72 if len(text) == 2 else 0.64, BLACK)
    elif cls == 6:
        _disc(p, _END)
        p.text("80", (0.0, 0.0), 1.0, 0.7, GREY)
        _stripes(p)
    elif cls in (9, 10):
        _disc(p, _PROHIBITORY)
        if cls == 9:
            _car_rear(p.sub(-0.34, 0.02, 0.28), RED)
        else:
            _truck_rear(p.sub(-0.32, -0.02, 0.3), RED)
        _car_rear(p.sub(0.36, 0.06, 0.25), BLACK)
    elif cls in (41, 42):
        _disc(p, _END)
        if cls == 41:
            _car_rear(p.sub(-0.34, 0.02, 0.28), GREY, window=WHITE)
        else:
            _truck_rear(p.sub(-0.32, -0.02, 0.3), GREY)
        _car_rear(p.sub(0.36, 0.06, 0.25), GREY, window=WHITE)
        _stripes(p)
    elif cls == 12:
        d = np.array([(0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0)])
        p.poly(d * 0.98, DARK)
        p.poly(d * 0.94, WHITE)
        p.poly(d * 0.58, YELLOW)
    elif cls == 14:
        a = np.radians(22.5 + 45 * np.arange(8))
        octagon = np.stack([np.cos(a), np.sin(a)], 1)
        p.poly(octagon * 0.98, WHITE)
        p.poly(octagon * 0.92, RED)
        p.text("STOP", (0.0, 0.0), 1.36, 0.5, WHITE)
    elif cls == 15:
        _disc(p, _PROHIBITORY)
    elif cls == 16:
        _disc(p, _PROHIBITORY)
        _truck_side(p.sub(0.0, 0.05, 0.5), BLACK)
    elif cls == 17:
        _disc(p, ((WHITE, 0.97), (RED, 0.945)))
        p.rect(-0.66, -0.16, 0.66, 0.16, WHITE)
    elif cls == 32:
        _disc(p, _END)
        _stripes(p, n=6, spacing=0.075, w=0.05)
    else:  # blue mandatory signs 33-40
        _disc(p, _MANDATORY)
        q = p.sub(0.0, 0.0, 0.78)
        {
            33: lambda: _arrow_turn(q, WHITE),
            34: lambda: _arrow_turn(q.sub(mirror=True), WHITE),
            35: lambda: _arrow_up(q, WHITE),
            36: lambda: _arrow_straight_or(q, WHITE),
            37: lambda: _arrow_straight_or(q.sub(mirror=True), WHITE),
            38: lambda: _arrow_keep(q, WHITE),
            39: lambda: _arrow_keep(q.sub(mirror=True), WHITE),
            40: lambda: _roundabout(q, WHITE),
        }[cls]()
    return im


@lru_cache(maxsize=4 * N_CLASSES)
def _template(cls: int, size: int) -> Image.Image:
    """Premultiplied-alpha ("RGBa") template of class ``cls``, ``size`` x ``size`` pixels."""
    hi = max(_TEMPLATE_HI, 4 * size)
    im = _draw_sign(cls, hi).convert("RGBa")
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
    font = _font(False).font_variant(size=11)
    side = size * zoom
    cell_w, caption_h, gap = max(side + 10, 150), 30, 6
    nrows = -(-N_CLASSES // ncols)
    title_h = 26
    sheet = Image.new("RGB", (ncols * cell_w, title_h + nrows * (side + caption_h + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 6), f"SynSigns: one sample per GTSRB class ({size}x{size}, seed {seed}, shown x{zoom})",
              font=_font(True).font_variant(size=13), fill=(0, 0, 0))
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
