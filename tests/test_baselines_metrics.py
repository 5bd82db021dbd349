"""Subspace alignment, last-layer SVM retraining, accuracy / gap / proxy A-distance, plots."""
import inspect
import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dann_from_scratch.baselines import (  # noqa: E402
    DEFAULT_C_GRID,
    SubspaceAlignment,
    fernando_d_max,
    retrain_last_layer_svm,
    select_d,
    subspace_alignment_accuracy,
)
from dann_from_scratch.metrics import (  # noqa: E402
    accuracy,
    domain_classifier_error,
    gap_covered,
    proxy_a_distance,
)
from dann_from_scratch import plots  # noqa: E402


# -- synthetic domains -------------------------------------------------------------------
def _latent(rng, n, D, spurious):
    """3 classes in a 2-D plane (dims 0, 1), two more signal dims (2, 3), low noise elsewhere.

    Dim 4 carries a small-variance cue: class-correlated in the source (``spurious=True``),
    unrelated to the class in the target - the kind of domain-specific feature a source
    classifier latches onto.
    """
    y = rng.integers(0, 3, n)
    ang = 2 * np.pi * y / 3
    plane = np.stack([3 * np.cos(ang), 1.5 * np.sin(ang)], 1) + rng.normal(0, 0.6, (n, 2))
    extra = rng.normal(0, 1, (n, 2)) * np.array([1.0, 0.7])
    noise = rng.normal(0, 0.05, (n, D - 4))
    cue = (y if spurious else rng.integers(0, 3, n)) - 1
    noise[:, 0] += 0.1 * cue
    return np.concatenate([plane, extra, noise], 1), y


def _shifted_domains(seed=0, n=300, D=20, theta_deg=50.0):
    """Source, and a target whose class plane is tilted by ``theta`` into dims 4, 5, then
    scaled by 2.5 and shifted by a random offset."""
    rng = np.random.default_rng(seed)
    Xs, ys = _latent(rng, n, D, spurious=True)
    Xt0, yt = _latent(rng, n, D, spurious=False)
    th = np.deg2rad(theta_deg)
    R = np.eye(D)
    for a, b in ((0, 4), (1, 5)):
        R[a, a] = R[b, b] = np.cos(th)
        R[a, b], R[b, a] = -np.sin(th), np.sin(th)
    Xt = (Xt0 @ R.T) * 2.5 + rng.normal(0, 3, D)
    return Xs, ys, Xt, yt


# -- subspace alignment ------------------------------------------------------------------
def test_sa_beats_no_alignment_on_shifted_domains():
    Xs, ys, Xt, yt = _shifted_domains()
    no_align = retrain_last_layer_svm(Xs, ys, Xt, yt).target_accuracy
    centred = retrain_last_layer_svm(Xs - Xs.mean(0), ys, Xt - Xt.mean(0), yt).target_accuracy
    sa = subspace_alignment_accuracy(Xs, ys, Xt, yt)          # d chosen without yt
    assert 2 <= sa.d <= 4                                      # the shared signal subspace
    assert sa.target_accuracy >= 0.9
    assert no_align <= 0.6 and centred <= 0.6
    assert sa.target_accuracy >= max(no_align, centred) + 0.3
    # M sees the 50 degree tilt of the class plane: |M_ii| ~ cos 50 = 0.64 for i = 1, 2
    assert np.allclose(np.abs(np.diag(sa.alignment.M_))[:2], np.cos(np.deg2rad(50)), atol=0.1)


