"""The shared training loop, the saddle-point trainer, checkpoints and the bad-input errors.

Most tests use tiny synthetic data: two Gaussian blobs (the classes) per domain in 4-D; the
target domain is the source shifted along two dimensions that carry no label information,
so a source-only network's features tell the domains apart easily and DANN must learn to
ignore those two dimensions.
"""
import json
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from dann_from_scratch import checkpoint as ckpt_io
from dann_from_scratch.models import DANNModel, build_model, input_shape_of, mlp_model
from dann_from_scratch.saddle import train_saddle
from dann_from_scratch.trainers import (TrainConfig, config_differences, evaluate,
                                        predict_features, predict_logits, prepare_inputs, train)
from rounding import assert_close_up_to_rounding, reduction_lengths


def blobs(seed=0, n=100, shift=2.0):
    rng = np.random.default_rng(seed)
    ys, yt = rng.integers(0, 2, n), rng.integers(0, 2, n)
    centres = np.array([[-1.5, 0, 0, 0], [1.5, 0, 0, 0]])
    xs = centres[ys] + 0.5 * rng.standard_normal((n, 4))
    xt = centres[yt] + 0.5 * rng.standard_normal((n, 4)) + np.array([0, shift, shift, 0])
    return xs.astype(np.float32), ys, xt.astype(np.float32), yt


def small_model(seed=0):
    return mlp_model(4, 2, hidden=(16,), domain_hidden=(16,), rng=seed)


