#!/usr/bin/env bash
# Install the Debian packages listed in deps/apt-packages.txt that are missing.
# As root it runs apt-get; otherwise it names what is missing and carries on (tests that need a
# missing program skip, saying so).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' deps/apt-packages.txt | grep -v '^$' | awk '{print $1}')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-system-packages: not root; missing Debian packages: ${missing[*]}" >&2
  else
    echo "install-system-packages: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# Lockfile producers from the npm registry (tests/support/programs.py NPM_GLOBAL); Debian's
# yarnpkg does not run with this machine's Node.js.
for spec in yarn@1 pnpm@9; do
  tool="${spec%@*}"
  if ! command -v "$tool" >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install-system-packages: npm install -g $spec" >&2
    npm install -g --silent "$spec" >/dev/null 2>&1 || echo "install-system-packages: could not install $spec" >&2
  fi
done
