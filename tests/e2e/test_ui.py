"""The web UI in a real browser: runs the Playwright suite in tests/browser (playwright-core
driving Debian's chromium against a real `sextant` all-in-one started by the suite) and
asserts it passed. Screenshots of every page land in target/ui-screenshots/.

Needs chromium and tests/browser/node_modules (scripts/setup/50-browser.sh installs both)."""

import os
import shutil
import subprocess

from conftest import BIN_DIR

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUITE = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("SEXTANT_CHROMIUM", "/usr/bin/chromium")


def test_ui_in_browser():
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} missing: run scripts/setup/50-browser.sh"
    assert os.path.isdir(os.path.join(SUITE, "node_modules", "playwright-core")), (
        "tests/browser/node_modules missing: run scripts/setup/50-browser.sh"
    )
    node = shutil.which("node")
    assert node, "node is not on PATH"
    env = dict(os.environ, SEXTANT_BIN_DIR=BIN_DIR, SEXTANT_CHROMIUM=CHROMIUM)
    run = subprocess.run(
        [node, os.path.join(SUITE, "ui.test.mjs")],
        cwd=SUITE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(run.stdout)
    assert run.returncode == 0, f"browser suite failed:\n{run.stdout}\n{run.stderr}"
