"""benchmarks/bench_dann_step.py: the PyTorch copies of the three networks match minigrad's,
and a tiny run prints the per-network summary."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_dann_step as bench  # noqa: E402


@pytest.mark.parametrize("net", sorted(bench.NETS))
def test_torch_copy_has_minigrads_parameter_shapes(net):
    pytest.importorskip("torch")
    _, minigrad_shapes = bench.minigrad_step_fn("cpu", net)
    _, torch_shapes = bench.torch_step_fn("cpu", 1, net)
    assert minigrad_shapes == torch_shapes


def test_a_tiny_run_prints_each_network(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_dann_step.py"), "--net", "mnist",
         "--threads", "1", "--rounds", "1", "--steps", "1", "--warmup", "0", "--no-torch",
         "--retries", "0", "--max-other-load", "99", "--clock", "cpu", "--profile"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "== mnist, 1 thread(s) ==" in proc.stdout
    assert "Conv2dMaxPool2d.backward" in proc.stdout        # the profile
    assert "mnist  1 thread(s): minigrad" in proc.stdout     # the summary


def test_an_unknown_network_is_refused():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_dann_step.py"),
                           "--net", "cifar"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown --net cifar" in proc.stderr
