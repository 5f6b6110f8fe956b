#!/usr/bin/env bash
# Notebooks are the source: agentfactory/ must equal a fresh nbdev-export, and nbs/ must already be clean.
set -euo pipefail
top=$(git rev-parse --show-toplevel); cd "$top"
bin="$top/.venv/bin"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$tmp" 2>/dev/null || true
(cd "$tmp" && "$bin/nbdev-export" >/dev/null && "$bin/nbdev-clean" >/dev/null)
status=0
if ! diff -r -q agentfactory "$tmp/agentfactory" -x __pycache__; then
  echo "agentfactory/ differs from a fresh nbdev-export: edit nbs/, run 'make nbs', commit both." >&2; status=1
fi
if ! diff -r -q nbs "$tmp/nbs" -x .ipynb_checkpoints; then
  echo "nbs/ has outputs or metadata that nbdev-clean removes: run 'make nbs'." >&2; status=1
fi
[ $status = 0 ] && echo "notebooks and package agree"
exit $status
