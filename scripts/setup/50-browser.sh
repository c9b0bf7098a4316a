# Sourced by scripts/test.sh: what the web UI's build check and browser tests need —
# Debian's chromium (Playwright's own browser download does not work offline-from-CDN
# machines; playwright-core drives the system one) and the npm packages of ui/ and
# tests/browser/. Fast when already installed: apt only runs when chromium is missing,
# npm ci only when package-lock.json changed since the last install.
if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium (apt)"
    if ! apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    fi
fi
for pkg in "$root/ui" "$root/tests/browser"; do
    stamp="$pkg/node_modules/.lock.sha"
    want=$(sha256sum "$pkg/package-lock.json" | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" > "$stamp"
    fi
done
export SEXTANT_CHROMIUM=/usr/bin/chromium
