#!/usr/bin/env bash
# Install torch 2.13.0, CPU build, into the environment of the Python given as $1 (default: .venv/bin/python).
# A plain `pip install torch==2.13.0` on Linux pulls the multi-GB CUDA build from PyPI. So: a local torch 2.13.0 wheel
# in pip's configured find-links if there is one; otherwise PyTorch's CPU wheel index; on macOS plain PyPI (CPU-only there).
set -euo pipefail
PY=${1:-.venv/bin/python}
TORCH=torch==2.13.0
if "$PY" -m pip install -q --no-index --no-deps "$TORCH" 2>/dev/null; then
  "$PY" -m pip install -q "$TORCH"   # torch is in place: this adds only its dependencies, from the registry
elif [ "$(uname -s)" = Darwin ]; then
  "$PY" -m pip install -q "$TORCH"
else
  "$PY" -m pip install -q "$TORCH" --index-url https://download.pytorch.org/whl/cpu
fi
