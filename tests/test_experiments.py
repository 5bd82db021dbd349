"""The Table 1 pipeline (``dann_from_scratch.experiments.reproduce``) in quick mode.

* MNIST -> MNIST-M on the embedded default data (mnist5k -> mnistm5k) writes results.json,
  results.md, the PNGs and a checkpoint + sidecar per network, with sane contents.
* SVHN -> MNIST and Syn Numbers -> SVHN run end to end on a tiny SVHN-format fixture
  (``train_32x32.mat`` / ``test_32x32.mat`` written with scipy, plus tiny MNIST IDX files).
* Missing data gives a one-line DatasetError that names the files; the helpers (image
  fitting, held-out splits, the meta-parameter rule) do what they say.

Every test caches generated data sets in a temporary DANN_CACHE.
"""
import csv
import gzip
import json
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from dann_from_scratch import checkpoint as ckpt_io
from dann_from_scratch import experiments as ex
from dann_from_scratch import plots
from dann_from_scratch import pair_data, pairs, runs
from dann_from_scratch.datasets import DOMAINS, DatasetError, load_domain
from dann_from_scratch.errors import ConfigError
from dann_from_scratch.report import format_table
from dann_from_scratch.selection import select_meta_parameters
from pipeline_fixtures import _cache, _one_blas_thread, cache_root  # noqa: F401 (fixtures)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"



