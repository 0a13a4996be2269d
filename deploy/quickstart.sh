#!/usr/bin/env bash
# Hearth's quick start:  bash deploy/quickstart.sh [REPOSITORY]
#
# On a fresh machine with Python 3.11+ (no PostgreSQL, no GPU needed): creates .venv, installs
# Hearth into it, and runs its main job on the embedded defaults (`hearth demo`): index the
# repository (default: Hearth's own source) into an embedded PostgreSQL + pgvector with a progress
# bar, start the real `hearth serve`, open a file at a cross-file call as an editor would, ask for
# an inline completion, and print the retrieved context, the prompt and the model's completion
# (from the vLLM server at HEARTH_MODEL_URL), or one line saying that no model is reachable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${HEARTH_VENV:-.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

pick_python() {
    local c
    for c in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$c"; return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    PY="$(pick_python)" || { echo "hearth: Python >= 3.11 is needed (set PYTHON=...)" >&2; exit 1; }
    echo "==> creating $VENV with $("$PY" --version 2>&1)"
    "$PY" -m venv "$VENV"
fi
echo "==> installing Hearth into $VENV"
"$VENV/bin/python" -m pip install -q -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
if [ $# -gt 0 ]; then target="$1"; else target="the Hearth source tree"; fi
echo "==> hearth demo: $target"
exec "$VENV/bin/hearth" demo "$@"