def test_sa_full_rank_reduces_to_a_change_of_basis():
    rng = np.random.default_rng(1)
    D = 8
    Xs = rng.normal(size=(50, D)) * np.arange(1, D + 1)
    Xt = rng.normal(size=(60, D)) @ rng.normal(size=(D, D)) + 5.0
    sa = SubspaceAlignment(D).fit(Xs, Xt)
    M = sa.M_
    assert M.shape == (D, D)
    np.testing.assert_allclose(M @ M.T, np.eye(D), atol=1e-10)      # M orthogonal
    np.testing.assert_allclose(sa.basis_s_ @ M, sa.basis_t_, atol=1e-10)  # X_S M = X_T
    norm_s = (Xs - Xs.mean(0)) / sa.scale_s_
    np.testing.assert_allclose(sa.transform_source(Xs), norm_s @ sa.basis_t_, atol=1e-10)
    # so source distances are only rescaled, never distorted
    Zs = sa.transform_source(Xs)
    d_orig = np.linalg.norm(norm_s[0] - norm_s[1:], axis=1)
    np.testing.assert_allclose(np.linalg.norm(Zs[0] - Zs[1:], axis=1), d_orig, rtol=1e-10)


def test_sa_alignment_is_inner_products_and_cannot_undo_an_orthogonal_move():
    rng = np.random.default_rng(2)
    Xs = np.zeros((200, 6))
    Xt = np.zeros((200, 6))
    Xs[:, :2] = rng.normal(size=(200, 2)) * [3.0, 1.0]
    Xt[:, 2:4] = rng.normal(size=(200, 2)) * [3.0, 1.0]   # same shape, orthogonal subspace
    Xs += 1e-3 * rng.normal(size=Xs.shape)
    Xt += 1e-3 * rng.normal(size=Xt.shape)
    sa = SubspaceAlignment(2).fit(Xs, Xt)
    np.testing.assert_allclose(sa.M_, sa.basis_s_.T @ sa.basis_t_)
    assert np.abs(sa.M_).max() < 0.01                     # M = X_S^T X_T ~ 0
    np.testing.assert_allclose(np.abs(sa.basis_s_[:2]), np.eye(2), atol=0.05)
    assert sa.transform_target(Xt).shape == (200, 2)


def test_sa_truncated_equals_refit():
    Xs, _, Xt, _ = _shifted_domains(seed=3, n=120)
    big = SubspaceAlignment(10).fit(Xs, Xt)
    small = SubspaceAlignment(4).fit(Xs, Xt)
    trunc = big.truncated(4)
    np.testing.assert_allclose(trunc.M_, small.M_, atol=1e-8)
    np.testing.assert_allclose(trunc.transform_source(Xs), small.transform_source(Xs), atol=1e-8)
    np.testing.assert_allclose(trunc.transform_target(Xt), small.transform_target(Xt), atol=1e-8)


def test_sa_input_errors():
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(30, 10)), rng.normal(size=(40, 10))
    with pytest.raises(ValueError, match=r"d=12.*min\(N, D\) = 10.*\(30, 10\).*\(40, 10\)"):
        SubspaceAlignment(12).fit(Xs, Xt)
    with pytest.raises(ValueError, match=r"d=25.*min\(N, D\) = 20"):
        SubspaceAlignment(25).fit(rng.normal(size=(20, 50)), rng.normal(size=(30, 50)))
    with pytest.raises(ValueError, match="same dimension"):
        SubspaceAlignment(3).fit(Xs, rng.normal(size=(40, 9)))
    with pytest.raises(ValueError, match="d must be >= 1"):
        SubspaceAlignment(0)
    with pytest.raises(TypeError):
        SubspaceAlignment(2.5)
    with pytest.raises(RuntimeError, match="not fitted"):
        SubspaceAlignment(2).transform_source(Xs)
    sa = SubspaceAlignment(3).fit(Xs, Xt)
    with pytest.raises(ValueError, match="D=9"):
        sa.transform_target(rng.normal(size=(5, 9)))
    with pytest.raises(ValueError, match="NaN"):
        SubspaceAlignment(3).fit(np.full((30, 10), np.nan), Xt)
    with pytest.raises(ValueError, match="same dimension"):
        select_d(Xs, np.arange(30) % 2, rng.normal(size=(40, 9)))


