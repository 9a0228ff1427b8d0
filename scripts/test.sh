#!/usr/bin/env bash
# The test command of the README and of CI: set up (idempotent), lint, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/ruff check src tests benchmarks
# Types of src/ (settings in pyproject.toml's [tool.mypy]); set -e fails the run on an error.
.venv/bin/python -m mypy
# pytest exits 5 when it collected no test; set -e turns that (like any failure) into a red run.
.venv/bin/python -m pytest "$@"
