#!/usr/bin/env bash
# Hearth's test command:  bash tests/run.sh [extra pytest args]
#
# From the repository root (any cwd works), on a machine with Python 3.11+:
#   venv      create .venv if missing, pip install -e '.[test]'
#   pgvector  .ci/install-pgvector.sh when root (best effort; never fatal)
#   ruff      ruff check .
#   mypy      python -m mypy server indexer
#   pytest    pytest -q -p no:randomly --durations=15 tests [extra args]
#   vscode    npm ci + npm run ci in editors/vscode (when node, npm and the script exist)
# Stops at the first failing stage with a non-zero exit. pytest's "no tests ran" (exit 5)
# counts as a failure.
#
# Environment: PYTHON (interpreter used to create .venv; default: first python3.11+ found),
# HEARTH_VENV (default .venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${HEARTH_VENV:-.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

STAGES=()
STAGE_NAME=""
STAGE_T0=0
RUN_T0=$SECONDS
stage() {  # stage NAME DESCRIPTION: close the previous stage, open a new one
    end_stage
    STAGE_NAME="$1"
    STAGE_T0=$SECONDS
    printf '\n==> [%s] %s\n' "$1" "$2"
}
end_stage() {
    if [ -n "$STAGE_NAME" ]; then
        STAGES+=("$(printf '%-9s %5ss' "$STAGE_NAME" "$((SECONDS - STAGE_T0))")")
        STAGE_NAME=""
    fi
}
report_times() {
    local rc=$?
    local failed="$STAGE_NAME"
    end_stage
    printf '\n==> stage times\n'
    local s
    for s in "${STAGES[@]}"; do printf '    %s\n' "$s"; done
    printf '    %-9s %5ss\n' total "$((SECONDS - RUN_T0))"
    if [ "$rc" -ne 0 ]; then
        printf '==> FAILED in stage [%s] (exit %s)\n' "${failed:-?}" "$rc"
    elif [ -n "${PYTEST_SUMMARY:-}" ]; then
        # Last line of the run: pytest's counts, in the plain 'N passed, N failed' form.
        printf 'pytest: %s\n' "$PYTEST_SUMMARY"
    fi
}
trap report_times EXIT

pick_python() {
    local c
    for c in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 /usr/bin/python3; do
        [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

# --- venv ------------------------------------------------------------------------------------
stage venv "python environment ($VENV) + pip install -e '.[test]'"
if [ ! -x "$VENV/bin/python" ]; then
    PY="$(pick_python)" || { echo "error: Python >= 3.11 not found (set PYTHON=...)" >&2; exit 1; }
    echo "creating $VENV with $PY ($("$PY" --version 2>&1))"
    "$PY" -m venv "$VENV"
fi
VPY="$ROOT/$VENV/bin/python"
[[ "$VENV" = /* ]] && VPY="$VENV/bin/python"
"$VPY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || { echo "error: $VENV uses $("$VPY" --version 2>&1); Hearth needs Python >= 3.11" >&2; exit 1; }
# (the filter drops pip's noise about this machine's extra local indexes, nothing else)
"$VPY" -m pip install -q -e '.[test]' \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$("$VPY" --version 2>&1) in $VENV; hearth-lsp installed"
export PATH="$(dirname "$VPY"):$PATH"

# --- system pgvector (best effort) -----------------------------------------------------------
if [ "${EUID:-$(id -u)}" = 0 ] && [ -f .ci/install-pgvector.sh ]; then
    stage pgvector "system PostgreSQL + pgvector (best effort)"
    bash .ci/install-pgvector.sh \
        || echo "warning: .ci/install-pgvector.sh failed; tests fall back to the pgserver wheel"
fi

# --- lint / types ----------------------------------------------------------------------------
stage ruff "ruff check ."
"$VPY" -m ruff check .

stage mypy "mypy server indexer"
"$VPY" -m mypy server indexer

# --- pytest ----------------------------------------------------------------------------------
stage pytest "pytest"
# Run the whole tests/ tree unless a path (or node id) was passed explicitly.
targets=(tests)
for a in "$@"; do
    case "$a" in -*) continue ;; esac
    if [ -e "${a%%::*}" ]; then targets=(); break; fi
done
PYTEST_LOG="$(mktemp "${TMPDIR:-/tmp}/hearth-pytest.XXXXXX")"
color=()
[ -t 1 ] && color=(--color=yes)
set +e
PYTHONUNBUFFERED=1 "$VPY" -m pytest -q -p no:randomly --durations=15 "${color[@]}" "${targets[@]}" "$@" 2>&1 \
    | tee "$PYTEST_LOG"
rc=${PIPESTATUS[0]}
set -e
# pytest -q closes with e.g. "12 passed, 1 skipped in 3.21s"
last="$(sed 's/\x1b\[[0-9;]*m//g' "$PYTEST_LOG" \
    | grep -E '^=*[[:space:]]*[0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed)' | tail -n1 || true)"
rm -f "$PYTEST_LOG"
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected/ran no tests (exit 5): treated as a failure" >&2
    exit 5
elif [ "$rc" -ne 0 ]; then
    exit "$rc"
fi
count() { grep -oE "[0-9]+ $1" <<<"$last" | head -n1 | cut -d' ' -f1 || true; }
passed="$(count passed)"; failed="$(count failed)"; skipped="$(count skipped)"
if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
    echo "warning: pytest exited 0 but no test passed (${last:-no summary line found})" >&2
fi
PYTEST_SUMMARY="${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
[ -n "${HEARTH_RESULT_FILE:-}" ] && printf '%s\n' "$PYTEST_SUMMARY" >"$HEARTH_RESULT_FILE"

# --- VS Code extension -----------------------------------------------------------------------
EXT=editors/vscode
if [ -f "$EXT/package.json" ]; then
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo
        echo "==> [vscode] skipped: node/npm not installed"
    elif ! (cd "$EXT" && node -e 'process.exit((require("./package.json").scripts || {}).ci ? 0 : 1)'); then
        echo
        echo "==> [vscode] skipped: $EXT/package.json has no \"ci\" script"
    else
        stage vscode "npm install + npm run ci ($EXT, node $(node --version))"
        if [ -f "$EXT/package-lock.json" ]; then
            (cd "$EXT" && npm ci --no-audit --no-fund)
        else
            (cd "$EXT" && npm install --no-audit --no-fund)
        fi
        (cd "$EXT" && npm run ci)
    fi
fi
end_stage
exit 0