def test_select_d_takes_no_target_labels_and_stays_in_range():
    params = inspect.signature(select_d).parameters
    label_params = [p for p in params if p.startswith("y") or "label" in p]
    assert label_params == ["y_src"]
    assert list(params)[:3] == ["features_src", "y_src", "features_tgt"]
    # D = 80 > 60: the chosen d must still lie in 2..60, for both criteria
    rng = np.random.default_rng(4)
    centers = rng.normal(0, 3, (4, 80))
    ys = rng.integers(0, 4, 200)
    Xs = centers[ys] + rng.normal(size=(200, 80))
    Xt = centers[rng.integers(0, 4, 150)] + rng.normal(size=(150, 80)) + 1.0
    for crit in ("fernando", "reverse_validation"):
        sel = select_d(Xs, ys, Xt, criterion=crit)
        assert 2 <= sel.d <= 60, crit
        assert all(2 <= d <= 60 for d in sel.candidates)
        assert sel.scores[sel.d] == max(sel.scores.values())
    # a tiny gamma makes the stability bound reject everything: d falls back to d_lo = 2
    assert select_d(Xs, ys, Xt, gamma=1e-6).d == 2
    with pytest.raises(ValueError, match="criterion"):
        select_d(Xs, ys, Xt, criterion="target_accuracy")


def test_fernando_d_max_finds_the_eigengap():
    eig = np.array([0.4, 0.3, 0.2, 0.05, 1e-4, 9e-5, 8e-5, 7e-5])
    assert fernando_d_max(eig, eig, n_min=10_000) == 4
    assert fernando_d_max(eig, eig, n_min=10_000, gamma=1e-3) == 0
    # the cap is the *smaller* of the two domains' stable dimensions
    eig_t = np.array([0.6, 0.3, 1e-4, 9e-5, 8e-5, 7e-5, 6e-5, 5e-5])
    assert fernando_d_max(eig, eig_t, n_min=10_000) == 2


# -- linear SVM retraining ---------------------------------------------------------------
def test_svm_retraining_learns_a_separable_problem():
    rng = np.random.default_rng(5)

    def sample(n):
        y = rng.integers(0, 2, n)
        return rng.normal(size=(n, 6)) + 6.0 * (2 * y[:, None] - 1) * np.eye(6)[0], y

    Xs, ys = sample(300)
    Xt, yt = sample(200)
    res = retrain_last_layer_svm(Xs, ys, Xt, yt)
    assert res.target_accuracy == 1.0
    assert res.C in DEFAULT_C_GRID and set(res.val_accuracy) == set(DEFAULT_C_GRID)
    best = max(res.val_accuracy.values())
    assert res.C == min(c for c, a in res.val_accuracy.items() if a == best)
    assert res.classifier.named_steps["svm"].C == res.C
    assert list(res.classifier.named_steps) == ["scale", "svm"]
    # the scaler was fit on the source only
    np.testing.assert_allclose(res.classifier.named_steps["scale"].mean_, Xs.mean(0))
    unlabeled = retrain_last_layer_svm(Xs, ys, Xt, C_grid=(0.1, 1.0))
    assert unlabeled.target_accuracy is None and unlabeled.C in (0.1, 1.0)
    assert unlabeled.target_pred.shape == (200,)


def test_svm_retraining_picks_c_from_the_grid_on_source_only():
    rng = np.random.default_rng(6)
    # noisy labels: a strong penalty over-fits less than nothing, every C must be tried
    Xs = rng.normal(size=(400, 30))
    ys = (Xs[:, 0] + 0.8 * rng.normal(size=400) > 0).astype(int)
    Xt = rng.normal(size=(50, 30))
    res = retrain_last_layer_svm(Xs, ys, Xt, C_grid=(1e-4, 1e-2, 1.0, 100.0))
    assert res.C in (1e-4, 1e-2, 1.0, 100.0) and len(res.val_accuracy) == 4


def test_svm_retraining_errors():
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(40, 5)), np.arange(40) % 2
    with pytest.raises(ValueError, match="same dimension"):
        retrain_last_layer_svm(Xs, ys, rng.normal(size=(10, 4)))
    with pytest.raises(ValueError, match="two classes"):
        retrain_last_layer_svm(Xs, np.zeros(40), rng.normal(size=(10, 5)))
    with pytest.raises(ValueError, match="39 labels"):
        retrain_last_layer_svm(Xs, ys[:39], rng.normal(size=(10, 5)))
    with pytest.raises(ValueError, match="C_grid"):
        retrain_last_layer_svm(Xs, ys, rng.normal(size=(10, 5)), C_grid=(0.0, 1.0))


