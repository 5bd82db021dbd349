#!/usr/bin/env bash
# One prepared check of minigrad's CuPy path, for a machine with an NVIDIA GPU.
#
#   benchmarks/gpu_check.sh [--dry-run] [--steps N] [--no-install] [--data-dir DIR] [--download]
#
# 1. finds the CUDA version (nvidia-smi, else nvcc) and installs the matching CuPy wheel
#    (cupy-cuda11x / cupy-cuda12x / cupy-cuda13x) into the current Python;
# 2. checks that minigrad sees the GPU;
# 3. runs the gpu-marked tests on the real GPU (pytest -m gpu);
# 4. times one DANN step of the three paper networks on the GPU, against PyTorch CUDA when
#    PyTorch with CUDA imports (benchmarks/bench_dann_step.py --device cuda);
# 5. trains MNIST -> MNIST-M (DANN, the MNIST network) for 2,000 steps on the GPU (needs the
#    data sets in --data-dir, or --download);
# and prints one summary: each step's status, time and log file.
#
# --dry-run prints the commands instead of running them (no GPU needed); the tests use it.
# Run it from anywhere; PYTHON (default: python) is the interpreter to use. Logs go to
# $GPU_CHECK_LOGS (default: gpu_check_logs/ in the repository).
set -uo pipefail

dry_run=0
install=1
steps=2000
data_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --no-install) install=0 ;;
        --steps) steps="${2:?--steps needs a number}"; shift ;;
        --data-dir) data_args+=(--data-dir "${2:?--data-dir needs a folder}"); shift ;;
        --download) data_args+=(--download) ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
python="${PYTHON:-python}"
logs="${GPU_CHECK_LOGS:-$root/gpu_check_logs}"
mkdir -p "$logs"

# -- the CUDA version and the CuPy wheel for it ---------------------------------------------------
cuda_version() {
    local v=""
    if command -v nvidia-smi >/dev/null 2>&1; then
        v="$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\.[0-9]*\).*/\1/p' | head -n 1)"
    fi
    if [ -z "$v" ] && command -v nvcc >/dev/null 2>&1; then
        v="$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\.[0-9]*\).*/\1/p' | head -n 1)"
    fi
    echo "$v"
}

cuda="$(cuda_version)"
case "${cuda%%.*}" in
    11) cupy_pkg="cupy-cuda11x" ;;
    12) cupy_pkg="cupy-cuda12x" ;;
    13) cupy_pkg="cupy-cuda13x" ;;
    "") echo "gpu_check.sh: no CUDA found (neither nvidia-smi nor nvcc reports a version)" >&2
        [ "$dry_run" = 1 ] || exit 1
        cupy_pkg="cupy-cuda12x" ;;
    *) echo "gpu_check.sh: CUDA $cuda: no CuPy wheel known for it; trying cupy-cuda13x" >&2
       cupy_pkg="cupy-cuda13x" ;;
esac
echo "CUDA ${cuda:-unknown}: CuPy package $cupy_pkg"

# -- running the steps ----------------------------------------------------------------------------
names=()
results=()

# step NAME COMMAND...: run COMMAND (or print it with --dry-run), log its output, record the result
step() {
    local name="$1"; shift
    local log="$logs/$name.log"
    echo
    echo "== $name: $*"
    if [ "$dry_run" = 1 ]; then
        names+=("$name"); results+=("dry run"); return 0
    fi
    local start end status
    start="$(date +%s)"
    "$@" 2>&1 | tee "$log"
    status="${PIPESTATUS[0]}"
    end="$(date +%s)"
    names+=("$name")
    if [ "$status" = 0 ]; then
        results+=("ok in $((end - start)) s (log: $log)")
    else
        results+=("FAILED (exit $status) after $((end - start)) s (log: $log)")
    fi
    return "$status"
}

if [ "$install" = 1 ]; then
    step install "$python" -m pip install "$cupy_pkg"
fi
step device "$python" -c "import minigrad, cupy; assert minigrad.gpu_available(), 'minigrad does not see the GPU'; print('CuPy', cupy.__version__, 'on', cupy.cuda.runtime.getDeviceProperties(0)['name'].decode())" || {
    echo "gpu_check.sh: minigrad does not see a GPU; stopping" >&2
    [ "$dry_run" = 1 ] || exit 1
}
step gpu_tests "$python" -m pytest -q -p no:cacheprovider -m gpu tests
step step_benchmark "$python" benchmarks/bench_dann_step.py --device cuda --threads 1 --rounds 3
step mnist_to_mnistm "$python" -m dann_from_scratch.cli train --source mnist --target mnistm \
    --method dann --model mnist --steps "$steps" --device cuda --overwrite \
    --out "$logs/mnist-mnistm-run" "${data_args[@]}"

# -- one summary -------------------------------------------------------------------------------------
echo
echo "== summary (CUDA ${cuda:-unknown}, $cupy_pkg) =="
failed=0
for i in "${!names[@]}"; do
    printf '%-16s %s\n' "${names[$i]}" "${results[$i]}"
    case "${results[$i]}" in FAILED*) failed=1 ;; esac
done
if [ "$dry_run" = 0 ]; then
    echo
    echo "step times (ms, minigrad vs PyTorch):"
    grep -E '^(mnist|svhn|gtsrb) ' "$logs/step_benchmark.log" || echo "(no benchmark summary)"
    echo "MNIST -> MNIST-M after $steps steps:"
    grep -E 'target test accuracy' "$logs/mnist_to_mnistm.log" || echo "(no result)"
fi
exit "$failed"
