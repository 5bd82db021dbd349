"""Every mistake a user can make gets a clear message: the op, the shapes, what to do."""
from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, ops, optim


def f32(*shape):
    return mg.Tensor(np.ones(shape, np.float32), requires_grad=True)


def shapes_in(*shapes):
    """A regex that finds each shape, in order, anywhere in the message."""
    return ".*".join(re.escape(str(s)) for s in shapes)


# -- shape mismatches name the op and both shapes ------------------------------------------------
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("sa, sb", [((2, 3), (4,)), ((2, 3), (3, 2)), ((5, 1, 2), (4, 3))])
def test_binary_broadcasting_failure_names_op_and_shapes(op, sa, sb):
    with pytest.raises(ValueError, match=f"^{op}: .*" + shapes_in(sa, sb) + ".*broadcast"):
        getattr(ops, op)(f32(*sa), f32(*sb))


def test_bool_of_a_tensor():
    Tensor = mg.Tensor
    assert bool(Tensor(np.array([2.0], dtype=np.float32))) is True
    assert bool(Tensor(np.float32(0.0))) is False
    with pytest.raises(ValueError, match=r"bool\(Tensor of shape \(3,\)\).*ambiguous"):
        bool(Tensor(np.ones(3, dtype=np.float32)))


def test_binary_operator_broadcasting_failure():
    with pytest.raises(ValueError, match=r"mul: .*\(2, 3\).*\(2,\)"):
        f32(2, 3) * f32(2)


def test_matmul_shape_errors():
    with pytest.raises(ValueError, match="matmul: .*" + shapes_in((2, 3), (4, 5)) + ".*not aligned"):
        ops.matmul(f32(2, 3), f32(4, 5))
    with pytest.raises(ValueError, match="matmul: .*batch.*" + shapes_in((2, 3, 4), (5, 4, 6))):
        ops.matmul(f32(2, 3, 4), f32(5, 4, 6))
    with pytest.raises(ValueError, match="matmul: 1-D"):
        ops.matmul(f32(3), f32(3, 2))


def test_linear_shape_errors():
    with pytest.raises(ValueError, match="linear: .*" + shapes_in((2, 5), (3, 4))):
        ops.linear(f32(2, 5), f32(3, 4))
    with pytest.raises(ValueError, match="linear: bias .*" + shapes_in((4,), (3, 4))):
        ops.linear(f32(2, 4), f32(3, 4), f32(4))
    with pytest.raises(ValueError, match=r"Linear\(4, 3\).*\(N, 4\).*\(2, 5\)"):
        nn.Linear(4, 3, rng=0)(f32(2, 5))


def test_reshape_error():
    with pytest.raises(ValueError, match="reshape: .*" + shapes_in((2, 3), (4, 2))):
        f32(2, 3).reshape(4, 2)


def test_concatenate_errors():
    with pytest.raises(ValueError, match="concatenate: shapes .*" + shapes_in((2, 3), (3, 3))):
        ops.concatenate([f32(2, 3), f32(3, 3)], axis=1)
    with pytest.raises(ValueError, match="concatenate: .*differ"):
        ops.concatenate([f32(2, 3), f32(2, 3, 1)], axis=0)
    with pytest.raises(ValueError, match="concatenate: axis 5 is out of range"):
        ops.concatenate([f32(2, 3), f32(2, 3)], axis=5)
    with pytest.raises(ValueError, match="concatenate: needs at least one"):
        ops.concatenate([])


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reduction_axis_out_of_range_is_an_error_not_a_wrap(op):
    x = f32(2, 3)
    with pytest.raises(ValueError, match=f"{op}: axis 2 is out of range .* 2 dimension"):
        getattr(ops, op)(x, axis=2)  # used to silently reduce axis 0 (2 % 2)
    with pytest.raises(ValueError, match=f"{op}: axis -3 is out of range"):
        getattr(ops, op)(x, axis=(0, -3))
    with pytest.raises(ValueError, match=f"{op}: axis .* twice"):
        getattr(ops, op)(x, axis=(1, -1))
    with pytest.raises(ValueError, match=f"{op}: axis 0 is out of range .* 0 dimension"):
        getattr(ops, op)(mg.tensor(1.0), axis=0)  # used to raise ZeroDivisionError


