#!/bin/sh
# One call's worth of GPU checks of the batched engine's compile and run time (at most ~9 min).
#
# A first 1,000-fit call on a fresh GPU did not return in about 3 minutes, with XLA's "Very slow
# compile?" alarm, while a CPU compiles the same program in about 10 s whatever the chunk
# (benchmarks/RESULTS.md). These steps tell the compiler's autotuners apart from the rest:
#   A, B: 1,000 fits, short chains, one autotuner off each (compile and a short run);
#   C: 64 fits, default flags (does the compile grow with the chunk?);
#   D: 1,000 fits at the command line's default chains, autotuner of A off (the 60 s target).
# Each step prints each program's compile time (start, advance, finish) before it runs, so a step
# killed at its limit still shows how far the compiler got.
#
# On a machine without the package's dependencies, carry wheels in .whl/ (ignored by git):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     arviz==0.23.4 xarray-einstats==0.9.1 h5netcdf==1.8.3 numpyro==0.22.0 platformdirs
#   pip wheel -q --no-deps . -w .whl
# and run: sh benchmarks/gpu_check.sh (from the repository root).
set -u
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
  for file in bayes_passk/*.py models/*.py; do  # a wheel of an older tree would mislead
    installed=/tmp/site/bayes_passk/${file#bayes_passk/}  # models/x.py: bayes_passk/models/x.py
    cmp -s "$file" "$installed" || { echo "stale wheel in .whl/: $file differs"; exit 5; }
  done
  export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1
(cd /tmp && python3 -c "import jax, numpyro, bayes_passk as bp
print(jax.__version__, numpyro.__version__, bp.__file__, jax.devices())") || exit 4

step() {
  name=$1
  limit=$2
  shift 2
  echo "=== $name $(date -u +%T), limit $limit s: $*"
  { timeout "$limit" python3 benchmarks/batched_compile.py "$@"; echo "exit $? (124: killed)"; } \
    2>&1 | grep --line-buffered -v "^ *$"
  echo "=== $name ended $(date -u +%T)"
}

FUSION=--xla-flags=--xla_gpu_experimental_enable_fusion_autotuner=false
step A 120 --chunk 1000 --warmup 30 --samples 30 "$FUSION"
step B 120 --chunk 1000 --warmup 30 --samples 30 --xla-flags=--xla_gpu_autotune_level=0
step C 90 --chunk 64 --warmup 30 --samples 30
step D 200 --chunk 1000 --warmup 500 --samples 500 "$FUSION"
