"""Batches: which rows a training step sees, and how they are drawn.

Every step draws a batch that is half source, half target (the paper: 64 + 64). A
:class:`BatchSampler` walks each data set in shuffled epochs from one seeded generator (its
state goes into checkpoints, so a resumed run draws the same batches); :class:`TrainingData`
holds a run's checked training sets and assembles each :class:`Batch` by the method's rule
(which rows carry labels: see :mod:`~dann_from_scratch.config`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor

from . import checkpoint as ckpt_io
from .config import TrainConfig
from .errors import ConfigError
from .inputs import check_labels, input_layout, split_xy, to_network_input

__all__ = ["BatchSampler", "Batch", "TrainingData"]


class BatchSampler:
    """Draws indices from several data streams, each walked through in a freshly shuffled order
    (an "epoch") and reshuffled when used up, all from one seeded ``numpy.random.Generator``.

    Its whole state (the generator's ``bit_generator.state``, each stream's current order and
    position) goes into checkpoints, so a resumed run draws exactly the batches it would have.
    """

    def __init__(self, sizes: dict, seed: int):
        self.rng = np.random.default_rng(seed)
        self.sizes = dict(sizes)
        self.streams = {name: {"perm": self.rng.permutation(n), "pos": 0}
                        for name, n in self.sizes.items()}

    def draw(self, name: str, k: int) -> np.ndarray:
        """The next ``k`` indices of stream ``name`` (wrapping into new epochs as needed)."""
        st, out = self.streams[name], []
        while k > 0:
            if st["pos"] == len(st["perm"]):
                st["perm"], st["pos"] = self.rng.permutation(self.sizes[name]), 0
            take = min(k, len(st["perm"]) - st["pos"])
            out.append(st["perm"][st["pos"]:st["pos"] + take])
            st["pos"] += take
            k -= take
        return np.concatenate(out)

    def state_dict(self) -> dict:
        """The generator state and each stream's order and position (for checkpoints)."""
        return {"rng": self.rng.bit_generator.state,
                "streams": {n: {"perm": s["perm"].copy(), "pos": s["pos"]}
                            for n, s in self.streams.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; a CheckpointError if the streams or their sizes differ."""
        if set(state["streams"]) != set(self.streams):
            raise ckpt_io.CheckpointError(
                f"checkpoint samples from streams {sorted(state['streams'])}, this run from "
                f"{sorted(self.streams)}")
        for name, st in state["streams"].items():
            if len(st["perm"]) != self.sizes[name]:
                raise ckpt_io.CheckpointError(
                    f"checkpoint's {name} set has {len(st['perm'])} examples, this run's has "
                    f"{self.sizes[name]}: resume with the same data")
            self.streams[name] = {"perm": np.asarray(st["perm"]).copy(), "pos": int(st["pos"])}
        self.rng.bit_generator.state = state["rng"]


@dataclass
class Batch:
    """One training batch, ready for the network.

    ``x``: all rows (source first, then target), float32 tensor on the training device;
    ``label_rows``: the slice of rows that carry class labels, and ``labels`` (int64) for them;
    ``domains``: (N, 1) float array, 0 for source rows and 1 for target rows.
    """

    x: Tensor
    label_rows: slice
    labels: object
    domains: object


class TrainingData:
    """A run's training sets, checked once, and the rule that assembles a batch for its method.

    ``source`` is (X, y); ``target`` is X, or (X, y) (labels needed by "target_only" only);
    ``target_labelled`` is (X, y), the few labelled target rows of "semi_supervised".
    """

    def __init__(self, model, source, target, target_labelled, config: TrainConfig):
        self.method, self.input_shape = config.method, getattr(model, "input_shape", None)
        self.num_classes = getattr(model, "num_classes", None)
        self.xs, self.ys, source_layout = self._checked(
            source, "source", need_labels=config.method != "target_only")
        self.xt, self.yt, target_layout = self._checked(
            target, "target", need_labels=config.method == "target_only")
        self.layouts = {"source": source_layout, "target": target_layout}
        self.sizes = {"source": len(self.xs), "target": len(self.xt)}
        self.xl = self.yl = None
        if config.method == "semi_supervised":
            if target_labelled is None:
                raise ValueError("semi_supervised: pass target_labelled=(X, y), the few labelled "
                                 "target examples")
            self.xl, self.yl, self.layouts["labelled"] = self._checked(
                target_labelled, "target_labelled", need_labels=True)
            self.sizes["labelled"] = len(self.xl)
        elif target_labelled is not None:
            raise ValueError(f"target_labelled is used only by method 'semi_supervised', "
                             f"not {config.method!r}")
        self.n_source = config.batch_size // 2
        self.n_target = config.batch_size - self.n_source
        self.n_labelled = config.labelled_per_batch if config.method == "semi_supervised" else 0
        self._check_batch_size(config.batch_size)

    def _check_batch_size(self, batch_size: int) -> None:
        """A ConfigError (a ValueError) if a batch would hold more source or target rows than
        the set has: such a batch repeats rows, and a huge one exhausts the memory."""
        draws = {"source": self.n_source, "target": self.n_target - self.n_labelled}
        # the largest batch whose source half and target draws fit in the data
        largest = min(2 * self.sizes["source"] + 1,
                      2 * (self.sizes["target"] + self.n_labelled))
        for name, k in draws.items():
            if k > self.sizes[name]:
                raise ConfigError("batch_size", (
                    f"batch_size={batch_size} draws {k} {name} rows per step, but the {name} "
                    f"set has only {self.sizes[name]} rows: use a batch size of at most "
                    f"{largest}"))

    def _checked(self, data, what: str, need_labels: bool):
        """(X, int64 labels or None, layout) of one set, or an error naming ``what``."""
        x, y = split_xy(data, what, need_labels=need_labels)
        layout = input_layout(x.shape, self.input_shape, what)
        if y is not None:
            y = check_labels(y, self.num_classes, f"{what} labels")
        return x, y, layout

    def mean_inputs(self):
        """The sets whose mean inputs are averaged into ``model.input_mean``."""
        return [self.xs, self.xt]

    def _rows(self, name: str, x, idx, mean):
        return to_network_input(x[idx], self.layouts[name], self.input_shape, mean)

    def batch(self, sampler: BatchSampler, mean, device: str) -> Batch:
        """The next batch: [source | labelled target (semi-supervised) | target] rows, minus
        ``mean``, on ``device``."""
        ns, nt, nl = self.n_source, self.n_target, self.n_labelled
        i_s = sampler.draw("source", ns)
        parts = [self._rows("source", self.xs, i_s, mean)]
        if nl:  # semi-supervised: [source | labelled target | unlabelled target]
            i_l = sampler.draw("labelled", nl)
            parts.append(self._rows("labelled", self.xl, i_l, mean))
        i_t = sampler.draw("target", nt - nl)
        parts.append(self._rows("target", self.xt, i_t, mean))

        if self.method == "target_only":
            label_rows, labels = slice(ns, ns + nt), self.yt[i_t]
        elif self.method == "semi_supervised":
            label_rows, labels = slice(0, ns + nl), np.concatenate([self.ys[i_s], self.yl[i_l]])
        else:
            label_rows, labels = slice(0, ns), self.ys[i_s]
        domains = np.concatenate([np.zeros(ns, np.float32), np.ones(nt, np.float32)])[:, None]

        x = Tensor(np.concatenate(parts))
        if device != "cpu":
            x = x.to(device)
            xp = backend.get_array_module(x)
            labels, domains = xp.asarray(labels), xp.asarray(domains)
        return Batch(x=x, label_rows=label_rows, labels=labels, domains=domains)
