"""Optimizers: SGD with momentum and weight decay, and Adam.

The learning rate is a number, ``optimizer.lr``; a schedule sets it before each step (the
DANN trainer anneals it as ``mu_p = mu_0 / (1 + alpha p) ** beta``). Updates are written in
place on ``param.data`` with the array module of each parameter, so they run unchanged on
CuPy.
"""
from __future__ import annotations

import numbers

from . import backend
from .threads import get_num_threads, map_groups

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Holds the parameter list, the step counter and the learning rate ``lr`` (a number
    the caller may change between steps)."""

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if isinstance(lr, bool) or not (isinstance(lr, numbers.Real) and lr > 0):
            raise ValueError(f"{type(self).__name__}: lr must be a positive number, got {lr!r}")
        self.lr, self.steps_done = lr, 0
        self._device = self.params[0].device

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def to(self, device: str) -> "Optimizer":
        """Move the optimizer's state (velocities, moments) to ``device``. ``step`` calls it
        by itself when the parameters were moved (``model.to("cuda")``) after a step."""
        for arrays in self._slots().values():
            for i, a in enumerate(arrays):
                if a is not None and hasattr(a, "shape"):
                    arrays[i] = backend.to_device(a, device)
        self._device = device
        return self

    def step(self) -> None:
        if self.params[0].device != self._device:
            self.to(self.params[0].device)
        lr = float(self.lr)  # a Python float: it never promotes float32 parameters
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p, p.grad, lr)
        self.steps_done += 1

    def _update(self, i, p, grad, lr):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- checkpoints: the state is a flat dict of arrays, ready for an .npz file
    def state_dict(self) -> dict:
        state = {"steps_done": backend.numpy_module.asarray(self.steps_done)}
        for name, arrays in self._slots().items():
            for i, a in enumerate(arrays):
                if a is None:
                    continue
                if isinstance(a, int):
                    state[f"{name}.{i}"] = backend.numpy_module.asarray(a)
                else:
                    state[f"{name}.{i}"] = backend.to_numpy(a).copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (for the same parameter list)."""
        if "steps_done" not in state:
            raise KeyError(f"{type(self).__name__}.load_state_dict: the state has no 'steps_done'")
        slots = self._slots()
        for i, p in enumerate(self.params):
            present = [name for name in slots if f"{name}.{i}" in state]
            if present and len(present) != len(slots):
                raise KeyError(f"{type(self).__name__}.load_state_dict: parameter {i} has "
                               f"{present} but not all of {list(slots)}")
            for name in present:
                value = state[f"{name}.{i}"]
                if tuple(value.shape) != p.shape and value.ndim != 0:
                    raise ValueError(f"{type(self).__name__}.load_state_dict: {name}.{i} has shape "
                                     f"{tuple(value.shape)} but parameter {i} has shape {p.shape}")
        self.steps_done = int(state["steps_done"])
        for name, arrays in slots.items():
            for i, p in enumerate(self.params):
                key = f"{name}.{i}"
                if key not in state:
                    arrays[i] = None
                elif state[key].ndim == 0:  # a per-parameter counter
                    arrays[i] = int(state[key])
                else:
                    arrays[i] = backend.to_device(backend.numpy_module.array(state[key], dtype=p.dtype),
                                                  p.device)

    def _slots(self) -> dict:
        return {}


class SGD(Optimizer):
    """Stochastic gradient descent with (classical) momentum and L2 weight decay.

    ``v <- momentum * v + lr * (grad + weight_decay * w)``;  ``w <- w - v``.
    This is the form Caffe uses (the DANN paper's framework): the learning rate is folded
    into the velocity, so an annealed rate changes the step smoothly.
    """

    def __init__(self, params, lr=0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay}")
        # Python floats, like lr in step(): a NumPy float64 would promote float32 updates
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.velocity = [None] * len(self.params)

    def _update(self, i, p, grad, lr):
        # Update p.data in place; keep the velocity of parameter i in self.velocity[i].
        # BEGIN SOLUTION A4.3
        xp = backend.get_array_module(p.data)
        momentum, weight_decay = self.momentum, self.weight_decay
        first = momentum and self.velocity[i] is None  # v starts at 0: the first v is lr g
        if first:
            self.velocity[i] = xp.empty_like(p.data)

        def update(w, g, v, scratch):
            """v <- m v + lr (g + wd w);  w <- w - v, in place on these arrays; ``scratch``
            (their shape) holds lr (g + wd w), so no temporary array is made."""
            if weight_decay:
                g = xp.add(g, xp.multiply(weight_decay, w, out=scratch), out=scratch)
            if not momentum:
                w -= xp.multiply(lr, g, out=scratch)
            elif first:
                w -= xp.multiply(lr, g, out=v)
            else:
                v *= momentum
                v += xp.multiply(lr, g, out=scratch)
                w -= v

        # On the CPU, a block of rows (about 64 K numbers) at a time: the scratch block is
        # still in cache when it is read back, which makes the update of a large layer about
        # a third faster. Every number goes through the same operations in the same order as
        # on whole arrays, so the result is the same to the bit. On a GPU: whole arrays.
        w, v = p.data, self.velocity[i]
        block = 1 << 16
        if xp is not backend.numpy_module or w.ndim == 0 or w.size <= block:
            update(w, grad, v, xp.empty_like(w))
            return
        rows = max(1, block * len(w) // w.size)
        starts = list(range(0, len(w), rows))

        def share(part):
            # one thread's consecutive blocks (minigrad.threads), with its own scratch
            scratch = xp.empty_like(w[:rows])
            for a in part:
                r = slice(a, a + rows)
                update(w[r], grad[r], None if v is None else v[r], scratch[:len(w[r])])

        n = min(get_num_threads(), len(starts))
        map_groups(share, [starts[k * len(starts) // n:(k + 1) * len(starts) // n]
                           for k in range(n)])
        # END SOLUTION

    def _slots(self) -> dict:
        return {"velocity": self.velocity}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction and optional L2 weight decay."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.m = [None] * len(self.params)
        self.v = [None] * len(self.params)
        self.t = [None] * len(self.params)  # updates applied to each parameter so far

    def _update(self, i, p, grad, lr):
        xp = backend.get_array_module(p.data)
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        if self.m[i] is None:
            self.m[i] = xp.zeros_like(p.data)
            self.v[i] = xp.zeros_like(p.data)
            self.t[i] = 0
        m, v = self.m[i], self.v[i]
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        # Bias correction counts this parameter's own updates, so a parameter that gets its
        # first gradient late (a head frozen for a while) is not under-corrected.
        self.t[i] += 1
        t = self.t[i]
        m_hat_scale = 1.0 / (1 - self.beta1 ** t)
        v_hat_scale = 1.0 / (1 - self.beta2 ** t)
        p.data -= lr * (m * m_hat_scale) / (xp.sqrt(v * v_hat_scale) + self.eps)

    def _slots(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}