# -- accuracy and gap covered ------------------------------------------------------------
def test_accuracy():
    assert accuracy([0, 1, 2, 2], np.array([0, 1, 1, 2])) == 0.75
    with pytest.raises(ValueError, match="different lengths"):
        accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])
    with pytest.raises(ValueError, match="argmax"):
        accuracy([0, 1], np.eye(2))


def test_gap_covered_on_table_1():
    assert gap_covered(0.7666, 0.5225, 0.9596) == pytest.approx(0.5585, abs=5e-4)
    assert gap_covered(0.5690, 0.5225, 0.9596) == pytest.approx(0.1064, abs=5e-4)  # SA row
    assert gap_covered(0.7385, 0.5490, 0.9942) == pytest.approx(0.4257, abs=5e-4)  # SVHN->MNIST
    assert gap_covered(0.5225, 0.5225, 0.9596) == 0.0
    assert gap_covered(0.9596, 0.5225, 0.9596) == 1.0
    assert gap_covered(0.5, 0.6, 0.9) < 0  # worse than source only
    with pytest.raises(ValueError, match="gap is zero"):
        gap_covered(0.7, 0.5, 0.5)
    with pytest.raises(ValueError, match="finite"):
        gap_covered(float("nan"), 0.5, 0.9)
    with pytest.raises(TypeError):
        gap_covered("high", 0.5, 0.9)


# -- proxy A-distance --------------------------------------------------------------------
def test_proxy_a_distance_extremes_and_monotone_in_shift():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(1000, 10))
    b = rng.normal(size=(1000, 10))
    assert proxy_a_distance(a, b) < 0.3                       # one distribution, two samples
    assert proxy_a_distance(a, b + 5.0) > 1.9                 # far apart
    shifts = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
    values = []
    for s in shifts:
        c = b.copy()
        c[:, 0] += s
        values.append(proxy_a_distance(a, c))
    assert all(0.0 <= v <= 2.0 for v in values)
    assert all(v2 >= v1 - 0.1 for v1, v2 in zip(values, values[1:])), values
    assert values[-1] > values[0] + 1.5
    d, info = proxy_a_distance(a, b + 5.0, return_details=True, max_samples=300)
    assert info["n_per_domain"] == 300
    assert d == pytest.approx(2 * (1 - 2 * info["eps"]))
    assert info["eps"] == min(info["errors"].values())


def test_domain_classifier_error_and_errors():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(200, 4)), rng.normal(size=(300, 4)) + 4.0
    err = domain_classifier_error(a, b, C=1.0)
    assert isinstance(err, float) and err < 0.05
    errs = domain_classifier_error(a, b, C=(0.01, 1.0))
    assert set(errs) == {0.01, 1.0}
    with pytest.raises(ValueError, match="same dimension"):
        proxy_a_distance(a, b[:, :3])
    with pytest.raises(ValueError, match="at least 4 rows"):
        proxy_a_distance(a[:3], b)
    with pytest.raises(ValueError, match="2-D"):
        proxy_a_distance(a[:, 0], b)


# -- plots -------------------------------------------------------------------------------
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path, size=None):
    path = str(path)
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    img = mpimg.imread(path)
    if size is not None:
        assert img.shape[:2] == size
    rgb = img[..., :3]
    assert rgb.std() > 0.05                       # not blank
    assert (np.abs(rgb - rgb[0, 0]).sum(-1) > 0.1).mean() > 0.02   # plenty of non-background
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]
    assert leftovers == []


