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
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-system-packages: not root; missing Debian packages: ${missing[*]}" >&2
  exit 0
fi
echo "install-system-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