def config(**kw):
    base = dict(steps=150, batch_size=64, lr=0.05, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def params_of(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def runs(data):
    """source_only, dann and target_only trained for 150 steps from the same seeds."""
    xs, ys, xt, yt = data
    out = {}
    for method in ("source_only", "dann", "target_only"):
        model = small_model()
        history = train(model, (xs, ys), (xt, yt), config(method=method),
                        val=((xs, ys), (xt, yt)))
        out[method] = (model, history)
    return out


# -- what each method does to the losses ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["source_only", "dann", "target_only"])
def test_label_loss_goes_down(runs, method):
    h = runs[method][1]
    assert np.mean(h["label_loss"][-10:]) < 0.5 * np.mean(h["label_loss"][:10])
    assert len(h["step"]) == 150 and h["step"][-1] == 150
    assert all(np.isfinite(h[k]).all() for k in ("label_loss", "domain_loss", "domain_acc"))


def test_dann_pulls_domain_accuracy_towards_chance(runs):
    """Source-only features separate the domains (the probe G_d is ~100% right); DANN's G_f
    fights G_d, so G_d ends near chance (0.5)."""
    acc_src_only = np.mean(runs["source_only"][1]["domain_acc"][-30:])
    acc_dann = np.mean(runs["dann"][1]["domain_acc"][-30:])
    assert acc_src_only > 0.95
    assert abs(acc_dann - 0.5) < 0.15
    assert abs(acc_dann - 0.5) < abs(acc_src_only - 0.5) - 0.3


def test_lambda_and_lr_follow_the_schedules(runs):
    h_dann, h_src = runs["dann"][1], runs["source_only"][1]
    steps = 150
    p = np.arange(steps) / steps
    np.testing.assert_allclose(h_dann["lambda"], 2 / (1 + np.exp(-10 * p)) - 1, rtol=1e-12)
    np.testing.assert_allclose(h_dann["lr"], 0.05 / (1 + 10 * p) ** 0.75, rtol=1e-12)
    assert set(h_src["lambda"]) == {0.0}      # no adaptation: the GRL passes zero to G_f


def test_adaptation_helps_on_the_target_and_history_is_json(runs):
    acc = {m: runs[m][1]["target_acc"][-1] for m in runs}
    assert acc["target_only"] >= acc["dann"] > acc["source_only"]
    h = runs["dann"][1]
    assert h["eval_step"] == [150]
    assert 0.0 <= h["domain_error"][-1] <= 1.0
    json.loads(json.dumps(h))                  # JSON-serialisable as it is


def test_semi_supervised_uses_the_labelled_target_rows(data):
    xs, ys, xt, yt = data
    model = small_model()
    cfg = config(method="semi_supervised", steps=40, labelled_per_batch=8)
    h = train(model, (xs, ys), xt, cfg, target_labelled=(xt[:10], yt[:10]))
    assert np.mean(h["label_loss"][-5:]) < np.mean(h["label_loss"][:5])
    assert h["lambda"][-1] > 0.9
    with pytest.raises(ValueError, match="target_labelled"):
        train(small_model(), (xs, ys), xt, cfg)
    with pytest.raises(ValueError, match="labelled_per_batch"):
        config(method="semi_supervised", batch_size=16, labelled_per_batch=8)


def test_evaluate_and_predictions(runs, data):
    xs, ys, xt, yt = data
    model = runs["dann"][0]
    res = evaluate(model, (xs, ys), xt)          # target without labels: no target accuracy
    assert res["target_acc"] is None and res["source_val_acc"] > 0.9
    # the signals, recomputed by hand from the heads
    import minigrad as mg
    from dann_from_scratch.trainers import prepare_inputs
    with mg.no_grad():
        model.eval()
        f_s = model.features(mg.Tensor(prepare_inputs(xs, model)))
        f_t = model.features(mg.Tensor(prepare_inputs(xt, model)))
        d_s = model.domain_classifier(f_s).numpy()[:, 0]
        d_t = model.domain_classifier(f_t).numpy()[:, 0]
        acc_s = (model.label_predictor(f_s).numpy().argmax(1) == ys).mean()
        model.train()
    assert res["domain_error"] == pytest.approx(0.5 * ((d_s > 0).mean() + (d_t <= 0).mean()))
    assert res["source_val_acc"] == pytest.approx(acc_s)
    assert evaluate(model, None, (xt, yt))["domain_error"] is None
    assert predict_logits(model, xt, batch_size=7).shape == (100, 2)
    assert predict_features(model, xt).shape == (100, 16)
    assert model.training                        # evaluation restored training mode


# -- the paper's central claim: GRL == explicit saddle-point updates ------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(),                                                     # paper: ramped lambda, annealed lr
    dict(weight_decay=1e-3, lambda_schedule="constant", lambda_max=3.0, anneal_lr=False),
])
def test_saddle_point_trainer_equals_grl_trainer(data, kw):
    xs, ys, xt, yt = data
    cfg = config(method="dann", steps=20, **kw)
    grl_model, saddle_model = small_model(3), small_model(3)
    start = params_of(grl_model)
    h_grl = train(grl_model, (xs, ys), xt, cfg)
    h_saddle = train_saddle(saddle_model, (xs, ys), xt, cfg)
    a, b = grl_model.state_dict(), saddle_model.state_dict()
    # Same updates, other summation orders: the GRL adds the two gradients at the features
    # and backpropagates once, the saddle-point trainer backpropagates twice and adds at the
    # parameters. Rounding differences enter every step through sums over the batch and
    # carry on through the trajectory, so n_terms = steps x batch (tests/rounding.py; was a
    # fixed rtol 1e-5, atol 1e-6).
    n_terms = cfg.steps * cfg.batch_size
    for name in a:
        assert not np.array_equal(a[name], start[name]), f"{name} did not move"
        assert_close_up_to_rounding(a[name], b[name], n_terms=n_terms, err_msg=name)
    for loss in ("label_loss", "domain_loss"):
        assert_close_up_to_rounding(h_grl[loss], h_saddle[loss], n_terms=n_terms, dtype=np.float32,
                                    err_msg=loss)

    # and lambda matters: without adaptation G_f ends elsewhere
    src_only = small_model(3)
    train(src_only, (xs, ys), xt, config(method="source_only", steps=20, **kw))
    w = "feature_extractor.0.weight"
    assert np.abs(src_only.state_dict()[w] - a[w]).max() > 1e-3


# -- checkpoints ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("trainer", [train, train_saddle])
def test_resumed_run_equals_uninterrupted_run(tmp_path, data, trainer):
    xs, ys, xt, yt = data
    cfg = config(method="dann", steps=12, eval_every=4)
    val = ((xs, ys), (xt, yt))
    full = small_model(1)
    h_full = trainer(full, (xs, ys), xt, cfg, val=val)

    path = tmp_path / "run.npz"
    first = small_model(1)
    trainer(first, (xs, ys), xt, cfg, val=val, checkpoint_path=path, stop_after=5)
    assert ckpt_io.load_checkpoint(path).step == 5
    resumed = small_model(99)                 # a different init: the checkpoint overwrites it
    h_res = trainer(resumed, (xs, ys), xt, None, val=val, resume_from=path, checkpoint_path=path)
    for name, value in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value, err_msg=name)
    np.testing.assert_array_equal(resumed.input_mean, full.input_mean)
    assert h_res == h_full
    assert ckpt_io.load_checkpoint(path).step == 12


