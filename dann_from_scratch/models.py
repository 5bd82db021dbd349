"""The networks of the paper, each split into the three parts of DANN (Figure 1):

* G_f, the feature extractor  (parameters theta_f): input -> feature vector f;
* G_y, the label predictor    (theta_y): f -> class logits;
* G_d, the domain classifier  (theta_d): f -> one logit, "is this a target sample?".

:class:`DANNModel` bundles the three (as separate :class:`minigrad.nn.Module` objects) with the
gradient reversal layer that sits between G_f and G_d. The builders below give the paper's
architectures (section 5.1 and its supplementary material)::

    MNIST (3x28x28)  G_f: conv5x5x32 - ReLU - maxpool 2x2/2 - conv5x5x48 - ReLU - maxpool 2x2/2
                     G_y: fc100 - ReLU - fc100 - ReLU - fc10
                     G_d: fc100 - ReLU - fc1
    SVHN (3x32x32)   G_f: conv5x5x64 - maxpool 3x3/2 - conv5x5x64 - maxpool 3x3/2 - conv5x5x128
                     G_y: fc3072 - fc2048 - fc10
                     G_d: fc1024 - fc1024 - fc1
    GTSRB (3x40x40)  G_f: conv5x5x96 - pool 2x2/2 - conv3x3x144 - pool 2x2/2 - conv5x5x256 - pool 2x2/2
                     G_y: fc512 - fc43
                     G_d: fc1024 - fc1024 - fc1
    two moons (2)    G_f: fc15 - sigmoid    (the shallow network of the JMLR version, sec. 5.1.1)
                     G_y: fc2 (softmax)     G_d: fc1 (logistic), both on the 15 hidden units

Choices where the paper is silent (all configurable through the builders' arguments):

* **ReLU everywhere** after every conv layer and every hidden fc layer (the paper draws ReLUs
  only in the MNIST net). The output layers are plain linear maps (logits).
* **Pooling before ReLU.** ``maxpool(relu(x)) == relu(maxpool(x))`` exactly, because ReLU is
  monotone (non-decreasing) and so commutes with taking a maximum; pooling first applies the
  ReLU to 4x (or ~4.5x) fewer values, and lets a conv with its 2x2 pooling and ReLU run as
  one fused layer (:func:`minigrad.nn.fuse_conv_pool`). ``pool_then_relu=False`` gives the
  textbook order, run as separate layers.
* **Padding.** MNIST and GTSRB: none ("valid" convolutions), which gives 48x4x4 = 768 and
  256x2x2 = 1024 features. SVHN: padding 2 ("same") in every conv, because without it the
  third 5x5 conv would not fit (32 -> 28 -> 13 -> 9 -> 4 -> 0); this gives 128x7x7 = 6272
  features. Pooling is floor-mode, unpadded.
* **Dropout**: none by default; ``dropout=p`` puts inverted dropout after every hidden fc layer
  of both heads.
* **Inputs** are float32 NCHW, mean-subtracted (see :mod:`dann_from_scratch.trainers`). The MNIST
  net takes 3 channels, so that MNIST (gray, repeated) and MNIST-M share it; ``in_channels``
  changes that.
* **Initialisation**: He-normal for layers followed by a ReLU, Glorot-uniform for output layers
  and sigmoid layers; biases zero. Everything is drawn from one seeded generator, in order.
"""
from __future__ import annotations

from minigrad import nn
from minigrad.ops import conv_output_size
from minigrad.tensor import Tensor, no_grad

from .grl import GradientReversalLayer

__all__ = [
    "DANNModel", "build_model", "input_shape_of", "MODEL_NAMES",
    "mnist_model", "svhn_model", "gtsrb_model", "moons_model", "mlp_model",
]

np = nn.np


# -- the bundle --------------------------------------------------------------------------------
def _linears(module: nn.Module) -> list:
    return [m for _, m in module.named_modules() if isinstance(m, nn.Linear)]


def _head_input_size(head: nn.Module):
    """in_features of the first Linear layer of a head (None if it has none)."""
    lin = _linears(head)
    return lin[0].in_features if lin else None


