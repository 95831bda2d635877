#!/usr/bin/env bash
# Create bench/.venv-litellm with the LiteLLM proxy, kept apart from souverain's environment so that
# neither project's dependencies change the other's speed. Usage: bash bench/setup_litellm.sh [VERSION]
# (VERSION pins litellm, e.g. 1.74.0; the default is the newest release).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${here}/.venv-litellm"
python="${PYTHON:-python3}"
spec="litellm[proxy]${1:+==$1}"

if [[ ! -x "${venv}/bin/python" ]]; then
    "${python}" -m venv "${venv}"
fi
"${venv}/bin/python" -m pip install --quiet --upgrade pip
# httptools as well: uvicorn then parses HTTP in C, as it does for souverain (litellm[proxy] alone
# leaves it on the pure-Python h11 parser). It can only make LiteLLM faster.
"${venv}/bin/python" -m pip install --quiet "${spec}" httptools
"${venv}/bin/litellm" --version 2>/dev/null || "${venv}/bin/python" -c \
    "import importlib.metadata as m; print('litellm', m.version('litellm'))"