def test_transpose_axes_must_be_a_permutation():
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 2\) are not a permutation"):
        ops.transpose(f32(2, 3), 0, 2)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 5\)"):
        ops.transpose(f32(2, 3), 0, 5)  # used to wrap silently to (0, 1)
    with pytest.raises(ValueError, match=r"transpose: axes \(1, 0, 2\)"):
        ops.transpose(f32(2, 3), 1, 0, 2)


def test_cross_entropy_label_errors():
    logits = f32(3, 4)
    with pytest.raises(ValueError, match=r"cross_entropy: labels of shape \(2,\).*\(3, 4\).*\(3,\)"):
        ops.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: labels of shape \(3, 1\)"):
        ops.cross_entropy(logits, np.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*\[-1, 2\]"):
        ops.cross_entropy(logits, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*\[0, 4\]"):
        ops.cross_entropy(logits, np.array([0, 4, 2]))
    with pytest.raises(TypeError, match="cross_entropy: labels must be integers.*float"):
        ops.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="labels must be integers.*float32"):
        ops.cross_entropy(logits, mg.Tensor([0, 1, 2]))  # Tensor() makes float32 of a list
    with pytest.raises(ValueError, match=r"cross_entropy: logits must be \(N, C\)"):
        ops.cross_entropy(f32(4), np.array([0]))


def test_bce_targets_shape_error():
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: targets of shape "
                                         r"\(4,\).*logits of shape \(4, 1\)"):
        ops.binary_cross_entropy_with_logits(f32(4, 1), np.zeros(4))


# -- backward misuse --------------------------------------------------------------------------
def test_backward_on_non_scalar_needs_grad():
    y = f32(2, 3) * 2.0
    with pytest.raises(RuntimeError, match=r"scalar output.*shape \(2, 3\).*\.sum\(\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), tensor has shape \(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_through_a_freed_graph():
    x = f32(3)
    h = x * 2.0
    (h * 3.0).sum().backward()
    with pytest.raises(RuntimeError, match="Mul a second time.*freed.*retain_graph=True"):
        (h * 4.0).sum().backward()


def test_backward_without_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0, 2.0]).sum().backward()


def test_backward_returning_wrong_shape_is_caught():
    class Broken(mg.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, grad):
            return grad  # forgot to broadcast back

    with pytest.raises(RuntimeError, match=r"Broken.backward returned a gradient of shape \(\)"):
        Broken.apply(f32(3)).backward()


# -- dtypes -----------------------------------------------------------------------------------
def test_mixed_float_dtypes_in_one_op():
    a = mg.Tensor(np.ones(2, np.float32))
    b = mg.Tensor(np.ones(2, np.float64))
    with pytest.raises(TypeError, match=r"Add: inputs have different float dtypes "
                                        r"\(float32, float64\).*astype"):
        a + b
    with pytest.raises(TypeError, match="MatMul: inputs have different float dtypes"):
        ops.matmul(a.reshape(1, 2), b.reshape(2, 1))
    with pytest.raises(TypeError, match="different float dtypes"):
        a * np.ones(2)  # a float64 array is not a scalar: no silent cast


def test_requires_grad_on_an_int_tensor():
    with pytest.raises(TypeError, match="only floating tensors can require gradients.*int64"):
        mg.Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="only floating tensors can require gradients"):
        mg.Tensor(np.array([1, 2])).requires_grad_()
    labels = mg.tensor([1, 2])
    labels.requires_grad_(False)  # turning it off is always fine


_EXPECT_FLOAT = r"; expected a float dtype \(float32 for training, float64 for checks\).*astype"


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_conv_on_integer_images_names_op_argument_and_dtype(dtype):
    images = mg.Tensor(np.ones((1, 1, 4, 4), dtype))
    w = f32(2, 1, 3, 3)
    with pytest.raises(TypeError, match=f"^Conv2d: x has dtype {np.dtype(dtype)}" + _EXPECT_FLOAT):
        ops.conv2d(images, w)
    with pytest.raises(TypeError, match=f"^Conv2d: x has dtype {np.dtype(dtype)}"):
        nn.Conv2d(1, 2, 3)(images)
    with pytest.raises(TypeError, match=f"^Conv2dMaxPool2d: x has dtype {np.dtype(dtype)}"):
        ops.conv2d_maxpool2d(images, w, relu=True)
    with pytest.raises(TypeError, match="^Conv2d: weight has dtype int32" + _EXPECT_FLOAT):
        ops.conv2d(f32(1, 1, 4, 4), mg.Tensor(np.ones((2, 1, 3, 3), np.int32)))