class DANNModel(nn.Module):
    """G_f, G_y and G_d of DANN, with the gradient reversal layer R_lambda between G_f and G_d.

    ``features(x)`` = G_f(x);  ``classify(x)`` = G_y(G_f(x)) (class logits);
    ``forward(x)`` = (G_y(f), G_d(R_lambda(f))) with f = G_f(x), i.e. class logits (N, C) and
    domain logits (N, 1). ``grl.lambda_`` is set by the trainer every step.

    ``x`` is a float tensor already in the network's format (see
    :func:`dann_from_scratch.trainers.prepare_inputs` for raw images).

    Sizes are checked: the two heads must take the same input size, equal to ``feature_dim``
    when it is given (at construction), and equal to the actual width of G_f's output (at the
    first call). A mismatch is a ValueError naming both sizes.

    Attributes besides the three parts: ``input_shape`` (per-example shape, e.g. (3, 28, 28)),
    ``num_classes``, ``feature_dim``, ``name``, and ``input_mean``: the array that the trainer
    subtracts from every input (computed once from the training images, saved in checkpoints);
    None until a trainer sets it.
    """

    def __init__(self, feature_extractor: nn.Module, label_predictor: nn.Module,
                 domain_classifier: nn.Module, input_shape=None, feature_dim: int | None = None,
                 num_classes: int | None = None, name: str | None = None):
        super().__init__()
        for part, mod in (("feature_extractor", feature_extractor),
                          ("label_predictor", label_predictor),
                          ("domain_classifier", domain_classifier)):
            if not isinstance(mod, nn.Module):
                raise TypeError(f"DANNModel: {part} must be a minigrad nn.Module, "
                                f"got {type(mod).__name__}")
        self.feature_extractor = feature_extractor
        self.label_predictor = label_predictor
        self.domain_classifier = domain_classifier
        self.grl = GradientReversalLayer(0.0)
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self.name = name
        self.input_mean = None

        label_in = _head_input_size(label_predictor)
        domain_in = _head_input_size(domain_classifier)
        if label_in is not None and domain_in is not None and label_in != domain_in:
            raise ValueError(f"DANNModel: the label predictor takes {label_in} input features but "
                             f"the domain classifier takes {domain_in}; both read the same "
                             "feature vector, so the sizes must be equal")
        head_in = label_in if label_in is not None else domain_in
        if feature_dim is not None and head_in is not None and feature_dim != head_in:
            raise ValueError(f"DANNModel: the feature extractor outputs {feature_dim} features "
                             f"but the heads take {head_in} input features")
        self.feature_dim = feature_dim if feature_dim is not None else head_in
        self._head_in = {"label predictor": label_in, "domain classifier": domain_in}
        self._sizes_checked = False

        if num_classes is None:
            lin = _linears(label_predictor)
            num_classes = lin[-1].out_features if lin else None
        self.num_classes = num_classes

    # -- the three maps
    def features(self, x) -> Tensor:
        """f = G_f(x), shape (N, feature_dim)."""
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self._label()}: expected inputs of shape (N, "
                             f"{', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}")
        f = self.feature_extractor(x)
        if not self._sizes_checked:
            self._check_feature_size(f)
        return f

    def classify(self, x) -> Tensor:
        """Class logits G_y(G_f(x)), shape (N, num_classes)."""
        return self.label_predictor(self.features(x))

    def forward(self, x):
        """(class logits, domain logits) = (G_y(f), G_d(R_lambda(f))), f = G_f(x)."""
        f = self.features(x)
        return self.label_predictor(f), self.domain_classifier(self.grl(f))

    # -- checks
    def _label(self) -> str:
        return f"DANNModel({self.name})" if self.name else "DANNModel"

    def _check_feature_size(self, f) -> None:
        if f.ndim != 2:
            raise ValueError(f"{self._label()}: the feature extractor must output a matrix "
                             f"(N, features), got shape {tuple(f.shape)}; end it with Flatten()")
        width = f.shape[1]
        for head, size in self._head_in.items():
            if size is not None and size != width:
                raise ValueError(f"{self._label()}: the feature extractor outputs {width} features "
                                 f"per example but the {head} takes {size} input features")
        self._sizes_checked = True

    def check_sizes(self) -> "DANNModel":
        """Run one all-zero example through G_f (needs ``input_shape``) and check the sizes now."""
        if self.input_shape is None:
            raise ValueError(f"{self._label()}: check_sizes needs input_shape")
        dtype = self.parameters()[0].dtype
        x = Tensor(np.zeros((1,) + self.input_shape, dtype=dtype))
        training = self.training
        self.eval()  # no dropout masks, so no random numbers are drawn
        try:
            with no_grad():
                self._check_feature_size(self.feature_extractor(x.to(self.parameters()[0].device)))
        finally:
            self.train(training)
        return self

    def extra_repr(self) -> str:
        return f"name={self.name!r}, input_shape={self.input_shape}, features={self.feature_dim}"