def test_keyboard_interrupt_saves_a_resumable_checkpoint(tmp_path, data):
    xs, ys, xt, yt = data
    cfg = config(method="dann", steps=10)
    full = small_model(2)
    train(full, (xs, ys), xt, cfg)

    def stop_at_4(step, logs):
        if step == 4:
            raise KeyboardInterrupt

    path = tmp_path / "ctrl_c.npz"
    model = small_model(2)
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        train(model, (xs, ys), xt, cfg, callback=stop_at_4, checkpoint_path=path)
    assert ckpt_io.load_checkpoint(path).step == 4
    resumed = small_model(2)
    train(resumed, (xs, ys), xt, cfg, resume_from=path)
    for name, value in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value, err_msg=name)


def test_ctrl_c_stops_at_the_next_step_boundary(tmp_path, data):
    """A real SIGINT (Ctrl-C) mid-run: the step in progress finishes, the checkpoint is saved,
    then KeyboardInterrupt propagates, and the default handler is back."""
    import os
    import signal
    xs, ys, xt, yt = data
    path = tmp_path / "sigint.npz"

    def press_ctrl_c(step, logs):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), pytest.warns(RuntimeWarning, match="checkpoint saved"):
        train(small_model(), (xs, ys), xt, config(steps=10), callback=press_ctrl_c,
              checkpoint_path=path)
    assert signal.getsignal(signal.SIGINT) is previous
    assert ckpt_io.load_checkpoint(path).step == 3


def test_checkpoint_keeps_dropout_rng_and_mean(tmp_path, data):
    xs, ys, xt, yt = data
    cfg = config(method="dann", steps=6)
    make = lambda: mlp_model(4, 2, hidden=(8,), domain_hidden=(8,), dropout=0.5, rng=5)  # noqa: E731
    full = make()
    train(full, (xs, ys), xt, cfg)
    path = tmp_path / "drop.npz"
    train(make(), (xs, ys), xt, cfg, checkpoint_path=path, stop_after=3)
    assert list(ckpt_io.load_checkpoint(path).module_rngs) == ["domain_classifier.2.rng"]
    resumed = make()
    train(resumed, (xs, ys), xt, cfg, resume_from=path)
    for name, value in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value, err_msg=name)
    loaded = ckpt_io.load_model(make(), path)
    np.testing.assert_array_equal(loaded.input_mean, full.input_mean)


def test_resume_with_a_different_config_is_refused(tmp_path, data):
    xs, ys, xt, yt = data
    path = tmp_path / "a.npz"
    train(small_model(), (xs, ys), xt, config(steps=6), checkpoint_path=path, stop_after=2)
    with pytest.raises(ckpt_io.CheckpointError, match=r"steps: checkpoint 6, now 8"):
        train(small_model(), (xs, ys), xt, config(steps=8), resume_from=path)
    with pytest.raises(ckpt_io.CheckpointError, match="'grl' trainer"):
        train_saddle(small_model(), (xs, ys), xt, config(steps=6), resume_from=path)
    with pytest.raises(ckpt_io.CheckpointError, match="target set has 100 examples"):
        train(small_model(), (xs, ys), xt[:50], config(steps=6), resume_from=path)


def test_progress_bar_goes_on_the_line_it_is_given(monkeypatch, data):
    import tqdm.auto

    from dann_from_scratch import progress
    xs, ys, xt, yt = data
    bars = []

    class Bar:
        def __init__(self, **kw):
            bars.append(kw)

        def update(self, n):
            pass

        def set_postfix(self, post, refresh):
            pass

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    # a bar is drawn only for a person watching a terminal (else plain lines: progress.py)
    monkeypatch.setattr(progress, "interactive", lambda stream=None: True)
    train(small_model(), (xs, ys), xt, config(steps=2, progress=True), bar_position=3)
    train(small_model(), (xs, ys), xt, config(steps=2, progress=True))
    assert [bar["position"] for bar in bars] == [3, None]


# -- inputs ------------------------------------------------------------------------------------------------
def test_prepare_inputs_layouts_and_mean():
    model = build_model("mnist", rng=0)
    model.input_mean = np.array([0.1, 0.2, 0.3], np.float32).reshape(3, 1, 1)
    nhwc = np.full((2, 28, 28, 3), 255, np.uint8)
    out = prepare_inputs(nhwc, model)
    assert out.shape == (2, 3, 28, 28) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0, 0], [[0.9, 0.8, 0.7]] * 2, rtol=1e-6)
    gray = np.zeros((2, 28, 28, 1), np.uint8)           # MNIST: repeated over 3 channels
    np.testing.assert_allclose(prepare_inputs(gray, model)[0, :, 5, 5], [-0.1, -0.2, -0.3])
    nchw = np.zeros((2, 3, 28, 28), np.float32)
    assert prepare_inputs(nchw, model).shape == (2, 3, 28, 28)
    with pytest.raises(ValueError, match=r"inputs of shape \(2, 32, 32, 3\) do not match the "
                                         r"model's input shape \(3, 28, 28\)"):
        prepare_inputs(np.zeros((2, 32, 32, 3), np.uint8), model)