def test_linear_on_integer_input_names_op_argument_and_dtype():
    x = mg.Tensor(np.ones((2, 3), np.int64))
    with pytest.raises(TypeError, match="^Linear: x has dtype int64" + _EXPECT_FLOAT):
        nn.Linear(3, 2)(x)
    with pytest.raises(TypeError, match="^MatMul: a has dtype int64" + _EXPECT_FLOAT):
        ops.matmul(x, f32(3, 2))


@pytest.mark.parametrize("pool, name", [(ops.max_pool2d, "MaxPool2d"), (ops.avg_pool2d, "AvgPool2d")])
@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_pools_on_integer_input_name_op_and_dtype(pool, name, dtype):
    x = mg.Tensor(np.ones((1, 1, 4, 4), dtype))
    with pytest.raises(TypeError, match=f"^{name}: x has dtype {np.dtype(dtype)}" + _EXPECT_FLOAT):
        pool(x, 2)


def test_python_scalars_need_a_float_tensor():
    with pytest.raises(TypeError, match="Add: a Python scalar takes its dtype from a floating Tensor"):
        mg.tensor([1, 2]) + 1
    with pytest.raises(TypeError, match="Mul: cannot use an input of type list"):
        ops.mul(f32(2), [1.0, 2.0])
    with pytest.raises(TypeError, match="pow: the exponent must be a Python number"):
        f32(2) ** f32(2)


def test_gradcheck_rejects_float32_inputs():
    with pytest.raises(TypeError, match=r"gradcheck: inputs must be float64.*float32.*\(3,\)"):
        mg.gradcheck(lambda x: x * x, f32(3))
    with pytest.raises(ValueError, match="gradcheck: no input has requires_grad=True"):
        mg.gradcheck(lambda x: x * x, mg.Tensor(np.ones(3)))


# -- optimizers, state dicts, dropout ------------------------------------------------------------
def test_optimizer_errors():
    p = nn.Parameter(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Adam: got an empty parameter list"):
        optim.Adam(iter([]))
    for bad in (0.0, -1.0, "0.1", None):
        with pytest.raises(ValueError, match="SGD: lr must be a positive number"):
            optim.SGD([p], lr=bad)
    with pytest.raises(ValueError, match="SGD: lr must be a positive number, got <function"):
        optim.SGD([p], lr=lambda progress: 0.1)   # a schedule sets opt.lr itself
    with pytest.raises(ValueError, match=r"SGD: momentum must be in \[0, 1\)"):
        optim.SGD([p], lr=0.1, momentum=1.0)


def test_load_state_dict_errors():
    model = nn.Linear(3, 2, rng=0)
    state = model.state_dict()
    bad_shape = dict(state, weight=np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"weight has shape \(3, 2\) in the state but \(2, 3\)"):
        model.load_state_dict(bad_shape)
    missing = {"weight": state["weight"]}
    with pytest.raises(KeyError, match=r"missing keys \['bias'\]"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        model.load_state_dict(dict(state, extra=np.zeros(1)))
    model.load_state_dict(missing, strict=False)  # allowed when asked for


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_p_out_of_range(p):
    x = f32(2, 2)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\)"):
        ops.dropout(x, p, True, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\)"):
        nn.Dropout(p)


def test_dropout_needs_a_generator():
    with pytest.raises(TypeError, match="dropout: rng must be a numpy.random.Generator.*int"):
        ops.dropout(f32(2), 0.5, True, 0)


# -- devices ------------------------------------------------------------------------------------
def test_unknown_device():
    with pytest.raises(mg.DeviceError, match="unknown device 'tpu'; expected 'cpu' or 'cuda'"):
        f32(2).to("tpu")


@pytest.mark.gpu
def test_mixed_devices_message():
    with pytest.raises(mg.DeviceError, match=r"different devices.*\.to\('cuda'\)"):
        f32(2).to("cuda") * f32(2)


def test_flatten_start_dim_out_of_range():
    with pytest.raises(ValueError, match=r"flatten: start_dim 1 is out of range .*\(5,\)"):
        ops.flatten(f32(5), 1)  # used to return shape (5, 1), adding an axis
    with pytest.raises(ValueError, match=r"flatten: start_dim -4 is out of range"):
        f32(2, 3, 4).flatten(-4)
    assert ops.flatten(f32(2, 3, 4), -2).shape == (2, 12)
    assert ops.flatten(mg.tensor(2.0), 0).shape == (1,)