def test_plot_tsne_and_pair(tmp_path):
    rng = np.random.default_rng(9)
    src = rng.normal(size=(70, 20))
    tgt = rng.normal(size=(60, 20)) + 3.0
    p = plots.plot_tsne(src, tgt, tmp_path / "tsne.png", "t-SNE", max_points=50, max_iter=250,
                        n_threads=1, figsize=(4, 4), dpi=50)
    assert p == tmp_path / "tsne.png"
    _check_png(p, size=(200, 200))
    p2 = plots.plot_tsne_pair(src, tgt, src, src + 0.1, tmp_path / "sub" / "pair.png",
                              max_points=40, max_iter=250, n_threads=1, figsize=(8, 4), dpi=50)
    _check_png(p2, size=(200, 400))
    assert sorted(os.listdir(tmp_path)) == ["sub", "tsne.png"]


def test_long_figure_titles_are_wrapped_to_fit():
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 4), dpi=50)
    long = ("MNIST -> MNIST-M (source domain mnist_binary, target domain mnistm_binary): "
            "G_f features, source (blue) vs target (red)")
    title = plots.fit_suptitle(fig, long)
    renderer = fig.canvas.get_renderer()
    assert title.get_window_extent(renderer).width <= 8 * 50
    assert "\n" in title.get_text() and title.get_text().replace("\n", " ") == long
    short = plots.fit_suptitle(fig, "t-SNE")
    assert short.get_text() == "t-SNE"
    plt.close(fig)


def test_plot_training_curves(tmp_path):
    steps = list(range(0, 1000, 10))
    p = np.array(steps) / 1000
    hist = {"step": steps, "label_loss": list(np.exp(-3 * p)), "domain_loss": list(0.7 - 0.1 * p),
            "domain_acc": list(0.5 + 0.3 * np.exp(-5 * p)),
            "lambda": list(2 / (1 + np.exp(-10 * p)) - 1),
            "lr": list(0.01 / (1 + 10 * p) ** 0.75)}
    out = plots.plot_training_curves(hist, tmp_path / "curves.png", dpi=50)
    _check_png(out)
    partial = {"label_loss": [1.0, 0.5, 0.2], "lr": [0.01, 0.009, None]}   # no step, no domain
    _check_png(plots.plot_training_curves(partial, tmp_path / "partial.png", dpi=50))
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_training_curves({"step": [1, 2]}, tmp_path / "none.png")
    with pytest.raises(ValueError, match=r"\['step'\] has 2"):
        plots.plot_training_curves({"step": [1, 2], "lr": [1, 2, 3]}, tmp_path / "bad.png")
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "partial.png"]


def test_plot_decision_boundary(tmp_path):
    from sklearn.datasets import make_moons
    from sklearn.linear_model import LogisticRegression

    Xs, ys = make_moons(150, noise=0.05, random_state=0)
    Xt, _ = make_moons(150, noise=0.05, random_state=1)
    Xt = Xt @ np.array([[np.cos(0.6), -np.sin(0.6)], [np.sin(0.6), np.cos(0.6)]]).T
    clf = LogisticRegression().fit(Xs, ys)
    seen = {}

    def proba(pts):
        seen["dtype"], seen["shape"] = pts.dtype, pts.shape
        return clf.predict_proba(pts)                        # (M, 2)

    out = plots.plot_decision_boundary(proba, Xs, ys, Xt, tmp_path / "moons.png", "moons",
                                       resolution=80, dpi=50)
    assert seen["dtype"] == np.float32 and seen["shape"] == (80 * 80, 2)
    _check_png(out)
    out2 = plots.plot_decision_boundary(lambda z: clf.predict_proba(z)[:, 1], Xs, ys, Xt,
                                        tmp_path / "moons1.png", "moons", resolution=60, dpi=50,
                                        yt=np.zeros(150, int))
    _check_png(out2)
    with pytest.raises(ValueError, match="predict_proba must return"):
        plots.plot_decision_boundary(lambda z: np.zeros((len(z), 3)), Xs, ys, Xt,
                                     tmp_path / "bad.png", resolution=20)
    with pytest.raises(ValueError, match="2-D points"):
        plots.plot_decision_boundary(proba, np.zeros((5, 3)), np.zeros(5), Xt, tmp_path / "b.png")
    assert sorted(os.listdir(tmp_path)) == ["moons.png", "moons1.png"]


