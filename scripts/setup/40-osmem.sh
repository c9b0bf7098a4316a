# Sourced by scripts/test.sh: osmem-server (PyPI; an in-memory OpenSearch-compatible server
# with a bundled binary) for the Elasticsearch backend's tests, in its own virtualenv.
# Installs only when missing; exports OSMEM_SERVER, the binary the tests start.
osmem_venv="$root/tests/e2e/.venv-osmem"
osmem_version="0.1.6"
if [ ! -x "$osmem_venv/bin/python" ]; then
    python3 -m venv "$osmem_venv"
fi
if ! "$osmem_venv/bin/python" -c "import osmem_server, sys; sys.exit(osmem_server.__version__ != '$osmem_version')" 2>/dev/null; then
    "$osmem_venv/bin/pip" install --quiet --disable-pip-version-check "osmem-server==$osmem_version"
fi
OSMEM_SERVER=$("$osmem_venv/bin/python" -c "import osmem_server; print(osmem_server.resolve_binary())")
export OSMEM_SERVER