def test_input_mean_is_the_average_of_the_two_domain_means(data):
    xs, ys, xt, yt = data
    model = small_model()
    train(model, (xs, ys), xt[:50], config(steps=1))
    np.testing.assert_allclose(model.input_mean, (xs.mean(0) + xt[:50].mean(0)) / 2, rtol=1e-5)


# -- errors ------------------------------------------------------------------------------------------------
def test_mismatched_feature_and_head_sizes():
    rng = np.random.default_rng(0)
    g_f = nn.Sequential(nn.Linear(4, 8, rng=rng), nn.ReLU())
    with pytest.raises(ValueError, match="label predictor takes 8 .* domain classifier takes 6"):
        DANNModel(g_f, nn.Linear(8, 2, rng=rng), nn.Linear(6, 1, rng=rng))
    with pytest.raises(ValueError, match="feature extractor outputs 10 features but the heads "
                                         "take 8"):
        DANNModel(g_f, nn.Linear(8, 2, rng=rng), nn.Linear(8, 1, rng=rng), feature_dim=10)
    # only discoverable when data flows: checked at the first call
    model = DANNModel(g_f, nn.Linear(7, 2, rng=rng), nn.Linear(7, 1, rng=rng))
    with pytest.raises(ValueError, match="outputs 8 features per example but the label "
                                         "predictor takes 7"):
        model.classify(mg.Tensor(np.zeros((3, 4), np.float32)))


def test_bad_training_inputs(data):
    xs, ys, xt, yt = data
    with pytest.raises(ValueError, match=r"source labels: labels must lie in \[0, 2\) for a "
                                         r"model with 2 classes, got values in \[0, 5\]"):
        train(small_model(), (xs, np.where(ys == 1, 5, 0)), xt, config(steps=1))
    with pytest.raises(ValueError, match=r"target: the set is empty \(X has shape \(0, 4\)\)"):
        train(small_model(), (xs, ys), xt[:0], config(steps=1))
    with pytest.raises(ValueError, match=r"source: inputs of shape \(100, 3\) do not match the "
                                         r"model's input shape \(4,\)"):
        train(small_model(), (xs[:, :3], ys), xt, config(steps=1))
    with pytest.raises(ValueError, match=r"labels of shape \(99,\) do not match 100 inputs"):
        train(small_model(), (xs, ys[:99]), xt, config(steps=1))
    with pytest.raises(ValueError, match="target: labels are needed"):
        train(small_model(), (xs, ys), xt, config(method="target_only", steps=1))
    with pytest.raises(TypeError, match="labels must be integers"):
        train(small_model(), (xs, ys + 0.5), xt, config(steps=1))


@pytest.mark.parametrize("kw, match", [
    (dict(lambda_schedule="linear"), r"lambda_schedule must be 'paper' or 'constant', got 'linear'"),
    (dict(gamma=-10.0), r"gamma must be >= 0, got -10"),
    (dict(lambda_max=float("nan")), r"scale must be finite, got nan"),
    (dict(lambda_schedule="constant", lambda_max=-1.0), r"must be >= 0, got -1"),
    (dict(lr=0.0), r"mu0 \(initial learning rate\) must be > 0, got 0"),
    (dict(anneal_lr=False, lr=-1.0), r"mu0 \(learning rate\) must be > 0, got -1"),
    (dict(momentum=1.0), r"momentum must be in \[0, 1\), got 1.0"),
    (dict(method="adversarial"), r"method must be one of .*'adversarial'"),
    (dict(batch_size=1), r"batch_size must be >= 2"),
    (dict(device="tpu"), r"device must be 'cpu' or 'cuda', got 'tpu'"),
])
def test_nonsense_configs(kw, match):
    with pytest.raises(ValueError, match=match):
        config(**kw)


@pytest.mark.parametrize("kw, match", [
    (dict(steps=1.5), r"TrainConfig: steps must be an integer, got 1.5"),
    (dict(seed=True), r"TrainConfig: seed must be an integer, got True"),
    (dict(weight_decay="0.1"), r"TrainConfig: weight_decay must be a real number, got '0.1'"),
    (dict(progress=1), r"TrainConfig: progress must be True or False, got 1"),
])
def test_config_values_of_the_wrong_type(kw, match):
    with pytest.raises(TypeError, match=match):
        config(**kw)


