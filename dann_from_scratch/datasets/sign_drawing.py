"""Drawing the 43 GTSRB sign classes from geometric primitives: :func:`draw_sign`.

Signs are drawn with ``PIL.ImageDraw`` in "sign coordinates" (x in [-1, 1] across the
canvas, y down, the same scale; :class:`_Pen`), each pictogram in its own [-1, 1] box nested
with a similarity transform. Shapes and colours follow the German signs of GTSRB (see
:mod:`~dann_from_scratch.datasets.synsigns`, which renders images from these drawings).
No picture of a real sign is used.

The file is a little over the project's ~450 lines on purpose: it is the pen, the
pictograms and the table of 43 signs, each drawing a short list of coordinates that reads
best beside the primitives it calls; split, a reader would flip between files to see a sign.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._io import DatasetError

__all__ = ["draw_sign", "sign_font"]

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
        font = sign_font(bold)
        left, top, right, bottom = font.getbbox(text)
        mask = Image.new("L", (right - left + 4, bottom - top + 4), 0)
        ImageDraw.Draw(mask).text((2 - left, 2 - top), text, font=font, fill=255)
        mask = mask.crop(mask.getbbox())
        (cx, cy), ww, hh = self.px([c])[0], max(1, round(self.length(w))), max(1, round(self.length(h)))
        mask = mask.resize((ww, hh), Image.LANCZOS)
        self.image.paste(fill, (round(cx - ww / 2), round(cy - hh / 2)), mask)


@lru_cache(maxsize=2)
def sign_font(bold: bool) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (bold or regular) at 200 pt, the font matplotlib ships: the numbers on
    the signs and the captions of the preview sheet."""
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


def draw_sign(cls: int, width: int) -> Image.Image:
    """The sign of GTSRB class ``cls`` on a transparent RGBA canvas ``width`` pixels wide
    (triangles on a canvas of their own aspect, 1 : 0.866)."""
    triangle = cls in _WARNING or cls in (13, 19, 20)
    height = round(width * _TRI_H) if triangle else width
    im = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    p = _Pen(im)
    if triangle:
        _warning_or_yield(p, cls)
    elif cls in _MANDATORY_ARROWS:
        _disc(p, _MANDATORY)
        _MANDATORY_ARROWS[cls](p.sub(0.0, 0.0, 0.78))
    else:
        _ROUND_AND_OTHER[cls](p)
    return im


def _warning_or_yield(p: _Pen, cls: int) -> None:
    """Warning triangles (pictogram in the lower part) and the inverted yield triangle."""
    up = cls != 13
    _triangle(p, up, rim=0.2 if up else 0.26)
    if not up:
        return
    pic = p.sub(0.0, 0.29, 0.35)
    if cls == 19:
        _curve(pic, BLACK)
    elif cls == 20:
        _curve(pic.sub(mirror=True), BLACK)
    else:
        _WARNING[cls](pic, BLACK)


def _speed_limit(p: _Pen, text: str) -> None:
    _disc(p, _PROHIBITORY)
    p.text(text, (0.0, 0.0), 1.02 if len(text) == 2 else 1.2, 0.72 if len(text) == 2 else 0.64,
           BLACK)


def _end_of_speed_limit(p: _Pen) -> None:
    _disc(p, _END)
    p.text("80", (0.0, 0.0), 1.0, 0.7, GREY)
    _stripes(p)


def _no_passing(p: _Pen, trucks: bool) -> None:
    _disc(p, _PROHIBITORY)
    if trucks:
        _truck_rear(p.sub(-0.32, -0.02, 0.3), RED)
    else:
        _car_rear(p.sub(-0.34, 0.02, 0.28), RED)
    _car_rear(p.sub(0.36, 0.06, 0.25), BLACK)


def _end_of_no_passing(p: _Pen, trucks: bool) -> None:
    _disc(p, _END)
    if trucks:
        _truck_rear(p.sub(-0.32, -0.02, 0.3), GREY)
    else:
        _car_rear(p.sub(-0.34, 0.02, 0.28), GREY, window=WHITE)
    _car_rear(p.sub(0.36, 0.06, 0.25), GREY, window=WHITE)
    _stripes(p)


def _priority_road(p: _Pen) -> None:
    d = np.array([(0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0)])
    p.poly(d * 0.98, DARK)
    p.poly(d * 0.94, WHITE)
    p.poly(d * 0.58, YELLOW)


def _stop(p: _Pen) -> None:
    a = np.radians(22.5 + 45 * np.arange(8))
    octagon = np.stack([np.cos(a), np.sin(a)], 1)
    p.poly(octagon * 0.98, WHITE)
    p.poly(octagon * 0.92, RED)
    p.text("STOP", (0.0, 0.0), 1.36, 0.5, WHITE)


def _no_entry(p: _Pen) -> None:
    _disc(p, ((WHITE, 0.97), (RED, 0.945)))
    p.rect(-0.66, -0.16, 0.66, 0.16, WHITE)


def _end_of_all_limits(p: _Pen) -> None:
    _disc(p, _END)
    _stripes(p, n=6, spacing=0.075, w=0.05)


def _vehicles_prohibited(p: _Pen) -> None:
    _disc(p, _PROHIBITORY)
    _truck_side(p.sub(0.0, 0.05, 0.5), BLACK)


#: the signs that are neither triangles nor blue: class -> drawer
_ROUND_AND_OTHER = {
    **{cls: (lambda p, t=text: _speed_limit(p, t)) for cls, text in _SPEED.items()},
    6: _end_of_speed_limit,
    9: lambda p: _no_passing(p, trucks=False),
    10: lambda p: _no_passing(p, trucks=True),
    12: _priority_road,
    14: _stop,
    15: lambda p: _disc(p, _PROHIBITORY),
    16: _vehicles_prohibited,
    17: _no_entry,
    32: _end_of_all_limits,
    41: lambda p: _end_of_no_passing(p, trucks=False),
    42: lambda p: _end_of_no_passing(p, trucks=True),
}
#: the blue mandatory signs: class -> arrow drawer (white, in the disc's own box)
_MANDATORY_ARROWS = {
    33: lambda q: _arrow_turn(q, WHITE),
    34: lambda q: _arrow_turn(q.sub(mirror=True), WHITE),
    35: lambda q: _arrow_up(q, WHITE),
    36: lambda q: _arrow_straight_or(q, WHITE),
    37: lambda q: _arrow_straight_or(q.sub(mirror=True), WHITE),
    38: lambda q: _arrow_keep(q, WHITE),
    39: lambda q: _arrow_keep(q.sub(mirror=True), WHITE),
    40: lambda q: _roundabout(q, WHITE),
}
