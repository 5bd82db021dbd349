"""Corrupt and hostile files: each is a one-line error naming the file (or, for a cache, a
warning naming it and a rebuild), never a traceback or stale data.

* a truncated or damaged cached ``.npz`` is reported and rebuilt;
* a truncated, damaged or incomplete checkpoint, and a sidecar JSON that is not JSON or
  names an unknown network, are a :class:`CheckpointError` (``error: ...`` from ``dann``);
* a garbage SVHN ``.mat`` is a :class:`DatasetError`;
* GTSRB and released-MNIST-M images replaced under unchanged label files are read again;
* label files naming paths outside their data folder are refused;
* ``dann evaluate --dataset mnistm_official`` scores a network on the release's 32x32 PNGs.
"""
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dann_from_scratch import checkpoint as ckpt_io
from dann_from_scratch import datasets as ds
from dann_from_scratch.cli import main
from dann_from_scratch.datasets import _io
from dann_from_scratch.datasets.gtsrb import load_gtsrb
from dann_from_scratch.datasets.svhn import load_svhn
from pipeline_fixtures import _cache, _one_blas_thread, cache_root  # noqa: F401 (fixtures)

GT_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def flip_middle(path: Path) -> None:
    """Damage the middle of the file in place (same size): a zip member's CRC fails."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(64)
    path.write_bytes(bytes(data))


# -- cached data sets -----------------------------------------------------------------------------
@pytest.mark.parametrize("damage", [truncate, flip_middle, lambda p: p.write_bytes(b"")])
def test_corrupt_cache_file_is_named_in_a_warning_and_rebuilt(tmp_path, damage):
    path = tmp_path / "cache" / "set.npz"
    calls = []

    def build():
        calls.append(1)
        return {"images": np.arange(4000, dtype=np.uint8).reshape(-1, 4), "labels": np.arange(3)}

    first = _io.cached_arrays(path, build)
    damage(path)
    with pytest.warns(RuntimeWarning, match=r"set\.npz: corrupt cache file.*rebuilding"):
        again = _io.cached_arrays(path, build)
    assert len(calls) == 2
    np.testing.assert_array_equal(again["images"], first["images"])
    # the rebuilt file is whole again: the next call reads it without building
    np.testing.assert_array_equal(_io.cached_arrays(path, build)["labels"], first["labels"])
    assert len(calls) == 2


# -- checkpoints and sidecars ---------------------------------------------------------------------
def tiny_checkpoint(path: Path) -> Path:
    rng = np.random.default_rng(0)
    ckpt = ckpt_io.Checkpoint(
        step=3, config={"steps": 5}, model_state={"w": np.ones((4, 200), np.float32)},
        updater_state={"t": np.array(3)},
        sampler_state={"rng": rng.bit_generator.state,
                       "streams": {"source": {"perm": np.arange(10), "pos": 2}}})
    return ckpt_io.save_checkpoint(path, ckpt)


def rewrite_meta(path: Path, change) -> None:
    arrays = dict(np.load(path, allow_pickle=False))
    meta = json.loads(str(arrays["meta"]))
    change(meta, arrays)
    arrays["meta"] = np.array(meta if isinstance(meta, str) else json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage, needle", [
    (truncate, "damaged or truncated checkpoint (BadZipFile"),
    (flip_middle, "damaged or truncated checkpoint"),
    (lambda p: p.write_bytes(b"\x00" * 100), "damaged or truncated checkpoint"),
    (lambda p: rewrite_meta(p, lambda m, a: m.pop("sampler_streams")),
     "damaged checkpoint, missing sampler_streams"),
    (lambda p: rewrite_meta(p, lambda m, a: m.pop("step")), "missing step"),
    (lambda p: rewrite_meta(p, lambda m, a: a.pop("sampler/source/perm")),
     "missing sampler/source/perm"),
    (lambda p: rewrite_meta(p, lambda m, a: m.update(step="three")), "bad sampler or step"),
    (lambda p: np.savez(p, meta=np.array("{not json")), "'meta' entry is not JSON"),
])
def test_damaged_checkpoint_is_a_checkpoint_error_naming_the_file(tmp_path, damage, needle):
    path = tiny_checkpoint(tmp_path / "run.npz")
    assert ckpt_io.load_checkpoint(path).step == 3
    damage(path)
    with pytest.raises(ckpt_io.CheckpointError) as err:
        ckpt_io.load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and needle in message and "\n" not in message


@pytest.mark.parametrize("text, needle", [
    ('{"model": ', "unreadable sidecar, not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"model": "resnet"}', "unknown model 'resnet'"),
])
def test_damaged_or_edited_sidecar_is_a_checkpoint_error(tmp_path, text, needle):
    path = tiny_checkpoint(tmp_path / "run.npz")
    ckpt_io.sidecar_path(path).write_text(text)
    with pytest.raises(ckpt_io.CheckpointError, match=needle) as err:
        ckpt_io.read_sidecar(path)
    assert str(err.value).startswith(str(tmp_path / "run.json"))


# -- SVHN ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"\x00" * 200, b"MATLAB 5.0 MAT-file" + b"\xff" * 100,
                                     b"garbage" * 50])
def test_garbage_svhn_mat_is_a_dataset_error_naming_the_file(tmp_path, content):
    (tmp_path / "test_32x32.mat").write_bytes(content)
    with pytest.raises(ds.DatasetError, match="cannot read as a MATLAB .mat file") as err:
        load_svhn("test", data_dir=tmp_path, download=False)
    assert str(err.value).startswith(str(tmp_path / "test_32x32.mat"))


# -- replaced images under unchanged label files -----------------------------------------------------
def write_gtsrb(root: Path, colour, names=("a.ppm", "b.ppm")) -> Path:
    folder = root / "Final_Training" / "Images" / "00000"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.full((10, 10, 3), colour, np.uint8)).save(folder / name)
    (folder / "GT-00000.csv").write_text(
        GT_HEADER + "\n" + "".join(f"{n};10;10;0;0;9;9;0\n" for n in names))
    return folder


def test_gtsrb_images_replaced_under_an_unchanged_csv_are_read_again(tmp_path):
    root = tmp_path / "gtsrb"
    folder = write_gtsrb(root, (255, 0, 0))
    csv_before = (folder / "GT-00000.csv").read_bytes()
    first, _ = load_gtsrb("train", data_dir=root, size=4)
    assert (first == (255, 0, 0)).all()
    write_gtsrb(root, (0, 0, 255))
    assert (folder / "GT-00000.csv").read_bytes() == csv_before
    os.utime(folder / "a.ppm", ns=(1, 1))   # same size, other mtime, as a restored copy has
    again, _ = load_gtsrb("train", data_dir=root, size=4)
    assert (again == (0, 0, 255)).all()


def write_release(root: Path, n=(6, 4), size=32, seed=0) -> Path:
    """The released MNIST-M's layout: mnist_m/mnist_m_<split>/NNNNNNNN.png (32x32 RGB) and
    mnist_m/mnist_m_<split>_labels.txt with '<name> <label>' lines."""
    rng = np.random.default_rng(seed)
    base = root / "mnist_m"
    for split, count in zip(("train", "test"), n):
        (base / f"mnist_m_{split}").mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(count):
            img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(img).save(base / f"mnist_m_{split}" / f"{i:08d}.png")
            lines.append(f"{i:08d}.png {i % 10}\n")
        (base / f"mnist_m_{split}_labels.txt").write_text("".join(lines))
    return base


def test_released_mnistm_images_replaced_under_unchanged_labels_are_read_again(tmp_path):
    base = write_release(tmp_path)
    first, _ = ds.load_mnistm_official(tmp_path, "test")
    replacement = np.zeros((32, 32, 3), np.uint8)
    Image.fromarray(replacement).save(base / "mnist_m_test" / "00000001.png")
    again, _ = ds.load_mnistm_official(tmp_path, "test")
    np.testing.assert_array_equal(again[1], replacement)
    np.testing.assert_array_equal(again[0], first[0])


# -- label files pointing outside the data folder ---------------------------------------------------
@pytest.mark.parametrize("name", ["../outside.png", "/etc/passwd", "sub/../../outside.png",
                                  "C:\\outside.png", "..\\outside.png"])
def test_mnistm_label_file_paths_outside_the_folder_are_refused(tmp_path, name):
    # 28x28, which the loader always read: the refusal is about the path, not the size
    base = write_release(tmp_path / "data", size=28)
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(tmp_path / "data" / "outside.png")
    labels = base / "mnist_m_test_labels.txt"
    labels.write_text(f"00000000.png 1\n{name} 3\n")
    with pytest.raises(ds.DatasetError) as err:
        ds.load_mnistm_official(base, "test")
    assert str(err.value).startswith(f"{labels}:2: path {name!r} points outside the data folder")


@pytest.mark.parametrize("name", ["../../00000/a.ppm", "/tmp/a.ppm"])
def test_gtsrb_csv_paths_outside_the_folder_are_refused(tmp_path, name):
    folder = write_gtsrb(tmp_path / "gtsrb", (255, 0, 0))
    csv_path = folder / "GT-00000.csv"
    csv_path.write_text(GT_HEADER + f"\na.ppm;10;10;0;0;9;9;0\n{name};10;10;0;0;9;9;0\n")
    with pytest.raises(ds.DatasetError) as err:
        load_gtsrb("train", data_dir=tmp_path / "gtsrb", size=4)
    assert str(err.value).startswith(f"{csv_path}:3: path {name!r} points outside")


# -- the command line --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_root):
    """A 4-step MNIST-network checkpoint (trained once for the module)."""
    out = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse _cache is per test
        mp.setenv("DANN_CACHE", str(cache_root))
        assert main(["train", "--source", "mnist5k", "--target", "mnistm5k", "--out", str(out),
                     "--quick", "--steps", "4", "--batch-size", "16", "--no-progress"]) == 0
    return out / "checkpoint.npz"


def test_dann_evaluate_reads_the_released_mnistm_layout(capsys, tmp_path, trained):
    write_release(tmp_path / "release", n=(3, 7))
    capsys.readouterr()
    for fit in ("resize", "pad"):
        code = main(["evaluate", "--checkpoint", str(trained), "--dataset", "mnistm_official",
                     "--data-dir", str(tmp_path / "release"), "--image-fit", fit, "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        res = json.loads(out)
        assert (res["n"], res["dataset"], res["image_fit"]) == (7, "mnistm_official", fit)


@pytest.mark.parametrize("damage", [truncate, flip_middle])
def test_dann_evaluate_on_a_damaged_checkpoint_is_one_line(capsys, tmp_path, trained, damage):
    copy = tmp_path / "checkpoint.npz"
    copy.write_bytes(trained.read_bytes())
    damage(copy)
    assert main(["evaluate", "--checkpoint", str(copy), "--dataset", "mnist5k"]) == 1
    line = one_line_error(capsys.readouterr()[1])
    assert str(copy) in line and "damaged or truncated checkpoint" in line


def test_dann_on_an_edited_sidecar_is_one_line(capsys, tmp_path, trained):
    copy = tmp_path / "checkpoint.npz"
    copy.write_bytes(trained.read_bytes())
    side = json.loads(ckpt_io.sidecar_path(trained).read_text())
    ckpt_io.sidecar_path(copy).write_text(json.dumps({**side, "model": "resnet"}))
    for argv in (["evaluate", "--checkpoint", str(copy), "--dataset", "mnist5k"],
                 ["train", "--resume", str(copy), "--no-progress"]):
        assert main(argv) == 1
        line = one_line_error(capsys.readouterr()[1])
        assert str(tmp_path / "checkpoint.json") in line and "unknown model 'resnet'" in line
