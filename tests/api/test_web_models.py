"""The web page's model pages in a real browser (Debian's chromium, driven by Playwright) against a
real ``tuner serve``: a server-side run whose trials save models, promoted from the trial page,
listed at /models, and /models/{name} with its versions, lineage, aliases and alias history.
Screenshots of /models and /models/{name} go to build/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.api.server import RUNS_ALLOWED, ServerProcess
from tests.api.test_api import api, new_token, unique
from tests.api.web_browser import Console, logged_in, screenshot
from tests.specs import spec_dict

HOSTILE = "<img src=x onerror=window.__xss=4>"


@dataclass
class Registry:
    """A project whose study saved a model per trial, two versions of ``churn`` registered from
    it (v1 the best trial, holding ``production``), and another project's model ``theirs``."""

    server: ServerProcess
    write: str
    read: str
    study: str
    best: int
    other_trial: int

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, token: str | None = None) -> httpx.Client:
        return api(self.server, token or self.write)


def _run(c: httpx.Client, name: str) -> None:
    spec = spec_dict(
        name,
        plan=[{"algorithm": "random", "trials": 3}],
        objective={"function": "tests.objectives:saves_bundle"},
    )
    assert c.post("/studies", json=spec).status_code == 201
    assert c.post(f"/studies/{name}/run").status_code == 202