def test_config_differences_leave_out_what_a_resume_may_change():
    saved = config(steps=6).to_dict()
    assert config_differences(saved, config(steps=6, eval_every=3, progress=True)) == []
    assert config_differences(saved, config(steps=8, lr=0.02)) == ["steps", "lr"]
    assert config_differences(saved, config(steps=6).to_dict()) == []


# -- the paper's conv nets ----------------------------------------------------------------------------------
def test_mnist_architecture_dann_steps():
    rng = np.random.default_rng(0)
    model = build_model("mnist", rng=0).check_sizes()
    assert model.feature_dim == 768 and input_shape_of("mnist") == (3, 28, 28)
    xs = rng.integers(0, 256, (16, 28, 28, 3), dtype=np.uint8)
    xt = rng.integers(0, 256, (16, 28, 28, 1), dtype=np.uint8)   # gray target, repeated
    ys = rng.integers(0, 10, 16)
    before = params_of(model)
    h = train(model, (xs, ys), xt, config(steps=2, batch_size=8))
    assert len(h["label_loss"]) == 2 and np.isfinite(h["label_loss"]).all()
    assert model.input_mean.shape == (3, 1, 1)
    after = model.state_dict()
    assert all(np.isfinite(v).all() for v in after.values())
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    assert predict_logits(model, xt).shape == (16, 10)


@pytest.mark.parametrize("name, dim", [("svhn", 128 * 7 * 7), ("gtsrb", 256 * 2 * 2)])
def test_other_architectures_have_consistent_sizes(name, dim):
    model = build_model(name, rng=0).check_sizes()
    assert model.feature_dim == dim
    x = mg.Tensor(np.zeros((1,) + input_shape_of(name), np.float32))
    with mg.no_grad():
        y, d = model(x)
    assert y.shape == (1, model.num_classes) and d.shape == (1, 1)


def test_pool_before_relu_is_the_same_network():
    """Max pooling and ReLU commute (both monotone), so the GTSRB extractor built
    pool-then-ReLU (a fused conv+pool+ReLU node per block) and ReLU-then-pool (plain nodes)
    is the same network up to rounding: the fused node sums each conv output in another
    order, and so may another machine's BLAS. The tolerance is tests/rounding.py's: the
    three convs' fan-ins plus biases (76 + 865 + 3601 = 4,542 terms) x float32 eps x the
    features' largest value, 5.4e-4 of that value (was a fixed atol 1e-6, rtol 1e-5, which
    an AMD EPYC's OpenBLAS broke by 2.4e-6 on an element of 5e-4)."""
    a = build_model("gtsrb", rng=0)
    b = build_model("gtsrb", rng=0, pool_then_relu=False)
    x = mg.Tensor(np.random.default_rng(1).standard_normal((2, 3, 40, 40)).astype(np.float32))
    with mg.no_grad():
        fa, fb = a.features(x).numpy(), b.features(x).numpy()
    n_terms = reduction_lengths(a.feature_extractor)
    assert n_terms == 76 + 865 + 3601
    assert_close_up_to_rounding(fa, fb, n_terms=n_terms)


# -- GPU ---------------------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_training_on_the_gpu_matches_the_cpu(data):
    xs, ys, xt, yt = data
    cpu, gpu = small_model(4), small_model(4)
    train(cpu, (xs, ys), xt, config(steps=10))
    h = train(gpu, (xs, ys), xt, config(steps=10, device="cuda"), val=((xs, ys), (xt, yt)))
    assert gpu.parameters()[0].device == "cuda"
    cfg = config(steps=10)
    for name, value in cpu.state_dict().items():   # cuBLAS sums in its own order
        assert_close_up_to_rounding(gpu.state_dict()[name], value,
                                    n_terms=cfg.steps * cfg.batch_size, err_msg=name)
    assert h["target_acc"][-1] is not None


def test_load_if_finished_reuses_only_an_identical_finished_run(tmp_path, data):
    xs, ys, xt, yt = data
    path = tmp_path / "run.npz"
    assert ckpt_io.load_if_finished(small_model(), path, config(steps=4).to_dict()) is None
    train(small_model(), (xs, ys), xt, config(steps=4), checkpoint_path=path, stop_after=2)
    assert ckpt_io.load_if_finished(small_model(), path, config(steps=4).to_dict()) is None  # half done
    done = small_model()
    train(done, (xs, ys), xt, config(steps=4), checkpoint_path=path)
    loaded = ckpt_io.load_if_finished(small_model(), path, config(steps=4).to_dict())
    for name, value in done.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value, err_msg=name)
    assert ckpt_io.load_if_finished(small_model(), path, config(steps=4, lr=0.02).to_dict()) is None
