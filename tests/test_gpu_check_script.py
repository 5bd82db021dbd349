"""benchmarks/gpu_check.sh without a GPU: its --dry-run picks the CuPy wheel for the CUDA
version that nvidia-smi (or nvcc) reports, and the commands it would run are valid."""
import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from dann_from_scratch.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def fake_tool(folder: Path, name: str, output: str) -> None:
    tool = folder / name
    tool.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


def dry_run(tmp_path, tools: dict) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, output in tools.items():
        fake_tool(bin_dir, name, output)
    # only the fake tools and the basics: a real nvidia-smi on this machine must not answer
    basics = tmp_path / "basics"
    basics.mkdir()
    for tool in ("sed", "head", "dirname", "mkdir", "date", "tee", "grep", "cat"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, basics / tool)
    env = {"PATH": f"{bin_dir}:{basics}", "GPU_CHECK_LOGS": str(tmp_path / "logs"),
           "PYTHON": "python3"}
    proc = subprocess.run([shutil.which("bash"), str(SCRIPT), "--dry-run", "--steps", "50"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def command_of(out: str, step: str) -> list:
    line = next(line for line in out.splitlines() if line.startswith(f"== {step}: "))
    return shlex.split(line[len(f"== {step}: "):])


@pytest.mark.parametrize("tools, package", [
    ({"nvidia-smi": "| NVIDIA-SMI 550.54  Driver Version: 550.54  CUDA Version: 12.4 |"},
     "cupy-cuda12x"),
    ({"nvidia-smi": "| NVIDIA-SMI 580.65  Driver Version: 580.65  CUDA Version: 13.0 |"},
     "cupy-cuda13x"),
    ({"nvcc": "Cuda compilation tools, release 11.8, V11.8.89"}, "cupy-cuda11x"),
])
def test_dry_run_picks_the_cupy_wheel(tmp_path, tools, package):
    out = dry_run(tmp_path, tools)
    assert command_of(out, "install")[-1] == package
    assert f", {package}) ==" in out  # the summary names the wheel
    for step in ("install", "device", "gpu_tests", "step_benchmark", "mnist_to_mnistm"):
        assert f"{step:16s} dry run" in out


def test_the_commands_it_would_run_are_valid(tmp_path):
    out = dry_run(tmp_path, {"nvidia-smi": "CUDA Version: 12.2"})
    tests = command_of(out, "gpu_tests")
    assert tests[1:4] == ["-m", "pytest", "-q"] and "gpu" in tests
    bench = command_of(out, "step_benchmark")
    assert bench[1] == "benchmarks/bench_dann_step.py" and (ROOT / bench[1]).exists()
    assert bench[bench.index("--device") + 1] == "cuda"
    train = command_of(out, "mnist_to_mnistm")
    assert train[1:3] == ["-m", "dann_from_scratch.cli"]
    args = build_parser().parse_args(train[3:])
    assert (args.source, args.target, args.steps, args.device) == ("mnist", "mnistm", 50, "cuda")


def test_the_script_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
