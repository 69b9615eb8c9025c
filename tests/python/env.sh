#!/usr/bin/env bash
# Prints the path of a Python interpreter in a virtual environment that has the
# given packages installed, creating or refreshing it first when needed.
#
#   tests/python/env.sh NAME REQUIREMENT...      e.g. env.sh mlflow 'mlflow==2.22.0'
#
# The environments live in ${LINEAGEDB_PYENV_DIR:-~/.cache/lineagedb/python}/NAME,
# outside the checkout, so every worktree and CI run on a machine shares them; an
# environment is rebuilt when its requirement list changes. Concurrent callers
# wait for each other (flock). Everything comes from PyPI through pip; on failure
# the script exits 1 and says what could not be installed.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 NAME REQUIREMENT..." >&2
  exit 2
fi
name=$1
shift
root=${LINEAGEDB_PYENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lineagedb/python}
dir=$root/$name
mkdir -p "$root"
exec 9>"$root/$name.lock"
flock 9
want=$(printf '%s\n' "$@" | sha256sum | cut -c1-16)
if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.requirements" 2>/dev/null)" != "$want" ]; then
  rm -rf "$dir"
  if ! python3 -m venv "$dir" >&2; then
    echo "could not create a Python virtual environment in $dir (is python3-venv installed?)" >&2
    exit 1
  fi
  if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2; then
    echo "could not install $* from PyPI into $dir" >&2
    rm -rf "$dir"
    exit 1
  fi
  echo "$want" >"$dir/.requirements"
fi
echo "$dir/bin/python"
