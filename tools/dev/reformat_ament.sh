#!/usr/bin/env bash
# The package-wide change of issue 17, item 2: everything to what the ament linters accept with their DEFAULT
# configurations (ament_flake8: 99 columns, flake8-import-order google, flake8-quotes single; ament_pep257:
# every pydocstyle check but D100-D107, D203, D212, D404; ament_copyright: a notice and a known license in
# every Python file). Run once, from a clean checkout, after the other branches are merged:
#
#     tools/dev/reformat_ament.sh            # rewrites the tree, then prints what is left for a person
#
# Steps: copyright headers (Apache-2.0, holder = package.xml's maintainer) -> ruff format (99 columns, single
# quotes; tools/dev/ruff_ament.toml) -> wrap the prose ruff format leaves long (tools/dev/ament_fix.py wrap)
# -> ruff's import order / quotes / comprehension / docstring fixes -> imperative summaries -> E203 -> the
# repository's configurations switched to the ament defaults. Then it counts what is left, with the real
# ament linters where they are importable, else flake8 with tools/dev/ament_flake8.ini (ament_flake8's own
# file, humble) and pydocstyle with ament_pep257's ignore list.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
RUFF=${RUFF:-.venv/bin/ruff}
CFG=tools/dev/ruff_ament.toml
TARGETS=(vitedge_ros launch tools test setup.py)
AMENT_PEP257_IGNORE=D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404

"$PY" tools/dev/ament_fix.py headers "${TARGETS[@]}"
"$RUFF" format -q --config "$CFG" "${TARGETS[@]}"
for _ in 1 2; do
    "$PY" tools/dev/ament_fix.py wrap --width 99 "${TARGETS[@]}"
    "$RUFF" format -q --config "$CFG" "${TARGETS[@]}"
done
# import order, quotes, comprehensions, docstring layout (D213: summary on the second line, D209, D400...)
"$RUFF" check -q --config "$CFG" --select I,Q,C4,D2,D3,D4 --ignore "$AMENT_PEP257_IGNORE" --fix-only --unsafe-fixes \
    "${TARGETS[@]}" || true
"$PY" tools/dev/ament_fix.py imperative "${TARGETS[@]}"
"$PY" tools/dev/ament_fix.py summaries --width 99 "${TARGETS[@]}"
"$PY" tools/dev/ament_fix.py sections "${TARGETS[@]}"
"$PY" tools/dev/ament_fix.py wrap --width 99 "${TARGETS[@]}"
"$PY" tools/dev/ament_fix.py e203 "${TARGETS[@]}"
"$PY" tools/dev/ament_fix.py classnl "${TARGETS[@]}"
"$PY" tools/dev/ament_fix.py configs

echo "--- left for a person:"
if "$PY" -c 'import ament_flake8, ament_pep257, ament_copyright' 2>/dev/null; then
    "$PY" -c 'from ament_flake8.main import main; main(argv=[])' | grep -E '^[0-9]+ +[A-Z]+[0-9]+|errors$' || true
    "$PY" -c "from ament_pep257.main import main; main(argv=['.', 'test'])" | tail -1 || true
    "$PY" -c "from ament_copyright.main import main; main(argv=['.', 'test'])" 2>&1 | tail -1 || true
else
    "$PY" -m flake8 --config tools/dev/ament_flake8.ini "${TARGETS[@]}" | tail -25 || true
    "$PY" -m pydocstyle --ignore="$AMENT_PEP257_IGNORE" "${TARGETS[@]}" | grep -cE '^ +D[0-9]+' || true
fi
"$RUFF" check . || true
