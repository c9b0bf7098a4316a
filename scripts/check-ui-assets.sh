#!/usr/bin/env bash
# Checks that the committed web UI build (ui/dist, embedded into sextant-query) is what the
# UI sources build to: runs the UI's type check and unit tests, rebuilds into a temporary
# directory and compares it with ui/dist file by file. CI runs this (from scripts/test.sh);
# on failure, run `npm run build` in ui/ and commit ui/dist.
#
# Needs ui/node_modules (scripts/setup/50-browser.sh runs `npm ci`).
set -euo pipefail
cd "$(dirname "$0")/../ui"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npm run --silent test -- --reporter=dot
npx tsc --noEmit
npx vite build --logLevel error --outDir "$out" --emptyOutDir
if ! diff -r "$out" dist > "$out.diff" 2>&1; then
    echo "ui/dist is stale: it differs from a fresh build of ui/src:" >&2
    head -n 40 "$out.diff" >&2
    rm -f "$out.diff"
    echo "Run 'npm run build' in ui/ and commit ui/dist." >&2
    exit 1
fi
rm -f "$out.diff"
echo "ui/dist matches the sources"
