#!/usr/bin/env bash
# Build the shared image corpus once into $DOCKWATCH_CORPUS (default /var/tmp/dockwatch-corpus).
# Skips, saying why, when ../shared/images is absent (a user's fresh clone) or when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
script=../shared/images/build-corpus.sh
out="${DOCKWATCH_CORPUS:-/var/tmp/dockwatch-corpus}"
if [ ! -x "$script" ]; then echo "corpus: $script not found; corpus tests will skip" >&2; exit 0; fi
if [ -f "$out/corpus.json" ] && [ -z "${REBUILD:-}" ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "corpus: building needs root; corpus tests will skip" >&2; exit 0; fi
echo "corpus: building into $out (about 2 minutes the first time)" >&2
log="$(mktemp)"
if ! RANDOM_MB="${RANDOM_MB:-200}" "$script" "$out" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "corpus: build failed; corpus tests will skip" >&2
fi
rm -f "$log"
