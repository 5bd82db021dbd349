"""Where the windows of a convolution or a pooling lie: the output-size rule, the named
record of a window geometry, and the checks of kernel, stride and padding arguments.

Shared by :mod:`~minigrad.ops.conv`, :mod:`~minigrad.ops.pool` and
:mod:`~minigrad.ops.conv_maxpool`, and by model builders that need a layer's output size.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConvGeometry", "conv_output_size", "conv_geometry", "pair"]


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Number of window positions along one axis: ``floor((size + 2p - k) / s) + 1``.

    The floor rule: trailing rows or columns that fit no whole window are left out. The
    one place this formula is written.
    """
    return (size + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True)
class ConvGeometry:
    """The windows of a 2-D convolution or pooling over an NCHW input.

    ``x_shape`` is the input's (N, C, H, W); the window is ``kh x kw``, moved by the stride
    ``(sh, sw)`` over the input zero-padded by ``(ph, pw)`` on each side, which gives an
    ``oh x ow`` output per image and channel.
    """

    x_shape: tuple
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    oh: int
    ow: int

    @classmethod
    def of(cls, x_shape, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int) -> "ConvGeometry":
        """The geometry of valid arguments (see :func:`conv_geometry` for the checks)."""
        h, w = x_shape[2], x_shape[3]
        return cls(tuple(x_shape), kh, kw, sh, sw, ph, pw,
                   conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw))


def pair(value, what: str, op: str) -> tuple:
    """An int or a pair of ints -> a pair of Python ints (height, width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
        a, b = value
    else:
        a = b = value
    try:
        if int(a) != a or int(b) != b:
            raise TypeError
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {value!r}") from None
    return int(a), int(b)


def conv_geometry(op: str, x_shape, kh: int, kw: int, stride, padding) -> ConvGeometry:
    """Check a ``kh x kw`` kernel, ``stride`` and ``padding`` (ints or pairs) against an
    NCHW input shape, naming ``op`` in any error; return the geometry."""
    sh, sw = pair(stride, "stride", op)
    ph, pw = pair(padding, "padding", op)
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride must be a positive integer, got {stride!r} "
                         f"(input shape {tuple(x_shape)})")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding!r} "
                         f"(input shape {tuple(x_shape)})")
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: kernel size must be positive, got {kh}x{kw}")
    check_window_fits(op, x_shape, kh, kw, ph, pw, padding)
    return ConvGeometry.of(x_shape, kh, kw, sh, sw, ph, pw)


def check_window_fits(op: str, x_shape, kh: int, kw: int, ph: int, pw: int, padding) -> None:
    """A ValueError naming ``op`` when a ``kh x kw`` window is larger than the padded input."""
    h, w = x_shape[2], x_shape[3]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"{op}: kernel {kh}x{kw} is larger than the padded input "
                         f"{h + 2 * ph}x{w + 2 * pw} (input shape {tuple(x_shape)}, "
                         f"padding {padding!r})")
