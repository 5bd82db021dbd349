"""A4.4: train the small convnet of coursework/A4/digits.py on scikit-learn's digits."""
import numpy as np
import pytest

from coursework.A4 import digits
from coursework.checks import CheckFailure


@pytest.mark.task("A4.4")
def test_convnet_reaches_95_percent_on_held_out_digits():
    acc, net, history, seconds = digits.run(seed=0)
    if len(history) != 8:
        raise CheckFailure(f"digits.train: expected one mean loss per epoch (8), got {len(history)}")
    if not acc > 0.95:
        raise CheckFailure(f"digits.train: test accuracy {acc:.3f} after {seconds:.1f} s of "
                           f"training, expected > 0.95; epoch losses {np.round(history, 3).tolist()}")
    for name, p in net.named_parameters():
        if p.dtype != np.float32:
            raise CheckFailure(f"digits.train: parameter {name} is {p.dtype} after training, "
                               "expected float32 (something upcast it)")