def test_plot_learning_curves(tmp_path):
    x = np.arange(0, 10001, 500)
    out = plots.plot_learning_curves(
        {"source only": (x, 0.5 + 0.3 * np.exp(-x / 2000)),
         "DANN": (x, 0.25 + 0.5 * np.exp(-x / 3000))},
        tmp_path / "lc.png", "batches", "validation error", title="Figure 4", dpi=50,
        figsize=(6, 4))
    _check_png(out, size=(200, 300))
    with pytest.raises(ValueError, match="equal length"):
        plots.plot_learning_curves({"a": ([1, 2], [1])}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_learning_curves({}, tmp_path / "bad.png")
    assert os.listdir(tmp_path) == ["lc.png"]


def test_save_figure_is_atomic(tmp_path):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    fig, ax = plt.subplots()
    ax.plot([0, 1])

    def boom(*a, **k):
        raise OSError("disk full")

    fig.savefig = boom
    with pytest.raises(OSError, match="disk full"):
        plots.save_figure(fig, target)
    assert target.read_bytes() == b"old"                # the old file is untouched
    assert os.listdir(tmp_path) == ["fig.png"]          # and no temp file is left


# -- the dense linear SVM ---------------------------------------------------------------------------
def _svm_objective(W, b, X, y, classes, C):
    """LinearSVC's primal objective (one-vs-rest squared hinge, penalised bias) at (W, b)."""
    Y = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
    if len(classes) == 2:
        Y = Y[:, 1:]
    scores = X @ W.T + b
    return 0.5 * (np.sum(W * W) + np.sum(b * b)) + C * np.sum(np.maximum(1 - Y * scores, 0) ** 2)


@pytest.mark.parametrize("n_classes", [2, 5])
@pytest.mark.parametrize("C", [0.01, 1.0, 10.0])
def test_dense_linear_svc_minimises_the_liblinear_objective(n_classes, C):
    """Same objective as scikit-learn's LinearSVC, reached at least as well (liblinear run to a
    tight tolerance on a small, overlapping problem), and the same predictions."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    from dann_from_scratch.baselines import DenseLinearSVC

    rng = np.random.default_rng(n_classes)
    centres = rng.normal(0, 1.5, (n_classes, 6))
    y = rng.integers(0, n_classes, 400)
    X = centres[y] + rng.normal(0, 1.0, (400, 6))
    labels = np.array([3, 7, 8, 11, 20])[y]                     # arbitrary class labels
    ours = DenseLinearSVC(C=C, tol=1e-6).fit(X, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LinearSVC(C=C, dual=False, tol=1e-8, max_iter=100000).fit(X, labels)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert ours.coef_.shape == ref.coef_.shape and ours.intercept_.shape == ref.intercept_.shape
    f_ours = _svm_objective(ours.coef_, ours.intercept_, X, labels, ours.classes_, C)
    f_ref = _svm_objective(ref.coef_, ref.intercept_, X, labels, ref.classes_, C)
    assert f_ours <= f_ref * (1 + 1e-5), (f_ours, f_ref)
    assert np.mean(ours.predict(X) == ref.predict(X)) >= 0.99
    assert ours.decision_function(X).shape == ((400,) if n_classes == 2 else (400, n_classes))


def test_dense_linear_svc_errors_name_the_problem():
    from dann_from_scratch.baselines import DenseLinearSVC

    with pytest.raises(ValueError, match="need two classes"):
        DenseLinearSVC().fit(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"C must be a positive number"):
        DenseLinearSVC(C=0).fit(np.zeros((4, 2)), np.arange(4) % 2)
    clf = DenseLinearSVC().fit(np.eye(4), np.arange(4) % 2)
    with pytest.raises(ValueError, match=r"expected \(N, 4\) features, got \(2, 3\)"):
        clf.predict(np.zeros((2, 3)))
