# Sourced by the launchers after they set ROOT (the repository root): PYTHON is $PYTHON when set,
# else the repository's .venv python (made by `make install`), else python from PATH.
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi
