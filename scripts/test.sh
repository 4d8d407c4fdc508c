#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian/Ubuntu machine and run it.
#   bash scripts/test.sh            # whole suite (GUI tests under a virtual X server)
#   bash scripts/test.sh -k heyn    # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Xvfb + Mesa (OpenGL) + the X/xcb libraries Qt needs. napari's canvas needs
# OpenGL, which Qt's 'offscreen' platform does not give, so GUI tests run under Xvfb.
SYSTEM_PACKAGES="xvfb libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0
  libxcb-xfixes0 libxcb-cursor0 libdbus-1-3 libfontconfig1"
missing=""
for pkg in $SYSTEM_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi

VENV="${SRMAT_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0          # CPU wheel; the package then accepts it as is
python -m pip install -q -e ".[testing]"

ruff check src tests benchmarks examples scripts studies
python -m pytest -ra "$@"