# -- building blocks -----------------------------------------------------------------------------
def _window_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Side of a conv's or pooling's square output; a ValueError when the window does not fit."""
    out = conv_output_size(size, kernel, stride, padding)
    if out < 1:
        raise ValueError(f"a {kernel}x{kernel} window (stride {stride}, padding {padding}) does not "
                         f"fit a {size}x{size} input")
    return out


class _ConvStack:
    """Appends conv [+ pool] + ReLU blocks to a list and tracks the output size.

    ``finish`` runs the stack through :func:`minigrad.nn.fuse_conv_pool`, so each
    conv -> 2x2 max pool -> ReLU block (pooling first) becomes one fused layer; the layer
    names, and so the state-dict names, stay those of the plain stack.
    """

    def __init__(self, in_channels: int, size: int, rng, pool_then_relu: bool):
        self.layers, self.channels, self.size = [], in_channels, size
        self.rng, self.pool_then_relu = rng, pool_then_relu

    def block(self, out_channels: int, kernel: int, padding: int, pool=None):
        self.layers.append(nn.Conv2d(self.channels, out_channels, kernel, padding=padding,
                                     rng=self.rng))
        self.channels, self.size = out_channels, _window_output_size(self.size, kernel, 1, padding)
        if pool is None:
            self.layers.append(nn.ReLU())
            return
        pk, ps = pool
        pool_layer = nn.MaxPool2d(pk, ps)
        self.size = _window_output_size(self.size, pk, ps)
        # maxpool(relu(x)) == relu(maxpool(x)): ReLU is monotone; pooling first is cheaper.
        self.layers += [pool_layer, nn.ReLU()] if self.pool_then_relu else [nn.ReLU(), pool_layer]

    def finish(self):
        g_f = nn.fuse_conv_pool(nn.Sequential(*self.layers, nn.Flatten()))
        return g_f, self.channels * self.size * self.size


def _mlp_head(in_features: int, hidden, out_features: int, rng, dropout: float = 0.0,
              activation: str = "relu") -> nn.Sequential:
    """fc-act[-dropout] for every hidden size, then a linear output layer."""
    layers, width = [], in_features
    act_init = "he" if activation == "relu" else "glorot"
    for h in hidden:
        layers += [nn.Linear(width, h, rng=rng, init=act_init), _activation(activation)]
        if dropout:
            layers.append(nn.Dropout(dropout, rng=rng))
        width = h
    layers.append(nn.Linear(width, out_features, rng=rng, init="glorot"))
    return nn.Sequential(*layers)


def _activation(name: str) -> nn.Module:
    table = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(table)}")
    return table[name]()


# -- the paper's networks -------------------------------------------------------------------------
def mnist_model(rng=None, in_channels: int = 3, padding: int = 0, dropout: float = 0.0,
                pool_then_relu: bool = True) -> DANNModel:
    """The MNIST -> MNIST-M network (input ``in_channels`` x 28 x 28, 10 classes)."""
    rng = nn.as_rng(rng)
    convs = _ConvStack(in_channels, 28, rng, pool_then_relu)
    convs.block(32, 5, padding, pool=(2, 2))
    convs.block(48, 5, padding, pool=(2, 2))
    g_f, dim = convs.finish()                       # 48 x 4 x 4 = 768 with padding 0
    g_y = _mlp_head(dim, (100, 100), 10, rng, dropout)
    g_d = _mlp_head(dim, (100,), 1, rng, dropout)
    return DANNModel(g_f, g_y, g_d, input_shape=(in_channels, 28, 28), feature_dim=dim,
                     name="mnist")


def svhn_model(rng=None, in_channels: int = 3, padding: int = 2, dropout: float = 0.0,
               pool_then_relu: bool = True) -> DANNModel:
    """The SVHN network (Syn Numbers -> SVHN, SVHN -> MNIST; input 3 x 32 x 32, 10 classes)."""
    rng = nn.as_rng(rng)
    convs = _ConvStack(in_channels, 32, rng, pool_then_relu)
    convs.block(64, 5, padding, pool=(3, 2))
    convs.block(64, 5, padding, pool=(3, 2))
    convs.block(128, 5, padding)                    # no pooling after the third conv
    g_f, dim = convs.finish()                       # 128 x 7 x 7 = 6272 with padding 2
    g_y = _mlp_head(dim, (3072, 2048), 10, rng, dropout)
    g_d = _mlp_head(dim, (1024, 1024), 1, rng, dropout)
    return DANNModel(g_f, g_y, g_d, input_shape=(in_channels, 32, 32), feature_dim=dim,
                     name="svhn")


def gtsrb_model(rng=None, in_channels: int = 3, padding: int = 0, dropout: float = 0.0,
                pool_then_relu: bool = True) -> DANNModel:
    """The Syn Signs -> GTSRB network (input 3 x 40 x 40, 43 classes)."""
    rng = nn.as_rng(rng)
    convs = _ConvStack(in_channels, 40, rng, pool_then_relu)
    convs.block(96, 5, padding, pool=(2, 2))
    convs.block(144, 3, padding, pool=(2, 2))
    convs.block(256, 5, padding, pool=(2, 2))
    g_f, dim = convs.finish()                       # 256 x 2 x 2 = 1024 with padding 0
    g_y = _mlp_head(dim, (512,), 43, rng, dropout)
    g_d = _mlp_head(dim, (1024, 1024), 1, rng, dropout)
    return DANNModel(g_f, g_y, g_d, input_shape=(in_channels, 40, 40), feature_dim=dim,
                     name="gtsrb")


def mlp_model(input_dim: int, num_classes: int, hidden=(15,), domain_hidden=(), rng=None,
              activation: str = "relu", dropout: float = 0.0, name: str = "mlp") -> DANNModel:
    """A fully connected DANN for feature vectors: G_f = the ``hidden`` layers (each followed by
    ``activation``), G_y = one linear layer to ``num_classes`` logits, G_d = ``domain_hidden``
    ReLU layers (each followed by dropout when ``dropout`` > 0) then one logit."""
    rng = nn.as_rng(rng)
    hidden = tuple(int(h) for h in (hidden if hasattr(hidden, "__iter__") else (hidden,)))
    if not hidden:
        raise ValueError("mlp_model: needs at least one hidden layer (the features)")
    layers, width = [], int(input_dim)
    init = "he" if activation == "relu" else "glorot"
    for h in hidden:
        layers += [nn.Linear(width, h, rng=rng, init=init), _activation(activation)]
        width = h
    g_f = nn.Sequential(*layers)
    g_y = _mlp_head(width, (), num_classes, rng)
    g_d = _mlp_head(width, tuple(domain_hidden), 1, rng, dropout)
    return DANNModel(g_f, g_y, g_d, input_shape=(int(input_dim),), feature_dim=width,
                     num_classes=num_classes, name=name)


def moons_model(rng=None, hidden: int = 15, activation: str = "sigmoid") -> DANNModel:
    """The shallow network of the JMLR two-moons experiment (sec. 5.1.1): one hidden layer of 15
    sigmoid units is G_f; G_y (softmax over 2 classes) and G_d (logistic regression) both read
    those 15 units directly."""
    return mlp_model(2, 2, hidden=(hidden,), rng=rng, activation=activation, name="moons")


# -- by name ---------------------------------------------------------------------------------------
_BUILDERS = {"mnist": mnist_model, "svhn": svhn_model, "gtsrb": gtsrb_model, "moons": moons_model}
_INPUT_SHAPES = {"mnist": (3, 28, 28), "svhn": (3, 32, 32), "gtsrb": (3, 40, 40), "moons": (2,)}
MODEL_NAMES = tuple(_BUILDERS)


def _check_name(name: str) -> str:
    key = str(name).lower()
    if key not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)} "
                         "(or 'mlp' with input_dim= and num_classes=)")
    return key


def build_model(name: str, rng=None, **kwargs) -> DANNModel:
    """The network ``name`` ('mnist', 'svhn', 'gtsrb', 'moons', or 'mlp'), initialised from
    ``rng`` (a seed or a numpy Generator). Extra keyword arguments go to the builder (e.g.
    ``padding``, ``dropout``, ``pool_then_relu``; for 'mlp': ``input_dim``, ``num_classes``,
    ``hidden``)."""
    if str(name).lower() == "mlp":
        return mlp_model(rng=rng, **kwargs)
    return _BUILDERS[_check_name(name)](rng=rng, **kwargs)


def input_shape_of(name: str) -> tuple:
    """Per-example input shape of a named network, e.g. (3, 28, 28) for 'mnist'."""
    return _INPUT_SHAPES[_check_name(name)]
