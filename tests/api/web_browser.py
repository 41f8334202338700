"""What the web page tests share: a real server with a study that remote workers (driven from
the test, so that trials finish when the test says) run, and Debian's chromium through
Playwright, recording every console error and uncaught exception of the pages."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page

from tests.api.server import ServerProcess
from tests.api.test_api import api, new_token, unique
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO / "build" / "screenshots"
XSS_CHOICE = "<img src=x onerror=window.__xss=1>"
XSS_ERROR = "Traceback (most recent call last):\n  <script>window.__xss=2</script>\nValueError: bad"


def web_spec(name: str, first: int = 12, second: int = 40) -> dict[str, Any]:
    """A study for remote workers: a float, an int, a categorical with a hostile choice."""
    return {
        "name": name,
        "direction": "minimize",
        "space": {
            "x": {"type": "float", "low": -5.0, "high": 5.0},
            "n": {"type": "int", "low": 1, "high": 8},
            "kind": {"type": "categorical", "choices": [XSS_CHOICE, "plain"]},
        },
        "plan": [
            {"algorithm": "random", "trials": first},
            {"algorithm": "random", "trials": second},
        ],
        "seed": 3,
    }


def objective(params: dict[str, Any]) -> float:
    return (params["x"] - 1.0) ** 2 + 0.1 * params["n"] + (0.5 if params["kind"] == "plain" else 0)


@dataclass
class Site:
    """A server, a project with read and write tokens, a study in it, another project's study."""

    server: ServerProcess
    project: str
    write: str
    read: str
    other: str
    study: str
    other_study: str
    held: list[tuple[int, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, token: str | None = None) -> httpx.Client:
        return api(self.server, token or self.write)

    def finish(self, count: int, fail: bool = False) -> list[int]:
        """Claim and finish ``count`` trials as a worker would: report three intermediate
        values, then complete (or fail with a hostile error text)."""
        numbers = []
        with self.client() as c:
            for _ in range(count):
                got = c.post(f"/studies/{self.study}/trials/claim", json={"worker": "w-test"})
                trial = got.json()["trial"]
                assert trial is not None, got.text
                number, attempt = trial["number"], trial["attempt"]
                value = objective(trial["params"])
                for step in range(3):
                    c.post(
                        f"/studies/{self.study}/trials/{number}/report",
                        json={"attempt": attempt, "step": step, "value": value + math.exp(-step)},
                    ).raise_for_status()
                if fail:
                    body = {"attempt": attempt, "error": XSS_ERROR}
                    c.post(f"/studies/{self.study}/trials/{number}/fail", json=body)
                else:
                    body = {"attempt": attempt, "value": value}
                    c.post(f"/studies/{self.study}/trials/{number}/complete", json=body)
                numbers.append(number)
        return numbers

    def hold(self) -> int:
        """Claim a trial and keep it running."""
        with self.client() as c:
            got = c.post(f"/studies/{self.study}/trials/claim", json={"worker": "w-hold"})
            trial = got.json()["trial"]
        self.held.append((trial["number"], trial["attempt"]))
        return int(trial["number"])


def make_site(server: ServerProcess) -> Site:
    project, other_project = unique("web"), unique("stranger")
    write = new_token(server, project, "write")
    read = new_token(server, project, "read")
    other = new_token(server, other_project, "write")
    site = Site(server, project, write, read, other, unique("board"), unique("secret"))
    with site.client() as c:
        assert c.post("/studies", json=web_spec(site.study)).status_code == 201
    with site.client(other) as c:
        assert c.post("/studies", json=web_spec(site.other_study)).status_code == 201
    site.finish(10)
    site.finish(1, fail=True)
    site.finish(1)  # the first round is done
    site.hold()  # a trial of the second round runs
    return site


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class Console:
    """Every console error and uncaught exception of a page (the test asserts there are none)."""

    def __init__(self, page: Page, allow: tuple[str, ...] = ()) -> None:
        self.errors: list[str] = []
        self.allow = allow
        page.on("console", lambda m: m.type == "error" and self._add(m.text))
        page.on("pageerror", lambda e: self._add(f"uncaught: {e}"))

    def _add(self, text: str) -> None:
        if not any(a in text for a in self.allow):
            self.errors.append(text)


def logged_in(
    browser: Browser, url: str, token: str, allow: tuple[str, ...] = ()
) -> tuple[Page, Console]:
    """A new page of the site at ``url``, logged in with ``token`` through the login form."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    console = Console(page, allow)
    page.goto(f"{url}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page, console
