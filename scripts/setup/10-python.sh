# Sourced by scripts/test.sh: the Python virtualenv with the real client libraries the
# end-to-end tests send spans with. Re-installs only when requirements.txt changed.
venv="$root/tests/e2e/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha"
want=$(sha256sum "$root/tests/e2e/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/tests/e2e/requirements.txt"
    echo "$want" > "$stamp"
fi
export SEXTANT_PYTHON="$venv/bin/python"
