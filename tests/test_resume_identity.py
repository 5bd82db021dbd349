"""A resume continues a run only on the data it was trained on, checked by content (issue 13).

The sidecar of a checkpoint records a fingerprint of each of the five sets the network saw
and what the domains were built from (MNIST-M's photo set, the generator's version); a
``--resume`` on data that differ in any of them is refused with one line naming what
changed, before anything is written. The fixtures are tiny: 80 + 40 MNIST digits in IDX
files and three photos in ``bsds500/train/``.
"""
import gzip
import json
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from dann_from_scratch import checkpoint as ckpt_io
from dann_from_scratch import experiments as ex
from dann_from_scratch.datasets import domain_provenance, mnistm
from dann_from_scratch.errors import ConfigError
from dann_from_scratch.pair_data import data_notes, load_pair_data
from pipeline_fixtures import _cache, _one_blas_thread, cache_root  # noqa: F401 (fixtures)
from pipeline_fixtures import one_line_error, run


def write_idx(path, array):
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    magic = bytes([0, 0, 0x08, array.ndim])
    with gzip.open(path, "wb") as f:
        f.write(magic + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_photo(path, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path)


def make_data_dir(root, photos=True):
    """``root/mnist/`` (80 train + 40 test digits) and, with ``photos``, three photos in
    ``root/bsds500/train/``."""
    rng = np.random.default_rng(0)
    (root / "mnist").mkdir(parents=True)
    for prefix, n in (("train", 80), ("t10k", 40)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        digits = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):    # a bar whose place says the class, plus noise
            digits[i, 4:24, 2 + 2 * c:5 + 2 * c] = 255
            digits[i] |= (rng.random((28, 28)) < 0.05).astype(np.uint8) * 128
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", digits)
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", labels)
    (root / "bsds500").mkdir()
    if photos:
        (root / "bsds500" / "train").mkdir()
        for i in range(3):
            write_photo(root / "bsds500" / "train" / f"{i}.png", seed=i)
    return root


TRAIN = ["train", "--source", "mnist", "--target", "mnistm", "--quick", "--steps", "4",
         "--batch-size", "8", "--no-progress"]


@pytest.fixture
def trained(tmp_path, capsys):
    """A run cut after 2 of 4 steps on the fixture: (data dir, checkpoint, stderr)."""
    data = make_data_dir(tmp_path / "data")
    out = tmp_path / "run"
    code, _, err = run(capsys, *TRAIN, "--data-dir", str(data), "--out", str(out),
                       "--stop-after", "2")
    assert code == 0, err
    return data, out / "checkpoint.npz", err


def files_of(checkpoint):
    """The bytes of a run's checkpoint, sidecar and history.csv."""
    return {p.name: p.read_bytes() for p in checkpoint.parent.iterdir() if p.is_file()
            and p.name != ".lock"}


def test_the_photo_set_is_printed_and_recorded(trained):
    data, ckpt, err = trained
    photos = str((data / "bsds500" / "train").resolve())
    assert f"photos: {photos} (3 photos, sha256 " in err
    side = ckpt_io.read_sidecar(ckpt)
    target = side["provenance"]["target"]
    assert (target["photos"], target["photos_count"]) == (photos, 3)
    assert target["generator"] == f"mnistm v{mnistm.GENERATOR_VERSION}"
    assert set(side["fingerprints"]) == {"source_train", "source_val", "target_train",
                                         "target_val", "target_test"}


def test_changed_photos_of_the_same_count_are_refused_naming_the_photo_set(trained, capsys):
    data, ckpt, _ = trained
    before = files_of(ckpt)
    write_photo(data / "bsds500" / "train" / "1.png", seed=99)     # same name, size, count
    code, _, err = run(capsys, "train", "--resume", str(ckpt), "--no-progress")
    line = one_line_error(err, after_info=True)
    assert code == 2, err
    photos = str((data / "bsds500" / "train").resolve())
    assert "the target's photo set differs" in line and f"{photos} (3 photos" in line
    assert "the images or labels of target_train" in line and "source_train" not in line
    assert files_of(ckpt) == before                 # nothing written: sidecar untouched


def test_changed_source_digits_are_refused_naming_the_sets(trained, capsys):
    data, ckpt, _ = trained
    before = files_of(ckpt)
    path = data / "mnist" / "train-images-idx3-ubyte.gz"
    with gzip.open(path) as f:
        raw = bytearray(f.read())
    raw[16:16 + 28 * 28 * 80] = bytes(255 - b for b in raw[16:16 + 28 * 28 * 80])
    with gzip.open(path, "wb") as f:
        f.write(bytes(raw))
    code, _, err = run(capsys, "train", "--resume", str(ckpt), "--no-progress")
    line = one_line_error(err, after_info=True)
    assert code == 2 and "the images or labels of source_train (fingerprint " in line
    assert "photo set" not in line
    assert files_of(ckpt) == before


def test_another_data_dir_is_refused_before_loading(trained, capsys, tmp_path):
    data, ckpt, _ = trained
    before = files_of(ckpt)
    copy = shutil.copytree(data, tmp_path / "copy")         # same content, another folder
    code, _, err = run(capsys, "train", "--resume", str(ckpt), "--data-dir", str(copy),
                       "--no-progress")
    assert code == 2 and "--data-dir" in one_line_error(err) and str(copy) in err
    assert files_of(ckpt) == before


def test_another_generator_version_is_refused(trained, capsys, monkeypatch):
    _, ckpt, _ = trained
    monkeypatch.setattr(mnistm, "GENERATOR_VERSION", mnistm.GENERATOR_VERSION + 1)
    code, _, err = run(capsys, "train", "--resume", str(ckpt), "--no-progress")
    line = one_line_error(err, after_info=True)
    assert code == 2 and "the target's generator is 'mnistm v2' now, the checkpoint's " \
                         "'mnistm v1'" in line


def test_the_same_data_resume_and_an_old_sidecar_resumes_with_a_note(trained, capsys):
    _, ckpt, _ = trained
    side = ckpt_io.read_sidecar(ckpt)
    old = {k: v for k, v in side.items() if k not in ("provenance", "fingerprints", "format",
                                                       "checkpoint")}
    ckpt_io.write_sidecar(ckpt, old)           # as written before fingerprints existed
    code, _, err = run(capsys, "train", "--resume", str(ckpt), "--no-progress")
    assert code == 0, err
    assert "predates data fingerprints" in err
    assert ckpt_io.load_checkpoint(ckpt).step == 4
    assert ckpt_io.read_sidecar(ckpt)["fingerprints"] == side["fingerprints"]   # recorded now


def test_bsds500_without_train_folder_is_warned_and_recorded(tmp_path, capsys):
    """The silent fallback to the bundled photos is visible: warned, printed, recorded."""
    data = make_data_dir(tmp_path / "data", photos=False)
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="bsds500 has no train/ subfolder"):
        code, _, err = run(capsys, *TRAIN, "--data-dir", str(data), "--out", str(out),
                           "--stop-after", "1")
    assert code == 0, err
    assert "photos: bundled photos" in err and "warning: " in err
    target = ckpt_io.read_sidecar(out / "checkpoint.npz")["provenance"]["target"]
    assert target["photos"] == "bundled photos" and "no train/ subfolder" in target["photos_note"]


