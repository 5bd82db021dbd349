"""The ops. Each module holds a few ops, every one a :class:`~minigrad.function.Function`
(forward and backward side by side) with its plain function right below it:

* ``arithmetic``   add, sub, mul, div, neg, pow, exp, log, sqrt, cast
* ``activations``  relu, sigmoid, tanh, dropout
* ``reductions``   sum, mean, max
* ``shape``        reshape, flatten, transpose, getitem, concatenate
* ``linalg``       matmul, linear
* ``losses``       softmax, log_softmax, cross_entropy, binary_cross_entropy_with_logits
* ``conv``         conv2d (im2col, one GEMM), im2col, col2im; conv2d_simple, the reference
* ``pool``         max_pool2d, avg_pool2d; max_pool2d_simple, avg_pool2d_simple
* ``conv_maxpool`` conv2d_maxpool2d: conv + 2x2 max pool [+ relu] as one node
* ``geometry``     conv_output_size and the ConvGeometry record of a window geometry
"""
from .activations import Dropout, ReLU, Sigmoid, Tanh, dropout, relu, sigmoid, tanh
from .arithmetic import (Add, Cast, Div, Exp, Log, Mul, Neg, Pow, Sqrt, Sub, add, cast, div,
                         exp, log, mul, neg, pow, sqrt, sub)
from .conv import Conv2d, col2im, conv2d, conv2d_simple, im2col
from .conv_maxpool import Conv2dMaxPool2d, conv2d_maxpool2d
from .geometry import ConvGeometry, conv_output_size
from .linalg import Linear, MatMul, linear, matmul
from .losses import (BCEWithLogits, CrossEntropy, LogSoftmax, Softmax,
                     binary_cross_entropy_with_logits, cross_entropy, log_softmax, softmax)
from .pool import (AvgPool2d, MaxPool2d, avg_pool2d, avg_pool2d_simple, max_pool2d,
                   max_pool2d_simple)
from .reductions import Max, Mean, Sum, max, mean, sum
from .shape import (Concatenate, GetItem, Reshape, Transpose, concatenate, flatten, getitem,
                    reshape, transpose)

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "cast",
    "relu", "sigmoid", "tanh", "dropout",
    "sum", "mean", "max",
    "reshape", "transpose", "flatten", "getitem", "concatenate",
    "matmul", "linear",
    "softmax", "log_softmax", "cross_entropy", "binary_cross_entropy_with_logits",
    "conv2d", "im2col", "col2im", "max_pool2d", "avg_pool2d", "conv2d_maxpool2d",
    "conv2d_simple", "max_pool2d_simple", "avg_pool2d_simple", "conv_output_size",
    "ConvGeometry",
]
