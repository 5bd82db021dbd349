"""The fonts SynNumbers are rendered from: found, validated, fingerprinted.

:func:`find_fonts` gathers matplotlib's bundled faces (:data:`DEFAULT_FONT_NAMES`) and any
fonts of the caller's folders; :func:`validate_font` rejects, with a :class:`DatasetError`
naming the file, a font that cannot be opened, lacks a glyph for some digit in its character
map, draws no ink for a digit or draws two digits identically (a "missing glyph" box).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._io import DatasetError

__all__ = ["DEFAULT_FONT_NAMES", "FONT_SUFFIXES", "BASE_PT", "default_font_paths",
           "validate_font", "find_fonts", "fonts_fingerprint"]

BASE_PT = 56  # font size of the master rendering; the affine warp does the real scaling
_DIGITS = "0123456789"
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")

#: matplotlib's fonts with usable digits. Left out: the Display faces and the STIX
#: "NonUni"/"Siz" fonts (no digits), LastResort (a box for every character), cmsy10/cmex10
#: (they map the digit code points to maths symbols) and cmmi10 (old-style digits).
DEFAULT_FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmti10.ttf",
)


# --------------------------------------------------------------------------- fonts


def default_font_paths() -> list[Path]:
    """The bundled matplotlib fonts of :data:`DEFAULT_FONT_NAMES` present in this install."""
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    paths = [root / name for name in DEFAULT_FONT_NAMES if (root / name).is_file()]
    if not paths:
        raise DatasetError(f"{root}: none of matplotlib's bundled fonts found")
    return paths


def _font_cmap(path: Path) -> set[int] | None:
    """Code points of the font's best character map (None when fontTools is unavailable)."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools comes with matplotlib
        return None
    try:
        with TTFont(str(path), lazy=True, fontNumber=0) as tt:
            cmap = tt.getBestCmap()
    except Exception as exc:  # fontTools raises many kinds of errors on bad files
        raise DatasetError(f"{path}: not a readable TrueType/OpenType font ({exc})") from exc
    return set(cmap or ())


def _digit_masks(font: ImageFont.FreeTypeFont) -> list[np.ndarray]:
    masks = []
    for d in _DIGITS:
        im = Image.new("L", (2 * BASE_PT, 2 * BASE_PT), 0)
        ImageDraw.Draw(im).text((BASE_PT // 2, BASE_PT // 4), d, font=font, fill=255)
        masks.append(np.asarray(im))
    return masks


@lru_cache(maxsize=256)
def _validated(path_str: str, mtime_ns: int, size: int) -> ImageFont.FreeTypeFont:
    path = Path(path_str)
    try:
        font = ImageFont.truetype(path_str, BASE_PT)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable TrueType/OpenType font ({exc})") from exc
    cmap = _font_cmap(path)
    if cmap is not None:
        missing = [d for d in _DIGITS if ord(d) not in cmap]
        if missing:
            raise DatasetError(
                f"{path}: font has no glyph for digit(s) {' '.join(missing)} in its character map"
            )
    masks = _digit_masks(font)
    blank = [d for d, m in zip(_DIGITS, masks) if not m.any()]
    if blank:
        raise DatasetError(f"{path}: font draws nothing for digit(s) {' '.join(blank)}")
    seen: dict[bytes, str] = {}
    for d, m in zip(_DIGITS, masks):
        key = m.tobytes()
        if key in seen:
            raise DatasetError(
                f"{path}: font draws digits {seen[key]} and {d} identically "
                "(placeholder glyphs, not real digits)"
            )
        seen[key] = d
    return font


def validate_font(path: str | os.PathLike) -> ImageFont.FreeTypeFont:
    """Open ``path`` and check that it draws the ten digits; return the PIL font.

    Raises :class:`DatasetError` naming the file when it is missing or unreadable, when
    its character map lacks a digit, when a digit draws no ink, or when two digits draw
    the same bitmap (a font that shows a placeholder box for every character). A font that
    maps the digit code points to other symbols (e.g. a maths symbol font) cannot be
    detected this way; keep such fonts out of the font directories.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: font file does not exist")
    st = path.stat()
    return _validated(str(path.resolve()), st.st_mtime_ns, st.st_size)


def find_fonts(
    font_dirs: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    include_default: bool = True,
) -> list[Path]:
    """The font files to render with: matplotlib's (unless ``include_default`` is False)
    plus those of ``font_dirs``, each validated with :func:`validate_font`.

    ``font_dirs`` is one path or a list of paths. A path to a font file is used as is and
    must be valid (else :class:`DatasetError` naming it). A directory is searched
    recursively for .ttf/.otf/.ttc files; unusable fonts in it are skipped with a warning
    (system font folders hold symbol fonts), and a directory that yields no usable font
    raises :class:`DatasetError` naming the directory (and the rejected files).
    """
    paths: list[Path] = list(default_font_paths()) if include_default else []
    if font_dirs is None:
        entries: list[Path] = []
    elif isinstance(font_dirs, (str, os.PathLike)):
        entries = [Path(font_dirs)]
    else:
        entries = [Path(p) for p in font_dirs]
    for entry in entries:
        if entry.is_file():
            validate_font(entry)
            paths.append(entry)
            continue
        if not entry.is_dir():
            raise DatasetError(f"{entry}: font directory does not exist")
        candidates = sorted(p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in FONT_SUFFIXES)
        good, rejected = [], []
        for p in candidates:
            try:
                validate_font(p)
            except DatasetError as exc:
                rejected.append(str(exc))
            else:
                good.append(p)
        if not good:
            detail = ("; rejected: " + " | ".join(rejected)) if rejected else ""
            raise DatasetError(
                f"{entry}: font directory holds no usable font "
                f"({'/'.join(FONT_SUFFIXES)} files that draw the digits 0-9){detail}"
            )
        if rejected:
            warnings.warn(f"{entry}: skipped {len(rejected)} unusable font(s): " + " | ".join(rejected))
        paths.extend(good)
    # Keep order, drop duplicates (the same file given twice).
    unique, seen = [], set()
    for p in paths:
        key = str(p.resolve())
        if key not in seen:
            seen.add(key)
            unique.append(p)
    if not unique:
        raise DatasetError("no font to render with: include_default=False and no font_dirs given")
    return unique


def fonts_fingerprint(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