def _wait(c: httpx.Client, name: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 90
    while c.get(f"/studies/{name}").json()["state"] != "complete":
        assert time.monotonic() < deadline, c.get(f"/studies/{name}").text
        time.sleep(0.2)
    board: list[dict[str, Any]] = c.get(f"/studies/{name}/leaderboard").json()
    return board


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    home: Path = tmp_path_factory.mktemp("webmodels")
    server = ServerProcess(f"sqlite:///{home / 'tuner.db'}", home, args=RUNS_ALLOWED).start()
    try:
        project = unique("models")
        write, read = new_token(server, project, "write"), new_token(server, project, "read")
        other = new_token(server, unique("stranger"), "write")
        study, theirs = unique("saved"), unique("theirs")
        with api(server, write) as c, api(server, other) as o:
            _run(c, study)
            _run(o, theirs)
            board = _wait(c, study)
            _wait(o, theirs)
            body = {"model": "churn", "alias": "production"}
            first = c.post(f"/studies/{study}/promote", json=body)
            assert first.status_code == 201, first.text
            worst = board[-1]["number"]
            second = c.post(f"/studies/{study}/promote", json={"model": "churn", "trial": worst})
            assert second.status_code == 201, second.text
            assert o.post(f"/studies/{theirs}/promote", json={"model": "theirs"}).status_code == 201
        yield Registry(server, write, read, study, board[0]["number"], board[1]["number"])
    finally:
        server.stop()


def test_the_models_page_lists_versions_aliases_latest_metric_and_update(
    browser: Browser, registry: Registry
) -> None:
    page, console = logged_in(browser, registry.url, registry.read)
    page.click("nav a[href='/models']")
    page.wait_for_url(f"{registry.url}/models")
    row = page.locator("#models tbody tr[data-name=churn]")
    expect(row).to_be_visible()
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text("2 (latest v2)")
    expect(cells.nth(2)).to_have_text("production → v1")
    expect(cells.nth(3)).to_contain_text("value ")
    assert cells.nth(4).inner_text().strip() != ""
    assert "theirs" not in page.content()  # another project's model
    screenshot(page, "models")
    page.click("#models a[href='/models/churn']")
    page.wait_for_url(f"{registry.url}/models/churn")
    expect(page.locator("#versions tbody tr")).to_have_count(2)
    expect(page.locator("#move-alias")).to_be_hidden()  # a read token moves nothing
    assert console.errors == []


def test_the_model_page_shows_lineage_and_moves_an_alias_with_its_history(
    browser: Browser, registry: Registry
) -> None:
    page, console = logged_in(browser, registry.url, registry.write, allow=("422",))
    page.goto(f"{registry.url}/models/churn")
    versions = page.locator("#versions tbody tr")
    expect(versions).to_have_count(2)
    v1 = page.locator("#versions tbody tr[data-version='1']")
    expect(v1).to_contain_text("production")
    expect(v1).to_contain_text("sklearn")
    expect(v1).to_contain_text(f"trial {registry.best}")
    expect(page.locator("#aliases tbody")).to_contain_text("production")
    expect(page.locator("#history tbody tr")).to_have_count(1)
    # a bad alias name: the error sits next to the field it names
    page.fill("#alias-name", "9 not an alias")
    page.select_option("#alias-version", "2")
    page.click("#move-alias button[type=submit]")
    expect(page.locator("#move-alias-error")).to_contain_text("alias")
    expect(page.locator("#alias-name")).to_have_class("bad")
    assert page.evaluate("document.getElementById('alias-name').nextElementSibling.id") == (
        "move-alias-error"
    )
    # a move, with a hostile reason kept as text
    page.fill("#alias-name", "production")
    page.fill("#alias-reason", HOSTILE)
    page.click("#move-alias button[type=submit]")
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    latest = history.first.locator("td")
    expect(latest.nth(1)).to_have_text("production")
    expect(latest.nth(2)).to_have_text("v1")
    expect(latest.nth(3)).to_have_text("v2")
    expect(latest.nth(4)).to_contain_text("token")
    expect(latest.nth(5)).to_have_text(HOSTILE)
    expect(page.locator("#versions tbody tr[data-version='2']")).to_contain_text("production")
    assert page.evaluate("window.__xss") is None
    screenshot(page, "model")
    with registry.client() as c:  # the same move, through the registry's route
        (_, move) = c.get("/models/churn/history").json()
        assert (move["from_version"], move["to_version"], move["reason"]) == (1, 2, HOSTILE)
        c.put("/models/churn/aliases/production", json={"version": 1}).raise_for_status()
    # the lineage goes back to the trial's page
    page.click("#versions tr[data-version='1'] a.trial-link")
    page.wait_for_url(f"{registry.url}/studies/{registry.study}/trials/{registry.best}")
    expect(page.locator("#trial-versions")).to_contain_text("churn v1")
    assert console.errors == []


def test_the_trial_page_shows_its_model_and_promotes_it(
    browser: Browser, registry: Registry
) -> None:
    page, console = logged_in(browser, registry.url, registry.write, allow=("422",))
    trial = f"{registry.url}/studies/{registry.study}/trials/{registry.other_trial}"
    page.goto(trial)
    expect(page.locator("#model")).to_contain_text("Saved model: sklearn")
    expect(page.locator("#model")).to_contain_text("f0")
    expect(page.locator("#trial-versions")).to_be_hidden()  # not registered yet
    # a bad model name: the error sits next to the model field
    page.fill("#promote-model", "no spaces please")
    page.click("#promote button[type=submit]")
    expect(page.locator("#promote-error")).to_contain_text("model")
    expect(page.locator("#promote-model")).to_have_class("bad")
    page.fill("#promote-model", "from-page")
    page.fill("#promote-alias", "staging")
    page.click("#promote button[type=submit]")
    expect(page.locator("#promote-done")).to_contain_text("Registered from-page v1")
    expect(page.locator("#trial-versions tbody tr")).to_have_count(1)
    expect(page.locator("#trial-versions")).to_contain_text("staging")
    with registry.client() as c:
        (version,) = c.get("/models/from-page").json()
        assert (version["trial"], version["aliases"]) == (registry.other_trial, ["staging"])
    # a read token sees the model, not the button
    reader, reader_console = logged_in(browser, registry.url, registry.read)
    reader.goto(trial)
    expect(reader.locator("#model")).to_contain_text("Saved model")
    expect(reader.locator("#trial-versions tbody tr")).to_have_count(1)
    expect(reader.locator("#promote")).to_be_hidden()
    assert console.errors == [] and reader_console.errors == []


def test_another_project_s_model_is_not_a_page(browser: Browser, registry: Registry) -> None:
    page = browser.new_context().new_page()
    console = Console(page, allow=("404",))
    page.goto(f"{registry.url}/login")
    page.fill("#token", registry.write)
    page.click("button[type=submit]")
    page.wait_for_url(f"{registry.url}/")
    answer = page.goto(f"{registry.url}/models/theirs")
    assert answer is not None and answer.status == 404
    expect(page.locator("#missing-name")).to_have_text("theirs")
    answer = page.goto(f"{registry.url}/models/{HOSTILE}")
    assert answer is not None and answer.status == 404
    expect(page.locator("#missing-name")).to_have_text(HOSTILE)
    assert page.evaluate("window.__xss") is None
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    with registry.client() as c:
        assert c.get("/models/theirs").status_code == 404
        assert all(m["name"] != "theirs" for m in c.get("/model-overview").json())
    assert console.errors == []