# -- fixtures: tiny SVHN and MNIST files in the loaders' layout -------------------------------------
def write_idx(path, array):
    """An IDX file of unsigned bytes (gzip), as the MNIST loader reads it."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def digit_images(labels, size, channels, rng):
    """Crude class-dependent images: a bright bar whose position encodes the label, + noise."""
    n = len(labels)
    x = rng.integers(0, 60, size=(n, size, size, channels)).astype(np.uint8)
    for i, c in enumerate(labels):
        row = 2 + int(c) * (size - 4) // 10
        x[i, row:row + 2, 2:size - 2, :] = 230
    return x


def make_svhn_fixture(root, n_train=60, n_test=40, seed=0):
    """``root/svhn/{train,test}_32x32.mat`` (X: 32x32x3xN uint8, y: labels 1..10, 10 = digit 0)
    and ``root/mnist/*-idx?-ubyte.gz`` with a few dozen images each."""
    import scipy.io

    rng = np.random.default_rng(seed)
    (root / "svhn").mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        x = digit_images(labels, 32, 3, rng)
        y = np.where(labels == 0, 10, labels).reshape(-1, 1).astype(np.uint8)
        scipy.io.savemat(root / "svhn" / f"{name}_32x32.mat",
                         {"X": np.ascontiguousarray(x.transpose(1, 2, 3, 0)), "y": y})
    (root / "mnist").mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", 80), ("t10k", 40)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz",
                  digit_images(labels, 28, 1, rng)[..., 0])
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def check_results(out, res, pair, seeds=(0,)):
    """The files and contents every reproduce run must have."""
    assert (out / "results.json").is_file() and (out / "results.md").is_file()
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["pair"] == pair and on_disk["ours"] == json.loads(json.dumps(res["ours"]))
    spec = pairs.PAIRS[pair]
    assert on_disk["paper"]["dann"] == spec.paper["dann"]
    for row in ("ours", "ours_svm"):
        for key in ("source_only", "sa", "dann", "train_on_target"):
            assert 0.0 <= on_disk[row][key] <= 1.0, (row, key)
        assert set(on_disk[row]["dann_per_seed"]) == {str(s) for s in seeds}
    # paper's gap covered, e.g. MNIST -> MNIST-M (.7666 - .5225) / (.9596 - .5225)
    p = spec.paper
    assert on_disk["paper"]["gap_covered"]["dann"] == pytest.approx(
        (p["dann"] - p["source_only"]) / (p["train_on_target"] - p["source_only"]))
    runs = {k: v for k, v in on_disk["runs"].items()}
    assert set(runs) == {"source_only", "train_on_target", *(f"dann_seed{s}" for s in seeds)}
    for name, run in runs.items():
        ckpt = out / "checkpoints" / f"{name}.npz"
        side = json.loads((out / "checkpoints" / f"{name}.json").read_text())
        assert ckpt.is_file() and side["model"] == spec.model and side["pair"] == pair
        assert 0.0 <= run["domain_error"] <= 1.0 and 0.0 <= run["svm"]["target_acc"] <= 1.0
        assert run["config"]["anneal_lr"] is spec.anneal_lr
    assert runs["source_only"]["config"]["lambda_max"] >= 0
    assert runs["train_on_target"]["method"] == "target_only"
    # train-on-target is validated on held-out target *training* labels, the others are not
    assert 0.0 <= runs["train_on_target"]["target_val_acc"] <= 1.0
    assert "target_val_acc" not in runs["dann_seed0" if "dann_seed0" in runs else
                                        f"dann_seed{seeds[0]}"]
    for name in on_disk["figures"].values():
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert "tsne.png" in on_disk["figures"].values()
    assert on_disk["figures"]["table1_comparison"] == "table1_comparison.png"
    for name, run in runs.items():      # the logged curves beside each checkpoint
        with open(out / "checkpoints" / f"{name}.history.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert tuple(rows[0]) == ckpt_io.HISTORY_COLUMNS
        assert [int(r["step"]) for r in rows] == run["history"]["step"]
        assert [float(r["label_loss"]) for r in rows] == run["history"]["label_loss"]
        evaluated = [r for r in rows if r["source_val_acc"]]
        assert [int(r["step"]) for r in evaluated] == run["history"]["eval_step"]
    pad = on_disk["proxy_a_distance"]
    assert 0.0 <= pad["before"]["d_A"] <= 2.0
    assert all(0.0 <= v["d_A"] <= 2.0 for v in pad["after"].values())
    assert on_disk["subspace_alignment"]["d"] >= 1
    assert on_disk["timings_seconds"]["total"] > 0
    md = (out / "results.md").read_text()
    assert "Paper (Table 1)" in md and f"{p['dann']:.4f}" in md and "Quick mode" in md
    assert "how they were chosen" in md
    # atomic writes leave no temporary files behind
    leftovers = [f for f in out.rglob("*") if f.name.endswith(".tmp")]
    assert not leftovers
    return on_disk


# -- the pipelines --------------------------------------------------------------------------------
GRID = [{"lambda_max": 0.1}, {"lambda_max": 1.0}]


@pytest.fixture(scope="module")
def mnist_quick(tmp_path_factory, cache_root):
    """One quick MNIST -> MNIST-M run on the embedded default data, choosing lambda_max from
    GRID by the unsupervised rule (shared by the tests below)."""
    out = tmp_path_factory.mktemp("mnist_quick")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DANN_CACHE", str(cache_root))
        res = ex.reproduce("mnist-mnistm", out_dir=out, quick=True, progress=False, select=GRID)
    return out, res


def test_quick_reproduce_mnist_mnistm_default_data(mnist_quick):
    out, res = mnist_quick
    r = check_results(out, res, "mnist-mnistm")
    assert r["data"]["embedded_default"] is True
    assert (r["data"]["source"], r["data"]["target"]) == ("mnist5k", "mnistm5k")
    assert r["settings"]["steps"] == ex.QUICK_STEPS
    assert "(--steps)" not in r["meta_parameters"]["how_chosen"]
    assert r["data"]["sizes"]["target_test"] == ex.QUICK_SIZES["target_test"]
    # the unsupervised signals are recorded for every run
    assert set(r["meta_parameters"]["signals"]) == set(r["runs"])
    assert "source_val_acc" in r["meta_parameters"]["signals"]["dann_seed0"]
    # the printed table holds the paper's row and ours
    table = format_table(res)
    assert "0.7666" in table and "ours" in table and "QUICK MODE" in table


def test_results_record_the_photo_set_and_the_data_fingerprints(mnist_quick):
    out, res = mnist_quick
    target = res["data"]["provenance"]["target"]
    assert target["photos"] == "bundled photos" and target["photos_count"] > 0
    md = (out / "results.md").read_text()
    assert f"photos: bundled photos ({target['photos_count']} photos, sha256 " in md
    assert res["data"]["fingerprints"]["target_test"] in md
    side = ckpt_io.read_sidecar(out / "checkpoints" / "dann_seed0.npz")
    assert side["fingerprints"] == res["data"]["fingerprints"]
    assert "resumed" not in res and "Resumed" not in md


def test_a_resumed_page_keeps_the_training_time_and_its_evaluate_command_works(
        mnist_quick, tmp_path, monkeypatch, capsys):
    """A --resume rerun (here in a copy of the fixture's folder, named relative to the
    working directory) loads every network: its page says so and reports the time each
    took to train, not the rerun's; it lists only figures that exist; the ``dann evaluate``
    command it prints works from where reproduce ran."""
    from dann_from_scratch.cli import main

    out, res = mnist_quick
    monkeypatch.chdir(tmp_path)
    shutil.copytree(out, "copy")
    for png in Path("copy").glob("*.png"):
        png.unlink()
    again = ex.reproduce("mnist-mnistm", out_dir="copy", quick=True, progress=False,
                         select=GRID, tsne=False, resume=True)
    assert set(again["resumed"]["from_step"]) == set(res["runs"])
    for name, run in res["runs"].items():
        assert again["runs"][name]["train_seconds"] == run["train_seconds"], name
    md = Path("copy/results.md").read_text()
    assert "> **Resumed**" in md
    assert f"| {res['runs']['dann_seed0']['train_seconds']:.0f} (trained by an earlier call, " \
           "loaded) |" in md
    assert "tsne.png" not in md and "tsne" not in again["figures"]
    assert all(Path("copy", name).is_file() for name in again["figures"].values())
    command = next(line.strip() for line in md.splitlines()
                   if line.strip().startswith("dann evaluate"))
    assert "copy/checkpoints/dann_seed0.npz" in command
    capsys.readouterr()
    assert main(shlex.split(command)[1:]) == 0
    assert capsys.readouterr().out.startswith("accuracy ")


def test_training_curves_include_the_evaluations(monkeypatch, tmp_path):
    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, dpi: drawn.setdefault("fig", fig))
    history = {"step": [1, 2, 3, 4], "label_loss": [2.0, 1.5, 1.2, 1.0],
               "eval_step": [2, 4], "source_val_acc": [0.5, 0.8], "target_acc": [None, None],
               "domain_error": [0.1, 0.3]}
    plots.plot_training_curves(history, tmp_path / "c.png")
    panel = next(ax for ax in drawn["fig"].axes if ax.get_title().startswith("evaluations"))
    labels = [line.get_label() for line in panel.get_lines()]
    assert labels == ["source validation accuracy", "domain-classifier error"]   # no target labels
    assert list(panel.get_lines()[0].get_xdata()) == [2, 4]


def test_every_results_page_is_listed_in_the_index():
    docs = Path(__file__).resolve().parents[1] / "docs" / "results"
    index = (docs / "index.md").read_text()
    pages = sorted(p.name for p in docs.glob("*.md") if p.name != "index.md")
    assert pages and all(f"]({name})" in index for name in pages), pages


def test_selection_uses_only_unsupervised_signals(mnist_quick, tmp_path, monkeypatch):
    """The run trained one DANN per candidate and picked by source validation accuracy and
    domain-classifier error; the rule never sees target accuracy, and scrambling the target
    *test* labels changes nothing that is chosen."""
    out, res = mnist_quick
    sel = res["meta_parameters"]["selection"]
    assert [c["overrides"] for c in sel["candidates"]] == GRID
    assert all(set(c) == {"overrides", "source_val_acc", "domain_error"}
               for c in sel["candidates"])
    assert sel["chosen"] == GRID[select_meta_parameters(sel["candidates"])]
    assert res["runs"]["dann_seed0"]["config"]["lambda_max"] == sel["chosen"]["lambda_max"]
    for i in range(len(GRID)):
        assert (out / "checkpoints" / f"select_{i}.npz").is_file()

    real = ex.load_pair_data

    def scrambled(*a, **k):
        d = real(*a, **k)
        x, y = d.target_test
        d.target_test = (x, np.random.default_rng(5).permutation(y))
        return d

    monkeypatch.setattr(ex, "load_pair_data", scrambled)
    res2 = ex.reproduce("mnist-mnistm", out_dir=tmp_path / "b", quick=True, progress=False,
                        select=GRID, tsne=False)
    sel2 = res2["meta_parameters"]["selection"]
    assert sel2["chosen"] == sel["chosen"] and sel2["candidates"] == sel["candidates"]


def test_parallel_jobs_give_the_same_row(mnist_quick, tmp_path, monkeypatch, cache_root):
    """jobs=2 trains the selection candidates, then source-only and train-on-target, in two
    forked worker processes; every number matches the one-process run of the fixture."""
    _, res = mnist_quick
    monkeypatch.setenv("DANN_CACHE", str(cache_root))
    out = tmp_path / "jobs2"
    res2 = ex.reproduce("mnist-mnistm", out_dir=out, quick=True, progress=False, select=GRID,
                        tsne=False, jobs=2)
    assert res2["settings"]["jobs"] == 2 and "--jobs 2" in res2["command"]
    assert list(res2["runs"]) == list(res["runs"])
    for name, run in res["runs"].items():
        for key in ("source_val_acc", "domain_error", "target_acc"):
            assert res2["runs"][name][key] == run[key], (name, key)
        assert res2["runs"][name]["history"]["label_loss"] == run["history"]["label_loss"]
    assert res2["meta_parameters"]["selection"] == res["meta_parameters"]["selection"]
    assert res2["ours_svm"] == res["ours_svm"]
    with pytest.raises(ConfigError, match="jobs"):
        ex.reproduce("mnist-mnistm", out_dir=tmp_path / "x", quick=True, jobs=0)


def test_resume_continues_a_cut_row_and_reuses_finished_runs(mnist_quick, tmp_path,
                                                              monkeypatch, cache_root):
    """A row cut short by Ctrl-C in its first network (half its steps saved) and run again
    with resume=True gives exactly the fixture's numbers; a third call reuses every network;
    a checkpoint of a different run is refused."""
    _, res = mnist_quick
    monkeypatch.setenv("DANN_CACHE", str(cache_root))
    out = tmp_path / "cut"
    real_train = runs.train

    def ctrl_c_half_way(model, source, target, config, **kw):
        real_train(model, source, target, config, **{**kw, "stop_after": config.steps // 2})
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "train", ctrl_c_half_way)
    with pytest.raises(KeyboardInterrupt):
        ex.reproduce("mnist-mnistm", out_dir=out, quick=True, progress=False, select=GRID,
                     tsne=False)
    monkeypatch.setattr(runs, "train", real_train)
    assert [p.name for p in (out / "checkpoints").glob("*.npz")] == ["select_0.npz"]

    res2 = ex.reproduce("mnist-mnistm", out_dir=out, quick=True, progress=False, select=GRID,
                        tsne=False, resume=True)
    assert res2["runs"]["dann_seed0"].get("resumed_from_step") in (None, ex.QUICK_STEPS // 2)
    res3 = ex.reproduce("mnist-mnistm", out_dir=out, quick=True, progress=False, select=GRID,
                        tsne=False, resume=True)
    assert res3["settings"]["resume"] is True and res3["command"].endswith("--resume")
    for name, run in res["runs"].items():
        assert res3["runs"][name]["resumed_from_step"] == ex.QUICK_STEPS, name
        for again in (res2, res3):
            for key in ("source_val_acc", "domain_error", "target_acc"):
                assert again["runs"][name][key] == run[key], (name, key)
            assert again["runs"][name]["history"]["label_loss"] == run["history"]["label_loss"]
    assert res2["meta_parameters"]["selection"] == res["meta_parameters"]["selection"]
    assert "(trained by an earlier call, loaded)" in (out / "results.md").read_text()

    with pytest.raises(ConfigError, match="holds a different run: .*steps"):
        ex.reproduce("mnist-mnistm", out_dir=out, quick=True, progress=False, select=GRID,
                     tsne=False, resume=True, steps=ex.QUICK_STEPS + 1)


def test_ctrl_c_with_jobs_starts_no_queued_run(tmp_path, monkeypatch, cache_root):
    """Ctrl-C reaches both workers while they train the first two networks: the third run,
    already queued, must not start training; the interrupt reaches the caller."""
    import time

    monkeypatch.setenv("DANN_CACHE", str(cache_root))
    started = tmp_path / "started"
    started.mkdir()

    def interrupted_train(model, source, target, config, **kw):
        (started / config.method).touch()     # runs in the forked worker
        time.sleep(0.5)                       # both workers are busy when the "Ctrl-C" lands
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "train", interrupted_train)
    with pytest.raises(KeyboardInterrupt):
        ex.reproduce("mnist-mnistm", out_dir=tmp_path / "run", quick=True, progress=False,
                     tsne=False, jobs=2)
    assert sorted(p.name for p in started.iterdir()) == ["dann", "source_only"]


def test_another_target_domain_runs_the_same_row(tmp_path):
    """--target mnistm_binary: MNIST-M with thresholded digits, built from the fixture's tiny
    MNIST; compared with the same paper row. Incompatible or unknown targets are refused."""
    data = make_svhn_fixture(tmp_path / "data")     # also writes tiny MNIST IDX files
    res = ex.reproduce("mnist-mnistm", data_dir=data, out_dir=tmp_path / "run", quick=True,
                       progress=False, tsne=False, target="mnistm_binary")
    assert res["data"]["target"] == "mnistm_binary" and not res["data"]["embedded_default"]
    assert "--target mnistm_binary" in res["command"]
    assert "mnistm_binary" in res["title"] and res["paper"]["dann"] == 0.7666
    xt, _ = res_target = load_domain("mnistm_binary", "test", data_dir=data, download=False)
    grey, _ = load_domain("mnistm", "test", data_dir=data, download=False)
    assert xt.shape == grey.shape and not np.array_equal(xt, grey)
    assert res["data"]["sizes"]["target_test"] == min(len(res_target[1]), ex.QUICK_SIZES["target_test"])
    assert_other_domains_refused(data, tmp_path, "target", wrong="gtsrb", like="mnistm",
                                 good="mnistm_binary")


def test_another_source_domain_runs_the_same_row(tmp_path):
    """--source mnist_binary --target mnistm_binary: both domains thresholded; the same paper
    row, the command line records both. Wrong sources are refused with the reason."""
    data = make_svhn_fixture(tmp_path / "data")
    res = ex.reproduce("mnist-mnistm", data_dir=data, out_dir=tmp_path / "run", quick=True,
                       progress=False, tsne=False, source="mnist_binary", target="mnistm_binary",
                       steps=ex.QUICK_STEPS + 1)
    assert (res["data"]["source"], res["data"]["target"]) == ("mnist_binary", "mnistm_binary")
    assert "--source mnist_binary --target mnistm_binary" in res["command"]
    assert res["title"] == "MNIST -> MNIST-M (source domain mnist_binary, target domain mnistm_binary)"
    assert res["paper"]["source_only"] == 0.5225
    # the note on how the settings were chosen says when --steps overrode the pair's
    assert res["meta_parameters"]["how_chosen"].endswith(
        f"this run trained {ex.QUICK_STEPS + 1} steps per network (--steps), not the pair's "
        f"{ex.QUICK_STEPS}")
    xs, ys = load_domain("mnist_binary", "train", data_dir=data, download=False)
    grey, grey_y = load_domain("mnist", "train", data_dir=data, download=False)
    assert set(np.unique(xs)) <= {0, 255} and np.array_equal(xs > 0, grey > 0)
    np.testing.assert_array_equal(ys, grey_y)
    assert_other_domains_refused(data, tmp_path, "source", wrong="gtsrb", like="mnist",
                                 good="mnist_binary")


def assert_other_domains_refused(data, tmp_path, role, wrong, like, good):
    """source=/target=: an incompatible or unknown domain, or a good one without
    data_dir=, is a ConfigError that says why."""
    for bad, needle in ((wrong, f"needs a {role} like {like} "), ("nope", f"unknown {role}")):
        with pytest.raises(ConfigError, match=needle):
            ex.reproduce("mnist-mnistm", data_dir=data, out_dir=tmp_path / "x", quick=True,
                         **{role: bad})
    with pytest.raises(ConfigError, match=f"{role}= needs data_dir="):
        ex.reproduce("mnist-mnistm", out_dir=tmp_path / "x", quick=True, **{role: good})


def test_target_mnistm_official_reads_the_released_layout(tmp_path):
    """--target mnistm_official with a data folder holding mnist/ and the released mnist_m/
    (PNG folders + label files; a tiny stand-in here) runs the row on it."""
    from PIL import Image

    data = make_svhn_fixture(tmp_path / "data")
    rng = np.random.default_rng(9)
    root = data / "mnist_m"
    for split, n in (("train", 60), ("test", 30)):
        (root / f"mnist_m_{split}").mkdir(parents=True)
        labels = np.arange(n) % 10
        for i, img in enumerate(digit_images(labels, 28, 3, rng)):
            Image.fromarray(img).save(root / f"mnist_m_{split}" / f"{i:08d}.png")
        (root / f"mnist_m_{split}_labels.txt").write_text(
            "".join(f"{i:08d}.png {c}\n" for i, c in enumerate(labels)))
    res = ex.reproduce("mnist-mnistm", data_dir=data, out_dir=tmp_path / "run", quick=True,
                       progress=False, tsne=False, target="mnistm_official")
    assert res["data"]["target"] == "mnistm_official"
    assert res["data"]["sizes"]["target_test"] == 30
    assert 0.0 <= res["ours"]["dann"] <= 1.0


@pytest.mark.parametrize("pair", ["svhn-mnist", "syndigits-svhn"])
def test_quick_reproduce_svhn_pairs_on_fixture(tmp_path, pair):
    data = make_svhn_fixture(tmp_path / "data")
    out = tmp_path / "run"
    res = ex.reproduce(pair, data_dir=data, out_dir=out, quick=True, progress=False)
    r = check_results(out, res, pair)
    assert r["data"]["input_shape"] == [3, 32, 32]
    if pair == "svhn-mnist":
        # trained without learning-rate annealing, as in the paper; MNIST brought to 32x32x3
        assert r["runs"]["dann_seed0"]["config"]["anneal_lr"] is False
        assert r["data"]["original_shapes"]["target"] == [28, 28, 1]
        assert r["data"]["sizes"]["target_test"] == 40
    else:
        assert r["runs"]["dann_seed0"]["config"]["anneal_lr"] is True
        assert r["data"]["source"] == "syndigits" and r["data"]["target"] == "svhn"


# -- missing data and bad arguments ---------------------------------------------------------------
@pytest.mark.parametrize("pair, needle", [("syndigits-svhn", "train_32x32.mat"),
                                          ("svhn-mnist", "ufldl.stanford.edu"),
                                          ("synsigns-gtsrb", "GTSRB")])
def test_missing_data_is_a_clear_one_line_error(tmp_path, pair, needle):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError) as info:
        ex.reproduce(pair, data_dir=empty, out_dir=tmp_path / "out", quick=True, progress=False)
    msg = str(info.value)
    assert needle in msg and pair in msg and "\n" not in msg


def test_bad_arguments():
    with pytest.raises(ConfigError, match="unknown pair 'mnist-foo'; choose from mnist-mnistm"):
        ex.reproduce("mnist-foo", out_dir="unused")
    with pytest.raises(ConfigError, match="seeds"):
        ex.reproduce("mnist-mnistm", out_dir="unused", seeds=(0, 0))
    with pytest.raises(ConfigError, match="steps"):
        ex.reproduce("mnist-mnistm", out_dir="unused", steps=0)
    with pytest.raises(ConfigError, match="device"):
        ex.reproduce("mnist-mnistm", out_dir="unused", device="tpu")


# -- helpers --------------------------------------------------------------------------------------
def test_fit_images_resize_pad_and_channels():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(5, 28, 28, 1), dtype=np.uint8)
    up = pair_data.fit_images(gray, (3, 32, 32), "resize")
    assert up.shape == (5, 32, 32, 3) and up.dtype == np.uint8
    assert np.array_equal(up[..., 0], up[..., 2])                 # channels repeated
    padded = pair_data.fit_images(gray, (3, 32, 32), "pad")
    assert np.array_equal(padded[:, 2:30, 2:30, 1], gray[..., 0])  # centred, zero border
    assert not padded[:, :2].any() and not padded[:, 30:].any()
    same = rng.integers(0, 256, size=(2, 28, 28, 3), dtype=np.uint8)
    assert pair_data.fit_images(same, (3, 28, 28)) is same
    lum = pair_data.fit_images(same, (1, 28, 28))
    assert lum.shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match="image_fit"):
        pair_data.fit_images(gray, (3, 32, 32), "stretch")


def test_holdout_split_is_stratified_disjoint_and_capped():
    y = np.repeat(np.arange(10), 50)
    tr, va = pair_data.holdout_split(y, 0.1, seed=3)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    assert np.all(np.bincount(y[va], minlength=10) == 5)
    tr2, va2 = pair_data.holdout_split(y, 0.1, seed=3)
    assert np.array_equal(va, va2)
    _, capped = pair_data.holdout_split(y, 0.5, seed=0, max_holdout=20)
    assert len(capped) == 20
    tr3, va3 = pair_data.holdout_split(100, 0.1, seed=0)
    assert len(va3) == 10 and len(tr3) == 90


def test_select_meta_parameters_rule():
    cands = [{"source_val_acc": 0.97, "domain_error": 0.10},
             {"source_val_acc": 0.965, "domain_error": 0.30},
             {"source_val_acc": 0.80, "domain_error": 0.49},   # too inaccurate on the source
             {"source_val_acc": 0.97, "domain_error": 0.95}]   # inverted: separable, conf. 0.05
    assert select_meta_parameters(cands) == 1
    assert select_meta_parameters(cands, tolerance=0.2) == 2
    with pytest.raises(ValueError):
        select_meta_parameters([])


def test_default_model_and_splits():
    assert pairs.default_model_for("mnist", "mnistm") == "mnist"
    assert pairs.default_model_for("svhn", "mnist") == "svhn"
    assert pairs.default_model_for("synsigns", "gtsrb") == "gtsrb"
    assert (DOMAINS["gtsrb"].train_split, DOMAINS["gtsrb"].test_split) == ("adapt", "eval")
    spec = pairs.PAIRS["synsigns-gtsrb"]
    assert (spec.target_train_split, spec.target_test_split) == ("adapt", "eval")
    assert pairs.custom_spec("mnist", "gtsrb").target_test_split == "eval"
    assert pairs.PAIRS["svhn-mnist"].anneal_lr is False
    assert all(s.model in ("mnist", "svhn", "gtsrb") for s in pairs.PAIRS.values())
