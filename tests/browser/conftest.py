"""Fixtures for driving the built site in headless Chromium with the network off.

The site is served from ``_build/html`` on 127.0.0.1. Chromium resolves no host
but 127.0.0.1 (``--host-resolver-rules``), and every request to another host is
also intercepted, recorded and aborted, so a test can assert that the page
asked for nothing from outside.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socketserver
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("LABS_SITE_DIR", ROOT / "_build" / "html"))
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found at {path}: install Debian's chromium (tools/test.sh does) or set CHROMIUM"
        )
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="session")
def site_url():
    if not (SITE / "index.html").exists():
        pytest.fail(
            f"no built site at {SITE}; build the book first (tools/test.sh builds it before this step)"
        )
    server = socketserver.ThreadingTCPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Visit:
    """One page load: what it requested from outside, and the errors it threw."""

    def __init__(self, page):
        self.page = page
        self.external: list[str] = []
        self.errors: list[str] = []
        #: what the page wrote to the console as an error or a warning (a 404 is one too)
        self.console: list[str] = []


@pytest.fixture
def open_page(browser, site_url):
    contexts = []

    def _open(path: str, *, width: int = 1280, height: int = 900) -> Visit:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page)

        def route(r):
            host = urlparse(r.request.url).hostname
            if host == "127.0.0.1":
                r.continue_()
            else:
                visit.external.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page.on("pageerror", lambda exc: visit.errors.append(str(exc)))
        page.on(
            "console",
            lambda m: (
                visit.console.append(f"{m.type}: {m.text} ({m.location.get('url')})")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.goto(f"{site_url}/{path}", wait_until="networkidle")
        return visit

    yield _open
    for c in contexts:
        c.close()


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
