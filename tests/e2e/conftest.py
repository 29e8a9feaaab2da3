"""Browser tests: Playwright drives Chromium (the system's /usr/bin/chromium where present)."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make between
# browser steps are ordinary synchronous calls, which Django would otherwise refuse there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = dict(browser_type_launch_args)
    system = shutil.which("chromium") or shutil.which("chromium-browser")
    if system:
        args["executable_path"] = system
    # The machine's network is closed: no background calls home, no sandbox as root.
    args["args"] = [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]
    return args


@pytest.fixture
def sign_in(page, live_server):
    """Sign in through the real form; returns the page on the user's home page."""

    def do(username: str, password: str = "crm-demo-2026"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]:not([name=language])")
        return page

    return do


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A branch's PCs run Chinese browsers; the English tests switch with the page's own switcher.
    return {**browser_context_args, "locale": "zh-CN"}
