"""Synthetic data sets: SynDigits (fonts) and SynSigns (procedural GTSRB signs).

Small and fast: a few dozen images per test, tiny random photos as backgrounds, the cache
redirected to tmp_path.
"""
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dann_from_scratch.datasets import syndigits, synsigns
from dann_from_scratch.datasets._io import DatasetError
from dann_from_scratch.datasets.syndigits import find_fonts, load_syndigits, make_syndigits, validate_font
from dann_from_scratch.datasets.synsigns import (
    CLASS_NAMES,
    N_CLASSES,
    load_synsigns,
    make_synsigns,
    sign_template,
    synsigns_preview,
)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache directory."""
    path = tmp_path / "cache"
    monkeypatch.setenv("DANN_CACHE", str(path))
    return path


def smooth_photo(rng, h, w):
    """A random smooth colour image (upsampled noise), like a blurry photo."""
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))


@pytest.fixture
def photos():
    rng = np.random.default_rng(0)
    return [smooth_photo(rng, 60, 90), smooth_photo(rng, 80, 64), smooth_photo(rng, 48, 48)]


@pytest.fixture
def photo_dir(tmp_path, photos):
    d = tmp_path / "photos"
    d.mkdir()
    for i, p in enumerate(photos):
        Image.fromarray(p).save(d / f"p{i}.png")
    return d


def mpl_font(name):
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


def files_under(path: Path):
    return sorted(p.name for p in path.rglob("*") if p.is_file()) if path.exists() else []


# --------------------------------------------------------------------------- SynDigits


def test_syndigits_shapes_dtypes_and_labels():
    images, labels = make_syndigits(30, seed=0)
    assert images.shape == (30, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (30,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() <= 9
    assert images.std() > 10  # not blank


def test_syndigits_deterministic_per_image():
    a, la = make_syndigits(8, seed=3)
    b, lb = make_syndigits(8, seed=3)
    assert a.tobytes() == b.tobytes() and np.array_equal(la, lb)
    c, _ = make_syndigits(8, seed=4)
    assert a.tobytes() != c.tobytes()
    d, ld = make_syndigits(4, seed=3)  # image i does not depend on n
    assert d.tobytes() == a[:4].tobytes() and np.array_equal(ld, la[:4])
    e, _ = make_syndigits(8, seed=3, stream=1)
    assert e.tobytes() != a.tobytes()


def test_syndigits_label_is_the_centre_digit():
    images, labels, meta = make_syndigits(60, seed=1, return_meta=True)
    texts, centre = meta["texts"], meta["centre"]
    assert {len(t) for t in texts} == {1, 2, 3}
    for text, idx, label in zip(texts, centre, labels):
        assert text.isdigit() and 1 <= len(text) <= 3
        assert label == int(text[idx])
        if len(text) % 2 == 1:
            assert idx == len(text) // 2  # the middle character
        else:
            assert idx in (0, 1)


def test_syndigits_centre_digit_is_near_the_centre():
    # Ink of one-digit images (background/foreground differ in luminance) is centred.
    images, labels, meta = make_syndigits(40, seed=2, return_meta=True)
    offsets = []
    for img, text in zip(images, meta["texts"]):
        if len(text) != 1:
            continue
        g = img.astype(float) @ [0.299, 0.587, 0.114]
        bg_level = np.median(np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]]))
        ink = np.abs(g - bg_level) > 30
        ys, xs = np.nonzero(ink)
        offsets.append(np.hypot(xs.mean() - 15.5, ys.mean() - 15.5))
    assert offsets and np.median(offsets) < 6


def test_default_fonts_are_valid():
    paths = find_fonts()
    assert len(paths) >= 10
    for p in paths[:3]:
        validate_font(p)


def test_font_without_digits_is_rejected_naming_the_file(tmp_path):
    bad = tmp_path / "nodigits.ttf"
    shutil.copy(mpl_font("STIXSizTwoSymBol.ttf"), bad)  # a maths font with no digit glyphs
    with pytest.raises(DatasetError, match="nodigits.ttf.*digit"):
        validate_font(bad)
    with pytest.raises(DatasetError, match="nodigits.ttf"):
        make_syndigits(2, font_dirs=bad)


def test_placeholder_font_is_rejected(tmp_path):
    # LastResort maps every character to a box: digits are drawn identically.
    with pytest.raises(DatasetError, match="LastResortHE-Regular.ttf.*identical"):
        validate_font(mpl_font("LastResortHE-Regular.ttf"))


def test_broken_font_file_is_rejected_naming_the_file(tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"\x00\x01\x00\x00" + b"garbage" * 20)
    with pytest.raises(DatasetError, match="broken.ttf"):
        validate_font(broken)
    with pytest.raises(DatasetError, match="broken.ttf"):
        load_syndigits("train", n=2, font_dirs=[broken])


def test_font_dir_errors_name_the_directory(tmp_path):
    empty = tmp_path / "empty_fonts"
    empty.mkdir()
    (empty / "readme.txt").write_text("no fonts here")
    with pytest.raises(DatasetError, match="empty_fonts.*no usable font"):
        find_fonts(empty)
    only_bad = tmp_path / "bad_fonts"
    only_bad.mkdir()
    (only_bad / "junk.otf").write_bytes(b"OTTO" + b"\x00" * 50)
    with pytest.raises(DatasetError, match="bad_fonts.*junk.otf"):
        make_syndigits(1, font_dirs=only_bad)
    with pytest.raises(DatasetError, match="missing_dir"):
        find_fonts(tmp_path / "missing_dir")


def test_font_dir_adds_fonts_and_changes_the_cache_key(tmp_path, cache):
    extra = tmp_path / "fonts"
    (extra / "sub").mkdir(parents=True)
    shutil.copy(mpl_font("DejaVuSans.ttf"), extra / "sub" / "MyFont.ttf")
    shutil.copy(mpl_font("STIXSizTwoSymBol.ttf"), extra / "symbols.ttf")  # skipped, warned
    with pytest.warns(UserWarning, match="symbols.ttf"):
        paths = find_fonts(extra)
    assert paths[-1].name == "MyFont.ttf" and len(paths) == len(find_fonts()) + 1
    only = find_fonts(extra / "sub", include_default=False)
    assert [p.name for p in only] == ["MyFont.ttf"]
    load_syndigits("test", n=3)
    with pytest.warns(UserWarning):
        load_syndigits("test", n=3, font_dirs=extra)
    assert len(files_under(cache / "syndigits")) == 2


def test_load_syndigits_uses_the_cache(cache, monkeypatch):
    images, labels = load_syndigits("train", n=6, seed=5)
    assert images.shape == (6, 32, 32, 3) and labels.dtype == np.int64
    assert np.array_equal(images, make_syndigits(6, seed=5)[0])  # train = stream 0
    files = files_under(cache / "syndigits")
    assert len(files) == 1 and files[0].endswith(".npz") and "n6" in files[0]

    def fail(*a, **k):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(syndigits, "make_syndigits", fail)
    again, labels2 = load_syndigits("train", n=6, seed=5)
    assert again.tobytes() == images.tobytes() and np.array_equal(labels, labels2)


def test_syndigits_splits_differ():
    train, _ = load_syndigits("train", n=4)
    test, _ = load_syndigits("test", n=4)
    assert train.tobytes() != test.tobytes()
    with pytest.raises(ValueError):
        load_syndigits("valid", n=4)


def test_syndigits_failed_generation_leaves_no_file(cache, monkeypatch):
    real, calls = syndigits._render, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("interrupted")
        return real(*args, **kwargs)

    monkeypatch.setattr(syndigits, "_render", flaky)
    with pytest.raises(RuntimeError, match="interrupted"):
        load_syndigits("train", n=10)
    assert files_under(cache) == []  # neither a .npz nor a temporary file


# --------------------------------------------------------------------------- SynSigns


def test_class_names():
    assert len(CLASS_NAMES) == N_CLASSES == 43
    assert CLASS_NAMES[14] == "stop" and CLASS_NAMES[13] == "yield"
    assert "priority" in CLASS_NAMES[12] and "roundabout" in CLASS_NAMES[40]


def test_synsigns_shapes_balance_and_coverage(photos):
    images, labels = make_synsigns(86, seed=0, photos=photos)
    assert images.shape == (86, 40, 40, 3) and images.dtype == np.uint8
    assert labels.shape == (86,) and labels.dtype == np.int64
    assert np.array_equal(np.bincount(labels, minlength=43), np.full(43, 2))
    _, labels50 = make_synsigns(50, seed=1, photos=photos, size=16)
    counts = np.bincount(labels50, minlength=43)
    assert counts.min() >= 1 and counts.max() - counts.min() <= 1


def test_synsigns_size_and_determinism(photos):
    a, la = make_synsigns(10, seed=7, photos=photos, size=32)
    assert a.shape == (10, 32, 32, 3)
    b, lb = make_synsigns(10, seed=7, photos=photos, size=32)
    assert a.tobytes() == b.tobytes() and np.array_equal(la, lb)
    c, _ = make_synsigns(10, seed=8, photos=photos, size=32)
    assert a.tobytes() != c.tobytes()
    with pytest.raises(ValueError, match="photos"):
        make_synsigns(2, photos=[])


def test_sign_templates_are_distinct_and_mirrored_where_they_should_be():
    t = np.stack([sign_template(c, 40).astype(float) for c in range(43)])
    assert t.shape == (43, 40, 40, 4)
    assert (t[..., 3] > 128).mean(axis=(1, 2)).min() > 0.35  # each sign covers its square
    flat = t.reshape(43, -1)
    dist = np.abs(flat[:, None] - flat[None]).mean(-1)
    assert dist[~np.eye(43, dtype=bool)].min() > 1.0  # no two classes drawn alike
    for right, left in ((20, 19), (33, 34), (36, 37), (38, 39)):
        assert np.abs(t[right][:, ::-1] - t[left]).mean() < 0.25 * dist[right, left]
    # colours: stop is mostly red, mandatory signs blue, priority road has yellow
    red = lambda c: ((t[c][..., 0] > 150) & (t[c][..., 2] < 90)).mean()
    assert red(14) > 0.4 and red(17) > 0.4
    assert ((t[35][..., 2] > 130) & (t[35][..., 0] < 80)).mean() > 0.4
    assert ((t[12][..., 0] > 200) & (t[12][..., 2] < 80)).mean() > 0.1


def test_load_synsigns_cache_and_failure(cache, photo_dir, monkeypatch):
    images, labels = load_synsigns("test", n=5, seed=2, photo_dir=photo_dir, size=24)
    assert images.shape == (5, 24, 24, 3) and labels.dtype == np.int64
    assert len(files_under(cache / "synsigns")) == 1

    monkeypatch.setattr(synsigns, "make_synsigns", lambda *a, **k: pytest.fail("cache not used"))
    again, _ = load_synsigns("test", n=5, seed=2, photo_dir=photo_dir, size=24)
    assert again.tobytes() == images.tobytes()
    monkeypatch.undo()
    monkeypatch.setenv("DANN_CACHE", str(cache))

    def broken(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(synsigns, "_render", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        load_synsigns("train", n=5, seed=2, photo_dir=photo_dir, size=24)
    assert len(files_under(cache / "synsigns")) == 1  # only the earlier, complete file


def test_synsigns_preview_is_written(tmp_path, photos):
    path = synsigns_preview(tmp_path / "sheet.png", seed=0, photos=photos)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size < 200_000
    with Image.open(path) as im:
        assert im.width > 400 and im.height > 300
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