def test_provenance_and_fingerprints_are_cheap_and_deterministic(tmp_path):
    """Loading twice gives the same record; the photo hash is over the files, in milliseconds."""
    data = make_data_dir(tmp_path / "data")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = load_pair_data("mnist-mnistm", data_dir=data, quick=True)
        b = load_pair_data("mnist-mnistm", data_dir=data, quick=True)
    assert a.info["fingerprints"] == b.info["fingerprints"]
    assert a.info["provenance"] == b.info["provenance"]
    assert a.info["provenance"]["source"] == {}          # MNIST is read as it is
    assert data_notes(a.info) == [f"target mnistm: photos: {(data / 'bsds500' / 'train').resolve()}"
                                  f" (3 photos, sha256 {a.info['provenance']['target']['photos_sha256']}"
                                  f"), generator mnistm v{mnistm.GENERATOR_VERSION}"]
    fonts = domain_provenance("syndigits")
    assert fonts["fonts"] > 0 and fonts["generator"].startswith("syndigits v")


def test_reproduce_resume_on_changed_photos_is_refused(tmp_path):
    """``reproduce(resume=True)`` goes through the same check: refused, every file kept."""
    data = make_data_dir(tmp_path / "data")
    out = tmp_path / "row"
    res = ex.reproduce("mnist-mnistm", data_dir=data, out_dir=out, quick=True, progress=False,
                       tsne=False)
    photos = str((data / "bsds500" / "train").resolve())
    assert res["data"]["provenance"]["target"]["photos"] == photos
    assert f"photos: {photos} (3 photos" in (out / "results.md").read_text()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    write_photo(data / "bsds500" / "train" / "0.png", seed=7)
    with pytest.raises(ConfigError, match="the target's photo set differs"):
        ex.reproduce("mnist-mnistm", data_dir=data, out_dir=out, quick=True, progress=False,
                     tsne=False, resume=True)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before
