# Sourced by scripts/test.sh: the Node `jaeger-client` the agent end-to-end test reports
# with (tests/e2e/node). `npm ci` only runs when package-lock.json changed since the last
# install.
node_pkg="$root/tests/e2e/node"
node_stamp="$node_pkg/node_modules/.lock.sha"
node_want=$(sha256sum "$node_pkg/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$node_stamp" 2>/dev/null)" != "$node_want" ]; then
    (cd "$node_pkg" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$node_want" > "$node_stamp"
fi
