"""Time one DANN training step on the paper's networks: minigrad against PyTorch.

The step (Ganin & Lempitsky 2015), float32, on each of the paper's image networks
(``--net mnist,svhn,gtsrb``, all three by default; see ``dann_from_scratch.models``):

* a batch of 128 images (64 "source" + 64 "target"): 3x28x28 (MNIST), 3x32x32 (SVHN),
  3x40x40 (GTSRB);
* the feature extractor G_f: MNIST conv5x5x32 - pool 2x2/2 - conv5x5x48 - pool 2x2/2;
  SVHN conv5x5x64 - pool 3x3/2 - conv5x5x64 - pool 3x3/2 - conv5x5x128, padding 2;
  GTSRB conv5x5x96 - pool 2x2/2 - conv3x3x144 - pool 2x2/2 - conv5x5x256 - pool 2x2/2;
  a ReLU after every conv (max-pooling first: same values and gradients, on 4x fewer
  numbers). minigrad runs the network exactly as ``dann_from_scratch.models.build_model``
  builds it (each conv - 2x2 pool - ReLU block fused, docs/performance.md); PyTorch runs
  the same layers with its own kernels;
* the label head G_y (MNIST fc100-fc100-fc10, SVHN fc3072-fc2048-fc10, GTSRB fc512-fc43)
  with cross-entropy on the 64 source images;
* the domain head G_d (MNIST fc100-fc1, SVHN and GTSRB fc1024-fc1024-fc1) with the
  logistic loss on all 128 images, behind a gradient reversal layer;
* one backward pass, one SGD step with momentum 0.9.

Each measurement runs in a fresh subprocess (one per network, framework and thread count), and the
frameworks alternate A B A B ..., because other processes on the machine make single
timings unreliable. Each process warms up, times
``--steps`` steps and reports the median; this script prints the median over rounds, the
ratio, and each process's peak resident memory (``ru_maxrss``) minus its resident memory
just before the first step.

The child processes run with the thread count set through the environment (before NumPy
or PyTorch is imported). PyTorch then runs everything on its intra-op threads; minigrad runs
as ``dann`` trains (``dann_from_scratch.threads``): one-thread BLAS calls, with the image
groups of conv and pooling and the large products spread over ``threads`` minigrad threads
(``minigrad.threads``). By default the children also run with glibc's allocator told to
keep freed memory instead of returning it to the OS (``--allocator tuned``): without it,
the large arrays freed every step are unmapped and page-faulted back in, and timings swing
widely.

Usage::

    python benchmarks/bench_dann_step.py                      # 3 nets, 2 and 1 threads, cpu
    python benchmarks/bench_dann_step.py --net svhn --threads 2 --rounds 5
    python benchmarks/bench_dann_step.py --net svhn --profile # minigrad time per op
    python benchmarks/bench_dann_step.py --threads 1 --clock cpu   # on a shared machine
    python benchmarks/bench_dann_step.py --device cuda        # minigrad on CuPy
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TUNED_GLIBC = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=1073741824"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

N_SRC, N_TGT = 64, 64
LAMBDA, LR, MOMENTUM = 0.5, 0.01, 0.9

# The paper's networks, as dann_from_scratch.models builds them: input side, conv blocks
# (out channels, kernel, padding, (pool kernel, pool stride) or None), the heads' hidden
# sizes and the number of classes. PyTorch's copy is built from this table; minigrad's
# network comes from build_model itself, and the two are checked to have the same shapes.
NETS = {
    "mnist": dict(size=28, convs=[(32, 5, 0, (2, 2)), (48, 5, 0, (2, 2))],
                  label=(100, 100), classes=10, domain=(100,), steps=30),
    "svhn": dict(size=32, convs=[(64, 5, 2, (3, 2)), (64, 5, 2, (3, 2)), (128, 5, 2, None)],
                 label=(3072, 2048), classes=10, domain=(1024, 1024), steps=8),
    "gtsrb": dict(size=40, convs=[(96, 5, 0, (2, 2)), (144, 3, 0, (2, 2)), (256, 5, 0, (2, 2))],
                  label=(512,), classes=43, domain=(1024, 1024), steps=8),
}


# -- the data (identical for both frameworks) ------------------------------------------------------
def make_batch(np, net: str):
    spec = NETS[net]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_SRC + N_TGT, 3, spec["size"], spec["size"])).astype(np.float32)
    y = rng.integers(0, spec["classes"], N_SRC)
    d = np.concatenate([np.zeros((N_SRC, 1)), np.ones((N_TGT, 1))]).astype(np.float32)
    return x, y, d


# -- minigrad ---------------------------------------------------------------------------------------
def minigrad_step_fn(device: str, net: str, threads: int = 1):
    import numpy as np

    sys.path.insert(0, ROOT)
    import minigrad as mg
    from minigrad import ops, optim
    from dann_from_scratch.models import build_model

    # as dann's trainer runs (dann_from_scratch.threads): one-thread BLAS calls, `threads`
    # of them at once on minigrad's own threads
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api="blas")
    mg.set_num_threads(threads)
    model = build_model(net, rng=0)
    model.to(device)
    model.grl.lambda_ = LAMBDA
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    x, y, d = make_batch(np, net)
    x = mg.Tensor(x).to(device)
    d = mg.Tensor(d).to(device)
    y = mg.backend.to_device(y, device)

    sync = (lambda: None)
    if device == "cuda":
        cp = mg.backend.cupy_or_raise()
        sync = cp.cuda.Device().synchronize

    def step():
        opt.zero_grad()
        f = model.features(x)
        loss = (ops.cross_entropy(model.label_predictor(f[:N_SRC]), y)
                + ops.binary_cross_entropy_with_logits(model.domain_classifier(model.grl(f)), d))
        loss.backward()
        opt.step()
        sync()
        return loss

    return step, sorted(tuple(p.shape) for p in model.parameters())


# -- PyTorch ----------------------------------------------------------------------------------------
def torch_step_fn(device: str, threads: int, net: str):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = NETS[net]

    class GradReverse(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, lam):
            ctx.lam = lam
            return x.view_as(x)

        @staticmethod
        def backward(ctx, grad):
            return -ctx.lam * grad, None

    layers, channels, size = [], 3, spec["size"]
    for out, k, pad, pool in spec["convs"]:
        layers.append(nn.Conv2d(channels, out, k, padding=pad))
        channels, size = out, size + 2 * pad - k + 1
        if pool is not None:
            layers.append(nn.MaxPool2d(*pool))
            size = (size - pool[0]) // pool[1] + 1
        layers.append(nn.ReLU())
    features = nn.Sequential(*layers, nn.Flatten())
    dim = channels * size * size

    def head(hidden, out):
        mods, width = [], dim
        for h in hidden:
            mods += [nn.Linear(width, h), nn.ReLU()]
            width = h
        return nn.Sequential(*mods, nn.Linear(width, out))

    label, domain = head(spec["label"], spec["classes"]), head(spec["domain"], 1)
    modules = nn.ModuleList([features, label, domain]).to(device)
    opt = torch.optim.SGD(modules.parameters(), lr=LR, momentum=MOMENTUM)

    x, y, d = (torch.from_numpy(a).to(device) for a in make_batch(np, net))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        opt.zero_grad(set_to_none=True)
        f = features(x)
        loss = (F.cross_entropy(label(f[:N_SRC]), y)
                + F.binary_cross_entropy_with_logits(domain(GradReverse.apply(f, LAMBDA)), d))
        loss.backward()
        opt.step()
        sync()
        return loss

    return step, sorted(tuple(p.shape) for p in modules.parameters())


# -- profiling (minigrad only): time spent in each op's forward and backward ------------------------
def install_op_timers(device, clock):
    """Wrap every Function subclass's forward/backward with a timer (synchronising the GPU
    around each so the figures are per op). Returns the dict that accumulates seconds."""
    sys.path.insert(0, ROOT)
    import minigrad as mg
    from minigrad.function import Function

    totals = {}
    sync = (lambda: None)
    if device == "cuda":
        sync = mg.backend.cupy_or_raise().cuda.Device().synchronize

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    def wrap(cls, method):
        original = getattr(cls, method)

        def timed(self, *args, **kwargs):
            sync()
            start = clock()
            result = original(self, *args, **kwargs)
            sync()
            key = f"{type(self).__name__}.{method}"  # the op's class, not the base defining it
            totals[key] = totals.get(key, 0.0) + clock() - start
            return result

        setattr(cls, method, timed)

    for cls in set(subclasses(Function)):
        for method in ("forward", "backward"):
            if method in cls.__dict__:
                wrap(cls, method)

    import minigrad.optim as optim_mod
    original_step = optim_mod.SGD.step

    def timed_step(self):
        sync()
        start = clock()
        original_step(self)
        sync()
        totals["SGD.step"] = totals.get("SGD.step", 0.0) + clock() - start

    optim_mod.SGD.step = timed_step
    return totals


# -- how busy the rest of the machine was --------------------------------------------------------
def _machine_busy_seconds():
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return r.ru_utime + r.ru_stime


# -- one worker process: build, warm up, time ------------------------------------------------------
def worker(args) -> None:
    import resource

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    totals = install_op_timers(args.device, clock) if args.profile else None
    if args.framework == "minigrad":
        step, shapes = minigrad_step_fn(args.device, args.net, args.threads)
    else:
        step, shapes = torch_step_fn(args.device, args.threads, args.net)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(args.warmup):
        step()
    if totals is not None:
        totals.clear()
    times = []
    busy0, own0, wall0 = _machine_busy_seconds(), _own_cpu_seconds(), time.perf_counter()
    for _ in range(args.steps):
        start = clock()
        loss = step()
        times.append(clock() - start)
    busy1, own1, wall1 = _machine_busy_seconds(), _own_cpu_seconds(), time.perf_counter()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # CPU time the *other* processes used while we were timing, in cores on average
    other = None if busy0 is None else max(0.0, ((busy1 - busy0) - (own1 - own0)) / (wall1 - wall0))
    result = {
        "framework": args.framework,
        "median_ms": 1e3 * statistics.median(times),
        "min_ms": 1e3 * min(times),
        "loss": float(loss.item()),
        "peak_rss_mb": rss_peak / 1024,
        "step_rss_mb": (rss_peak - rss_before) / 1024,
        "other_load": other,
        "param_shapes": shapes,
    }
    if totals is not None:
        result["profile_ms"] = {k: 1e3 * v / args.steps for k, v in totals.items()}
    print("RESULT " + json.dumps(result))


def run_child(framework, threads, net, args) -> dict:
    """Run one worker; rerun it (up to ``--retries`` times, after a pause) while other
    processes kept more than ``--max-other-load`` cores busy during its timed steps."""
    for attempt in range(args.retries + 1):
        result = _run_child_once(framework, threads, net, args)
        load = result.get("other_load")
        result["attempts"] = attempt + 1
        if load is None or load <= args.max_other_load:
            return result
        if attempt < args.retries:
            time.sleep(args.retry_pause)
    result["contended"] = True
    return result


def _run_child_once(framework, threads, net, args) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        env[var] = str(threads)
    if args.allocator == "tuned":
        env["GLIBC_TUNABLES"] = TUNED_GLIBC
    else:
        env.pop("GLIBC_TUNABLES", None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework,
           "--threads", str(threads), "--net", net,
           "--steps", str(args.steps or NETS[net]["steps"]), "--warmup", str(args.warmup),
           "--device", args.device, "--clock", args.clock] + (["--profile"] if args.profile else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{framework} worker failed:\n{proc.stdout}\n{proc.stderr}")


def _describe(res) -> str:
    load = res.get("other_load")
    mark = "*" if res.get("contended") else ""
    return f"{res['median_ms']:.1f}{mark}" + (f" [other load {load:.2f}]" if load is not None else "")


def torch_available(device: str) -> bool:
    """Whether PyTorch imports (and, for ``cuda``, sees a GPU), asked in a subprocess so
    this process never imports it."""
    check = "import torch" + ("; assert torch.cuda.is_available()" if device == "cuda" else "")
    return subprocess.run([sys.executable, "-c", check], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="2,1",
                        help="comma-separated thread counts to measure (default: 2,1)")
    parser.add_argument("--net", default="mnist,svhn,gtsrb",
                        help="comma-separated networks to time (default: mnist,svhn,gtsrb)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per process (default: 30 for mnist, 8 for svhn "
                             "and gtsrb)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per process first")
    parser.add_argument("--rounds", type=int, default=3,
                        help="A/B rounds (fresh processes) per thread count")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--allocator", choices=("tuned", "default"), default="tuned",
                        help="glibc malloc settings for the child processes (see module docstring)")
    parser.add_argument("--no-torch", action="store_true", help="time minigrad only")
    parser.add_argument("--max-other-load", type=float, default=0.1,
                        help="rerun a process if other processes used more than this many "
                             "cores (on average) during its timed steps (default 0.1)")
    parser.add_argument("--retries", type=int, default=4, help="reruns of a contended process")
    parser.add_argument("--retry-pause", type=float, default=10.0, help="seconds before a rerun")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what a step's time is: wall-clock (the protocol) or this "
                             "process's CPU time, which other processes on the machine disturb "
                             "far less; comparable only at 1 thread (idle BLAS threads spin)")
    parser.add_argument("--profile", action="store_true",
                        help="also print where minigrad's step time goes, per op")
    parser.add_argument("--worker", choices=("minigrad", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.framework = args.worker
        args.threads = int(args.threads)
        worker(args)
        return

    nets = [n.strip() for n in args.net.split(",") if n.strip()]
    unknown = [n for n in nets if n not in NETS]
    if unknown:
        parser.error(f"unknown --net {', '.join(unknown)}; expected some of {', '.join(NETS)}")
    frameworks = ["minigrad"] + ([] if args.no_torch or not torch_available(args.device) else ["torch"])
    print(f"DANN step: batch {N_SRC}+{N_TGT} float32, device {args.device}, "
          f"{args.warmup} warm-up steps then {args.steps or 'the net default of'} timed "
          f"steps per process, {args.rounds} rounds (fresh processes, alternating)")
    print(f"allocator: {args.allocator}"
          + (f" (GLIBC_TUNABLES={TUNED_GLIBC})" if args.allocator == "tuned" else " (glibc defaults)")
          + f"; clock: {args.clock}")
    if len(frameworks) == 1:
        print(f"PyTorch not importable{' with CUDA' if args.device == 'cuda' else ''} "
              "(or --no-torch): timing minigrad only")

    summary = []
    for net in nets:
        for threads in (int(t) for t in args.threads.split(",")):
            med = measure(net, threads, frameworks, args)
            summary.append((net, threads, med))
    print("\n== summary (median ms per step; ratio = minigrad / torch) ==")
    for net, threads, med in summary:
        line = f"{net:6s} {threads} thread(s): minigrad {med['minigrad']:8.1f}"
        if "torch" in med:
            line += f"   torch {med['torch']:8.1f}   ratio {med['minigrad'] / med['torch']:.2f}x"
        print(line)


def measure(net, threads, frameworks, args) -> dict:
    """Time ``net`` at ``threads`` threads, frameworks alternating; print and return medians."""
    runs = {fw: [] for fw in frameworks}
    for r in range(args.rounds):
        order = frameworks if r % 2 == 0 else frameworks[::-1]  # A B, B A, ...
        for fw in order:
            runs[fw].append(run_child(fw, threads, net, args))
            print(f"  [{net}, {threads} thread(s), round {r + 1}/{args.rounds}] {fw}: "
                  f"{_describe(runs[fw][-1])} ms", file=sys.stderr, flush=True)
    if "torch" in runs and runs["torch"][0]["param_shapes"] != runs["minigrad"][0]["param_shapes"]:
        raise RuntimeError(f"{net}: the PyTorch copy of the network has other parameter shapes "
                           f"than minigrad's:\n{runs['torch'][0]['param_shapes']}\n"
                           f"{runs['minigrad'][0]['param_shapes']}")
    print(f"\n== {net}, {threads} thread(s) ==")
    med = {}
    for fw in frameworks:
        ms = [res["median_ms"] for res in runs[fw]]
        med[fw] = statistics.median(ms)
        peak = max(res["peak_rss_mb"] for res in runs[fw])
        step_mem = max(res["step_rss_mb"] for res in runs[fw])
        print(f"{fw:9s} {med[fw]:7.1f} ms/step  (median of process medians; per process: "
              f"{', '.join(_describe(res) for res in runs[fw])})")
        print(f"{'':9s} peak RSS {peak:.0f} MB (+{step_mem:.0f} MB during the steps)  "
              f"final loss {runs[fw][-1]['loss']:.4f}")
    contended = sum(res.get("contended", False) for fw in frameworks for res in runs[fw])
    if contended:
        print(f"WARNING: {contended} process(es) ran while other processes kept more than "
              f"{args.max_other_load} cores busy (marked *): treat these figures with care")
    if "torch" in med:
        print(f"ratio minigrad / torch: {med['minigrad'] / med['torch']:.2f}x")
    if args.profile:
        profiles = [res["profile_ms"] for res in runs["minigrad"]]
        keys = sorted(profiles[0], key=lambda k: -statistics.median(p.get(k, 0) for p in profiles))
        total = 0.0
        print("minigrad time per step by op (median over processes, ms; profiling adds overhead):")
        for k in keys:
            v = statistics.median(p.get(k, 0.0) for p in profiles)
            total += v
            print(f"  {k:28s} {v:7.2f}")
        print(f"  {'sum of ops':28s} {total:7.2f}")
    return med


if __name__ == "__main__":
    main()
