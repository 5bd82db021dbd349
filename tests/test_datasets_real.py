"""Loaders of real data sets, MNIST-M generation, two moons and previews, on tiny fixtures.

Everything is built in tmp_path; the cache is redirected there and any use of the network
fails the test.
"""
import gzip
import hashlib
import io
import socket
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dann_from_scratch import datasets as ds
from dann_from_scratch.datasets import _io, mnist, mnistm
from dann_from_scratch.datasets.gtsrb import gtsrb_split_indices, load_gtsrb
from dann_from_scratch.datasets.moons import MOONS_CENTRE, make_two_moons, rotate
from dann_from_scratch.datasets.preview import preview, save_grid
from dann_from_scratch.datasets.svhn import load_svhn


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Cache in tmp_path; urlopen and raw sockets fail the test if anything tries them."""
    monkeypatch.setenv("DANN_CACHE", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        pytest.fail(f"test tried to use the network: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    return tmp_path


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory: Path, split: str, images, labels, gz=True) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for base, arr in zip(mnist.MNIST_FILES[split], (images, labels)):
        data = idx_bytes(arr)
        path = directory / (base + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        paths.append(path)
    return paths[0], paths[1]


def tiny_digits(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


class FakeResponse(io.BytesIO):
    """Stands in for what urlopen returns (a readable context manager)."""


def serve(monkeypatch, content_for):
    """Make urlopen answer from ``content_for(url) -> bytes`` and record the URLs asked for."""
    asked = []

    def fake_urlopen(url, timeout=None):
        asked.append(url)
        return FakeResponse(content_for(url))

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return asked


def write_png(path: Path, array: np.ndarray):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# --------------------------------------------------------------------------- MNIST IDX


def test_mnist_reads_gzip_and_raw_idx(tmp_path):
    x_train, y_train = tiny_digits(5, seed=1)
    x_test, y_test = tiny_digits(3, seed=2)
    write_mnist(tmp_path / "d", "train", x_train, y_train, gz=True)
    write_mnist(tmp_path / "d", "test", x_test, y_test, gz=False)
    images, labels = ds.load_mnist("train", data_dir=tmp_path / "d")
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images[..., 0], x_train)
    np.testing.assert_array_equal(labels, y_train)
    images, labels = ds.load_mnist("test", data_dir=tmp_path / "d")
    np.testing.assert_array_equal(images[..., 0], x_test)
    np.testing.assert_array_equal(labels, y_test)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda b: b"\x01" + b[1:], "magic"),
        (lambda b: b[:2] + b"\x09" + b[3:], "data type"),
        (lambda b: b[:-10], "truncated"),
        (lambda b: b + b"\x00\x00", "trailing"),
        (lambda b: b[:6], "truncated IDX header"),
    ],
)
def test_mnist_rejects_malformed_idx(tmp_path, mangle, message):
    x, y = tiny_digits(4)
    images_path, _ = write_mnist(tmp_path / "d", "test", x, y, gz=False)
    images_path.write_bytes(mangle(images_path.read_bytes()))
    with pytest.raises(ds.DatasetError, match=message) as err:
        ds.load_mnist("test", data_dir=tmp_path / "d", download=False)
    assert images_path.name in str(err.value)


def test_mnist_rejects_truncated_gzip(tmp_path):
    x, y = tiny_digits(4)
    images_path, _ = write_mnist(tmp_path / "d", "train", x, y, gz=True)
    images_path.write_bytes(images_path.read_bytes()[:-20])
    with pytest.raises(ds.DatasetError, match="truncated or corrupt gzip") as err:
        ds.load_mnist("train", data_dir=tmp_path / "d", download=False)
    assert images_path.name in str(err.value)


def test_mnist_rejects_label_count_mismatch(tmp_path):
    x, y = tiny_digits(5)
    _, labels_path = write_mnist(tmp_path / "d", "train", x, y[:4])
    with pytest.raises(ds.DatasetError, match="mismatch") as err:
        ds.load_mnist("train", data_dir=tmp_path / "d", download=False)
    assert labels_path.name in str(err.value) and "4 labels" in str(err.value)


def test_mnist_rejects_wrong_dimensions(tmp_path):
    x, y = tiny_digits(2)
    images_path, _ = write_mnist(tmp_path / "d", "test", x, y, gz=False)
    images_path.write_bytes(idx_bytes(x.reshape(2, -1)))  # 2-D instead of 3-D
    with pytest.raises(ds.DatasetError, match="2 dimensions, expected 3"):
        ds.load_mnist("test", data_dir=tmp_path / "d", download=False)


def test_mnist_download_checksum_mismatch_saves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, lambda url: gzip.compress(b"not the real file"))
    with pytest.raises(ds.DatasetError, match="SHA-256") as err:
        ds.load_mnist("test", data_dir=tmp_path / "empty")
    assert "t10k-images-idx3-ubyte.gz" in str(err.value)
    leftovers = list((tmp_path / "cache").rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []


def test_mnist_download_verifies_and_caches(tmp_path, monkeypatch):
    x, y = tiny_digits(3)
    payload = {"t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(x)),
               "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(y))}
    hashes = {k: hashlib.sha256(v).hexdigest() for k, v in payload.items()}
    monkeypatch.setitem(mnist.MNIST_SHA256, "t10k-images-idx3-ubyte.gz", hashes["t10k-images-idx3-ubyte.gz"])
    monkeypatch.setitem(mnist.MNIST_SHA256, "t10k-labels-idx1-ubyte.gz", hashes["t10k-labels-idx1-ubyte.gz"])
    asked = serve(monkeypatch, lambda url: payload[url.rsplit("/", 1)[1]])
    images, labels = ds.load_mnist("test")
    np.testing.assert_array_equal(images[..., 0], x)
    assert len(asked) == 2
    for name, digest in hashes.items():
        _io.verify_sha256(tmp_path / "cache" / "mnist" / name, digest)
    # Second call is served from the cache, without the network.
    images2, _ = ds.load_mnist("test")
    np.testing.assert_array_equal(images, images2)
    assert len(asked) == 2


def test_mnist_without_files_or_network_points_to_mnist5k(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ds.DatasetError, match="mnist5k") as err:
        ds.load_mnist("train", data_dir=tmp_path / "nothing")
    assert "train-images-idx3-ubyte.gz" in str(err.value) and "no network" in str(err.value)
    with pytest.raises(ds.DatasetError, match="mnist5k"):
        ds.load_mnist("train", download=False)


# --------------------------------------------------------------------------- mnist5k


def test_mnist5k_split_is_stratified_deterministic_and_disjoint():
    xtr, ytr = ds.load_mnist5k("train")
    xte, yte = ds.load_mnist5k("test")
    assert xtr.shape == (4000, 28, 28, 1) and xte.shape == (1000, 28, 28, 1)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64
    assert np.bincount(ytr, minlength=10).tolist() == [400] * 10
    assert np.bincount(yte, minlength=10).tolist() == [100] * 10
    train_rows = {r.tobytes() for r in xtr}
    test_rows = {r.tobytes() for r in xte}
    assert not train_rows & test_rows and len(train_rows | test_rows) == 5000
    again, _ = ds.load_mnist5k("test")
    np.testing.assert_array_equal(again, xte)
    other, _ = ds.load_mnist5k("test", seed=1)
    assert not np.array_equal(other, xte)


# --------------------------------------------------------------------------- MNIST-M


def test_mnistm_formula_pixel_for_pixel():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (6, 28, 28, 1), dtype=np.uint8)
    photo = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)  # one possible patch only
    out = ds.make_mnistm(digits, [photo], seed=3)
    assert out.shape == (6, 28, 28, 3) and out.dtype == np.uint8
    for n in range(6):
        for i in range(28):
            for j in range(28):
                for k in range(3):
                    assert out[n, i, j, k] == abs(int(photo[i, j, k]) - int(digits[n, i, j, 0]))


def test_mnistm_binarize_uses_a_full_stroke_wherever_the_digit_is_nonzero():
    rng = np.random.default_rng(5)
    digits = rng.integers(0, 4, (4, 28, 28), dtype=np.uint8)  # many zeros, small grey levels
    photo = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
    out = ds.make_mnistm(digits, [photo], seed=0, binarize=True)
    stroke = digits[..., None] > 0
    expected = np.where(stroke, 255 - photo.astype(np.int16), photo).astype(np.uint8)
    np.testing.assert_array_equal(out, np.broadcast_to(expected, out.shape))
    grey = ds.make_mnistm(digits, [photo], seed=0)  # the default keeps the grey levels
    np.testing.assert_array_equal(grey, np.abs(photo.astype(np.int16) - digits[..., None]).astype(np.uint8))


def test_mnist_binary_is_mnist_thresholded_at_zero(tmp_path):
    """Domain mnist_binary: every pixel above 0 becomes 255, zeros stay, labels unchanged."""
    images, labels = tiny_digits(6, seed=3)
    images[:, :4] = 0                                      # some exact zeros
    images[:, 4:6] = 1                                     # the faintest grey becomes a stroke
    write_mnist(tmp_path / "data" / "mnist", "test", images, labels)
    x, y = ds.load_domain("mnist_binary", "test", data_dir=tmp_path / "data")
    grey, y_grey = ds.load_domain("mnist", "test", data_dir=tmp_path / "data")
    assert x.shape == grey.shape == (6, 28, 28, 1) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[..., 0], np.where(images > 0, 255, 0))
    np.testing.assert_array_equal(y, y_grey)
    assert ds.DOMAINS["mnist_binary"].image_shape == (28, 28, 1)
    with pytest.raises(ValueError, match="threshold_digits: expected uint8"):
        ds.threshold_digits(images.astype(np.float32))


def test_mnistm_patches_come_from_valid_positions():
    rng = np.random.default_rng(1)
    digits = rng.integers(0, 256, (10, 28, 28, 1), dtype=np.uint8)
    photos = [rng.integers(0, 256, (31, 30, 3), dtype=np.uint8),
              rng.integers(0, 256, (29, 33, 3), dtype=np.uint8)]
    out = ds.make_mnistm(digits, photos, seed=0)
    d = digits.astype(np.int16)
    for n in range(10):
        matches = [
            (p, top, left)
            for p, photo in enumerate(photos)
            for top in range(photo.shape[0] - 27)
            for left in range(photo.shape[1] - 27)
            if np.array_equal(out[n], np.abs(photo[top:top + 28, left:left + 28].astype(np.int16) - d[n]))
        ]
        assert matches, f"image {n} is not |patch - digit| for any patch"


def test_mnistm_is_deterministic_for_a_seed():
    rng = np.random.default_rng(2)
    digits = rng.integers(0, 256, (50, 28, 28, 1), dtype=np.uint8)
    photos = [rng.integers(0, 256, (60, 70, 3), dtype=np.uint8) for _ in range(3)]
    a = ds.make_mnistm(digits, photos, seed=7)
    np.testing.assert_array_equal(a, ds.make_mnistm(digits, photos, seed=7))
    assert not np.array_equal(a, ds.make_mnistm(digits, photos, seed=8))


def test_load_mnistm_from_mnist5k_is_cached(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(2):
        write_png(tmp_path / "photos" / f"p{i}.png", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    images, labels = ds.load_mnistm("test", source="mnist5k", photo_dir=tmp_path / "photos")
    assert images.shape == (1000, 28, 28, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, ds.load_mnist5k("test")[1])
    cached = list((tmp_path / "cache" / "mnistm").glob("*.npz"))
    assert len(cached) == 1 and "mnist5k_test_seed0" in cached[0].name
    again, _ = ds.load_domain("mnistm5k", "test", photo_dir=tmp_path / "photos")
    np.testing.assert_array_equal(again, images)


def test_load_mnistm_keeps_the_grey_digit_by_default_and_caches_each_mode_apart(tmp_path):
    rng = np.random.default_rng(4)
    write_png(tmp_path / "photos" / "p.png", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    grey, _ = ds.load_mnistm("test", source="mnist5k", photo_dir=tmp_path / "photos")
    binary, _ = ds.load_mnistm("test", source="mnist5k", photo_dir=tmp_path / "photos", binarize=True)
    digits = ds.load_mnist5k("test")[0]
    photos = ds.load_photos(tmp_path / "photos")
    np.testing.assert_array_equal(binary, ds.make_mnistm(digits, photos, seed=[0, 1], binarize=True))
    np.testing.assert_array_equal(grey, ds.make_mnistm(digits, photos, seed=[0, 1], binarize=False))
    names = sorted(p.name for p in (tmp_path / "cache" / "mnistm").glob("*.npz"))
    assert len(names) == 2 and "_binary_" in names[0] and "_grey_" in names[1]


def test_empty_or_bad_photo_dir_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ds.DatasetError, match="no .jpg") as err:
        ds.load_mnistm("test", source="mnist5k", photo_dir=tmp_path / "empty")
    assert str(tmp_path / "empty") in str(err.value)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ds.DatasetError, match="broken.jpg"):
        ds.load_photos(tmp_path / "bad")


def test_bundled_photos_are_colour_and_large():
    photos = ds.load_photos()
    assert len(photos) >= 5
    for p in photos:
        assert p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8 and min(p.shape[:2]) >= 200
        # Genuinely colour: the channels differ.
        assert np.abs(p[..., 0].astype(int) - p[..., 2]).mean() > 2


def test_official_mnistm_layout(tmp_path):
    root = tmp_path / "mnist_m"
    rng = np.random.default_rng(4)
    imgs = rng.integers(0, 256, (3, 28, 28, 3), dtype=np.uint8)
    for i, img in enumerate(imgs):
        write_png(root / "mnist_m_train" / f"{i:08d}.png", img)
    (root / "mnist_m_train_labels.txt").write_text("00000000.png 5\n00000001.png 0\n00000002.png 9\n")
    images, labels = ds.load_mnistm_official(tmp_path, "train")  # parent folder works too
    np.testing.assert_array_equal(images, imgs)
    assert labels.tolist() == [5, 0, 9] and labels.dtype == np.int64

    (root / "mnist_m_test").mkdir()
    (root / "mnist_m_test_labels.txt").write_text("00000000.png 5\n00000001.png seven\n")
    with pytest.raises(ds.DatasetError, match=r"mnist_m_test_labels.txt:2: bad line"):
        ds.load_mnistm_official(root, "test")
    (root / "mnist_m_test_labels.txt").write_text("missing.png 1\n")
    with pytest.raises(ds.DatasetError, match="missing.png"):
        ds.load_mnistm_official(root, "test")
    with pytest.raises(ds.DatasetError, match="label file missing"):
        ds.load_mnistm_official(tmp_path / "elsewhere", "train")


def test_released_mnistm_is_read_at_its_own_32x32_size(tmp_path):
    """The release's exact layout (mnist_m/ with mnist_m_train/, mnist_m_test/ and the two
    label files, 32x32 RGB PNGs), through load_domain; fit_images brings it to the MNIST net."""
    from dann_from_scratch.pair_data import fit_images

    rng = np.random.default_rng(7)
    base = tmp_path / "mnist_m"
    expected = {}
    for split, n in (("train", 5), ("test", 3)):
        imgs = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        for i, img in enumerate(imgs):
            write_png(base / f"mnist_m_{split}" / f"{i:08d}.png", img)
        (base / f"mnist_m_{split}_labels.txt").write_text(
            "".join(f"{i:08d}.png {(i * 3) % 10}\n" for i in range(n)))
        expected[split] = imgs
    assert ds.DOMAINS["mnistm_official"].image_shape == (32, 32, 3)
    for split in ("train", "test"):
        images, labels = ds.load_domain("mnistm_official", split, data_dir=tmp_path)
        np.testing.assert_array_equal(images, expected[split])
        assert labels.tolist() == [(i * 3) % 10 for i in range(len(images))]
    for mode in ("resize", "pad"):
        fitted = fit_images(images, (3, 28, 28), mode)
        assert fitted.shape == (3, 28, 28, 3) and fitted.dtype == np.uint8
    np.testing.assert_array_equal(fit_images(images, (3, 28, 28), "pad"), images[:, 2:30, 2:30])

    # one odd-sized image is named, with the size the others have
    write_png(base / "mnist_m_test" / "00000002.png", np.zeros((28, 28, 3), np.uint8))
    with pytest.raises(ds.DatasetError, match=r"00000002.png: image is 28x28, but .*00000000.png "
                                              r"is 32x32"):
        ds.load_domain("mnistm_official", "test", data_dir=base)


# --------------------------------------------------------------------------- SVHN


def test_svhn_mat_with_label_10_as_zero(tmp_path):
    import scipy.io

    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, (32, 32, 3, 3), dtype=np.uint8)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": X, "y": np.array([[10], [1], [7]], dtype=np.uint8)})
    images, labels = load_svhn("test", data_dir=tmp_path)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 7] and labels.dtype == np.int64
    np.testing.assert_array_equal(images[2], X[..., 2])

    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": X})
    with pytest.raises(ds.DatasetError, match="'y' missing") as err:
        load_svhn("train", data_dir=tmp_path)
    assert "train_32x32.mat" in str(err.value)


def test_svhn_absent_without_network(tmp_path, monkeypatch):
    with pytest.raises(ds.DatasetError, match="download=False"):
        load_svhn("test", data_dir=tmp_path, download=False)

    def offline(url, timeout=None):
        raise urllib.error.URLError("unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ds.DatasetError, match="could not be downloaded") as err:
        load_svhn("test", data_dir=tmp_path)
    assert "test_32x32.mat" in str(err.value)


# --------------------------------------------------------------------------- GTSRB


GT_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"


def make_gtsrb(root: Path, per_class=10, classes=(0, 1)):
    """Official-layout tree: images 14x12, blue border, ROI (3,2)-(9,8) filled with a class colour."""
    colours = {0: (255, 0, 0), 1: (0, 255, 0)}
    for c in classes:
        folder = root / "GTSRB" / "Final_Training" / "Images" / f"{c:05d}"
        folder.mkdir(parents=True)
        lines = [GT_HEADER]
        for i in range(per_class):
            img = np.zeros((12, 14, 3), dtype=np.uint8)
            img[...] = (0, 0, 255)
            img[2:9, 3:10] = colours[c]  # rows y1..y2, columns x1..x2, inclusive
            name = f"{c:05d}_{i:05d}.ppm"
            Image.fromarray(img).save(folder / name)
            lines.append(f"{name};14;12;3;2;9;8;{c}")
        (folder / f"GT-{c:05d}.csv").write_text("\n".join(lines) + "\n")
    return root / "GTSRB"


def test_gtsrb_crops_roi_and_splits(tmp_path):
    root = make_gtsrb(tmp_path / "data")
    images, labels = load_gtsrb("train", data_dir=root, size=8)
    assert images.shape == (20, 8, 8, 3) and images.dtype == np.uint8
    assert labels.tolist() == [0] * 10 + [1] * 10
    # The crop holds only the ROI colour: no blue from the border leaks in.
    np.testing.assert_array_equal(images[labels == 0], np.broadcast_to([255, 0, 0], (10, 8, 8, 3)))
    np.testing.assert_array_equal(images[labels == 1], np.broadcast_to([0, 255, 0], (10, 8, 8, 3)))
    assert list((tmp_path / "cache" / "gtsrb_decoded").glob("*_8px_*.npz"))

    adapt, ya = load_gtsrb("adapt", data_dir=root / "Final_Training", size=8, seed=0)
    evaluation, ye = load_gtsrb("eval", data_dir=tmp_path / "data", size=8, seed=0)
    assert len(adapt) == 16 and len(evaluation) == 4  # the paper's 31,367 / 39,209 proportion
    ia, ie = gtsrb_split_indices(20, seed=0)
    assert set(ia).isdisjoint(ie) and sorted(set(ia) | set(ie)) == list(range(20))
    np.testing.assert_array_equal(ia, gtsrb_split_indices(20, seed=0)[0])
    assert not np.array_equal(ia, gtsrb_split_indices(20, seed=1)[0])
    a, e = gtsrb_split_indices(39_209, seed=0)
    assert (len(a), len(e)) == (31_367, 7_842)


def test_gtsrb_missing_column_and_file_are_named(tmp_path):
    root = make_gtsrb(tmp_path / "data", per_class=2)
    csv_path = root / "Final_Training" / "Images" / "00001" / "GT-00001.csv"
    text = csv_path.read_text()
    csv_path.write_text("\n".join(";".join(line.split(";")[:-1]) for line in text.splitlines()) + "\n")
    with pytest.raises(ds.DatasetError, match="ClassId") as err:
        load_gtsrb("train", data_dir=root, size=8)
    assert "GT-00001.csv" in str(err.value)

    csv_path.write_text(text)
    (root / "Final_Training" / "Images" / "00001" / "00001_00001.ppm").unlink()
    with pytest.raises(ds.DatasetError, match="00001_00001.ppm.*missing"):
        load_gtsrb("train", data_dir=root, size=8)


def test_gtsrb_test_split_needs_ground_truth(tmp_path):
    root = make_gtsrb(tmp_path / "data", per_class=1)
    test_dir = root / "Final_Test" / "Images"
    test_dir.mkdir(parents=True)
    with pytest.raises(ds.DatasetError, match="GT-final_test.csv"):
        load_gtsrb("test", data_dir=root, size=8)
    Image.fromarray(np.full((12, 14, 3), 255, dtype=np.uint8)).save(test_dir / "00000.ppm")
    (test_dir / "GT-final_test.csv").write_text(GT_HEADER + "\n00000.ppm;14;12;0;0;13;11;42\n")
    images, labels = load_gtsrb("test", data_dir=root, size=8)
    assert images.shape == (1, 8, 8, 3) and labels.tolist() == [42]


# --------------------------------------------------------------------------- two moons


def on_moons(points, labels):
    """Distance of each noise-free point from its moon's arc (upper: centre (0,0); lower: (1,0.5))."""
    centres = np.where(labels[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    return np.abs(np.linalg.norm(points - centres, axis=1) - 1.0)


def test_two_moons_target_is_source_rotated_35_degrees():
    xs, ys, xt, yt = make_two_moons()
    assert xs.shape == xt.shape == (300, 2) and xs.dtype == xt.dtype == np.float32
    assert ys.dtype == yt.dtype == np.int64 and np.bincount(ys).tolist() == [150, 150]
    assert not np.allclose(xs, xt)

    _, _, xt0, yt0 = make_two_moons(noise=0.0, seed=3)
    assert on_moons(rotate(xt0.astype(float), -35), yt0).max() < 1e-5
    assert on_moons(rotate(xt0.astype(float), -30), yt0).max() > 1e-2
    assert np.allclose(rotate(xt0, 0), xt0)
    # Rotation about the centre keeps the spread around it.
    np.testing.assert_allclose(np.linalg.norm(xt0 - MOONS_CENTRE, axis=1).mean(),
                               np.linalg.norm(make_two_moons(noise=0.0)[0] - MOONS_CENTRE, axis=1).mean(),
                               rtol=1e-5)


# --------------------------------------------------------------------------- preview, registry, cache


def test_save_grid_and_preview_write_png(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    path = save_grid(grey, np.arange(5), tmp_path / "g.png", ncols=3, title="grey")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = preview("mnist5k", tmp_path / "sub" / "m5k.png", n=8)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 100


def test_load_domain_registry():
    assert {"mnist", "mnist5k", "mnistm", "mnistm5k", "mnistm_official", "svhn",
            "syndigits", "synsigns", "gtsrb"} <= set(ds.DOMAINS)
    images, labels = ds.load_domain("mnist5k", "test", seed=0)
    assert images.shape == (1000, 28, 28, 1) and labels.dtype == np.int64
    with pytest.raises(ValueError, match="unknown domain"):
        ds.load_domain("usps")
    with pytest.raises(ValueError, match="domain 'gtsrb' has no split 'nope'; choose from"):
        ds.load_domain("gtsrb", "nope")
    # every entry knows its loader, splits, the pair's training/test split and its needs
    for name, domain in ds.DOMAINS.items():
        assert {domain.train_split, domain.test_split} <= set(domain.splits), name
        assert callable(domain.load) and domain.needs, name
        assert not domain.downloads or domain.reads_files, name
    assert (ds.DOMAINS["gtsrb"].train_split, ds.DOMAINS["gtsrb"].test_split) == ("adapt", "eval")
    assert ds.get_domain("mnistm", "train").downloads        # its MNIST digits


def test_failed_build_leaves_no_partial_file(tmp_path):
    target = tmp_path / "cache" / "gen" / "set.npz"

    def build():
        raise RuntimeError("generation interrupted")

    with pytest.raises(RuntimeError):
        _io.cached_arrays(target, build)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []

    # A build that returns something np.savez cannot store fails inside the atomic write.
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot store")

    with pytest.raises(Exception):
        _io.cached_arrays(target, lambda: {"x": np.array([Unpicklable()], dtype=object)})
    assert list(target.parent.iterdir()) == []


def test_datasets_do_not_import_minigrad():
    """The datasets subpackage stays plain NumPy: no module in it imports minigrad's tensors
    or ops; the one file helper it shares, ``minigrad.serialization.atomic_write``, is all."""
    import ast

    for path in Path(ds.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "minigrad" and n != "minigrad.serialization"
                           for n in names), path
