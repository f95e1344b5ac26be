#!/usr/bin/env bash
# The one list of Debian 12 packages Lumen needs, installed only when something is missing.
# `make lessons`, `make test` and CI all call this, so a fresh machine needs nothing by hand.
set -euo pipefail

PACKAGES=(
  build-essential g++ cmake ninja-build make pkg-config python3
  libfmt-dev catch2 libbenchmark-dev nlohmann-json3-dev libcli11-dev
  libomp-dev clang libclang-rt-14-dev
  graphviz
  # lesson 16 trains its character model on the vim help files (English text Debian ships)
  vim-runtime
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing packages (${missing[*]}) and not root, no sudo: install them as root with apt-get" >&2
    exit 1
  fi
else
  SUDO=""
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: apt-get not found; Lumen expects Debian 12. Install by hand: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "install-deps: apt-get could not install: ${missing[*]} (check the network or the apt sources)" >&2
  exit 1
fi
