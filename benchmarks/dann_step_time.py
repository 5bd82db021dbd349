"""Time one DANN training step (MNIST network, batch 64 source + 64 target) through the trainer.

    python benchmarks/dann_step_time.py [--device cpu|cuda] [--steps 20] [--model mnist]

A step = sample and convert the batch, G_f on all 128 images, G_y on the 64 source rows,
G_d through the GRL on all 128, one backward pass, one SGD update, plus the trainer's
bookkeeping (the per-step loss logging syncs with the GPU). Prints the median over the steps
after two warm-up steps, for the GRL trainer and for the explicit saddle-point trainer.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from dann_from_scratch.models import build_model, input_shape_of
from dann_from_scratch.saddle import train_saddle
from dann_from_scratch.trainers import TrainConfig, train


def step_times(trainer, model_name, device, steps, batch_size):
    c, h, w = input_shape_of(model_name)
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, (1000, h, w, c), dtype=np.uint8)
    xt = rng.integers(0, 256, (1000, h, w, c), dtype=np.uint8)
    ys = rng.integers(0, build_model(model_name, rng=0).num_classes, 1000)
    model = build_model(model_name, rng=0)
    stamps = []
    cfg = TrainConfig(method="dann", steps=steps + 2, batch_size=batch_size, device=device,
                      progress=False)
    t0 = time.perf_counter()
    stamps.append(t0)
    train_fn = {"grl": train, "saddle": train_saddle}[trainer]
    train_fn(model, (xs, ys), xt, cfg, callback=lambda step, logs: stamps.append(time.perf_counter()))
    return np.diff(stamps)[2:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--model", default="mnist", choices=["mnist", "svhn", "gtsrb"])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    for trainer in ("grl", "saddle"):
        t = step_times(trainer, args.model, args.device, args.steps, args.batch_size)
        print(f"{args.model} {trainer:6s} trainer on {args.device}, batch {args.batch_size}: "
              f"median {1000 * np.median(t):.1f} ms/step (min {1000 * t.min():.1f}, "
              f"max {1000 * t.max():.1f}, {len(t)} steps)")


if __name__ == "__main__":
    main()
