"""The web leaderboard in a real browser (Debian's chromium, driven by Playwright) against a real
``tuner serve`` on a free loopback port, with a study whose trials finish while the page is open.
Each page's screenshot is written to build/screenshots/."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.server import ServerProcess
from tests.api.web_browser import (
    XSS_CHOICE,
    Console,
    Site,
    logged_in,
    make_site,
    screenshot,
    web_spec,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home: Path = tmp_path_factory.mktemp("web")
    server = ServerProcess(f"sqlite:///{home / 'tuner.db'}", home, lease=600).start()
    try:
        yield make_site(server)
    finally:
        server.stop()


def rows(page: Page) -> list[dict[str, str]]:
    """The leaderboard's rows as {column label: cell text}, read at one instant."""
    return page.evaluate(
        """() => {
          const labels = [...document.querySelectorAll('#leaderboard thead th')]
            .map((th) => th.textContent);
          return [...document.querySelectorAll('#leaderboard tbody tr')].map((tr) =>
            Object.fromEntries([...tr.querySelectorAll('td')]
              .map((td, i) => [labels[i], td.textContent])));
        }"""
    )


def open_study(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/studies/{site.study}")
    expect(page.locator("#leaderboard tbody tr").first).to_be_visible()
    # the rows come written by the server; the script takes them over, then the headers sort
    expect(page.locator("#leaderboard[data-ready='1']")).to_be_attached()


def test_login_wrong_token_cookie_and_logout(browser: Browser, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    console = Console(page, allow=("401",))  # the wrong token's answer
    page.goto(f"{site.url}/")
    assert page.url == f"{site.url}/login"
    page.fill("#token", "tnr_not-a-token")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Unknown token")
    screenshot(page, "login-wrong-token")
    page.fill("#token", site.read)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/")
    (cookie,) = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert cookie["value"] == site.read
    assert page.evaluate("document.cookie") == ""  # out of the page script's reach
    expect(page.locator(".who")).to_contain_text(f"{site.project} · read")
    page.click("#logout")
    page.wait_for_url(f"{site.url}/login")
    assert context.cookies() == []
    page.goto(f"{site.url}/studies/{site.study}")
    assert page.url == f"{site.url}/login"
    assert console.errors == []


def test_the_studies_page_lists_the_project_s_studies_searchable_and_sortable(
    browser: Browser, site: Site
) -> None:
    page, console = logged_in(browser, site.url, site.write)
    names = page.locator("#studies tbody tr td:first-child")
    expect(names).to_have_count(1)
    expect(names.first).to_have_text(site.study)
    with site.client() as c:
        assert c.post("/studies", json=web_spec("zz-second", 3, 3)).status_code == 201
    expect(names).to_have_count(2)  # live
    expect(page.locator(f"tr[data-name='{site.study}'] .rounds .round-bar")).to_have_count(2)
    expect(page.locator(f"tr[data-name='{site.study}'] .total")).to_have_text("12 / 52")
    page.click("#studies th[data-key=name]")
    expect(names).to_have_text([site.study, "zz-second"])
    page.click("#studies th[data-key=name]")
    expect(names).to_have_text(["zz-second", site.study])
    page.fill("#search", "zz")
    expect(names).to_have_text(["zz-second"])
    page.fill("#search", "")
    assert site.other_study not in page.content()
    screenshot(page, "studies")
    assert console.errors == []


def test_the_leaderboard_updates_live_keeping_sort_filter_and_scroll(
    browser: Browser, site: Site
) -> None:
    page, console = logged_in(browser, site.url, site.write)
    open_study(page, site)
    expect(page.locator("#page-info")).to_contain_text("1-50 of 52")
    labels = page.locator("#leaderboard thead th").all_inner_texts()
    fixed = ["rank", "number", "round", "algorithm", "state", "value", "duration", "attempts"]
    assert labels == [*fixed, "x", "n", "kind"]
    page.click("#leaderboard th[data-key='param:x']")
    page.click("#leaderboard th[data-key='param:x']")  # descending
    page.check("#state-complete")
    page.click("#filters button[type=submit]")
    expect(page.locator("#page-info")).to_contain_text("of 11 (filtered from")
    page.evaluate("window.scrollTo(0, 400)")
    before = page.locator("#leaderboard").get_attribute("data-fingerprint")
    site.finish(5)
    expect(page.locator("#page-info")).to_contain_text("of 16 (filtered from", timeout=10_000)
    assert page.locator("#leaderboard").get_attribute("data-fingerprint") != before
    got = rows(page)
    xs = [float(r["x"]) for r in got]
    assert xs == sorted(xs, reverse=True)
    assert {r["state"] for r in got} == {"complete"}
    assert page.locator("#leaderboard th.sorted.desc").inner_text() == "x"
    assert page.locator("#state-complete").is_checked()
    assert page.evaluate("window.scrollY") == 400
    assert console.errors == []


def test_the_first_rows_come_written_by_the_server_escaped_as_the_script_writes_them(
    browser: Browser, site: Site
) -> None:
    """The study page comes with its first rows (they paint before any script runs): the
    hostile choice in them is escaped text, and they are the rows the script then writes."""
    served = httpx.get(f"{site.url}/studies/{site.study}", cookies={"tuner_token": site.read})
    assert served.status_code == 200 and '<tr data-number="' in served.text
    assert XSS_CHOICE not in served.text and html.escape(XSS_CHOICE) in served.text
    static = browser.new_context(java_script_enabled=False)
    static.add_cookies([{"name": "tuner_token", "value": site.read, "url": site.url}])
    bare = static.new_page()
    bare.goto(f"{site.url}/studies/{site.study}")
    written = rows(bare)
    assert len(written) >= 13 and XSS_CHOICE in {r["kind"] for r in written}
    info = bare.locator("#page-info").inner_text()
    assert info.startswith(f"1-{len(written)} of ")
    static.close()
    page, console = logged_in(browser, site.url, site.read)
    open_study(page, site)
    page.select_option("#limit", "100")  # the script writes the rows anew
    expect(page.locator("#leaderboard")).to_have_attribute("data-limit", "100")
    page.select_option("#limit", "50")
    expect(page.locator("#leaderboard")).to_have_attribute("data-limit", "50")
    assert rows(page) == written
    assert page.locator("#page-info").inner_text() == info
    assert page.evaluate("window.__xss") is None
    assert console.errors == []


def test_sorting_filtering_and_paging_happen_on_the_server(browser: Browser, site: Site) -> None:
    page, console = logged_in(browser, site.url, site.write)
    open_study(page, site)
    page.select_option("#limit", "25")
    # rank: best first, the complete ones only ranked
    first = rows(page)
    ranked = [int(r["rank"]) for r in first if r["rank"]]
    assert ranked == sorted(ranked) and ranked[0] == 1
    values = [float(r["value"]) for r in first if r["value"]]
    assert values == sorted(values)
    # a param range
    page.select_option("#param", "x")
    page.fill("#low", "0")
    page.fill("#high", "5")
    page.click("#filters button[type=submit]")
    page.wait_for_timeout(300)
    expect(page.locator("#active-filters")).to_contain_text("x in [0, 5]")
    assert all(0 <= float(r["x"]) <= 5 for r in rows(page))
    # a categorical choice, shown and matched as text
    page.click("#clear")
    page.select_option("#param", "kind")
    page.select_option("#choice-value", XSS_CHOICE)
    page.click("#filters button[type=submit]")
    page.wait_for_timeout(300)
    assert {r["kind"] for r in rows(page)} == {XSS_CHOICE}
    # paging: 25 rows a page, the next page starts where the first ended
    page.click("#clear")
    site.finish(20)
    expect(page.locator("#page-info")).to_contain_text("1-25 of", timeout=10_000)
    page.click("#leaderboard th[data-key=number]")
    expect(page.locator("#leaderboard tbody tr").first).to_have_attribute("data-number", "0")
    numbers = [int(r["number"]) for r in rows(page)]
    page.click("#next")
    expect(page.locator("#page-info")).to_contain_text("26-")
    assert [int(r["number"]) for r in rows(page)][0] == numbers[-1] + 1
    with site.client() as c:  # the same through the route
        got = c.get(
            f"/studies/{site.study}/table",
            params={"sort": "value", "descending": "true", "limit": 5, "state": "complete"},
        ).json()
        assert [r["value"] for r in got["rows"]] == sorted(
            (r["value"] for r in got["rows"]), reverse=True
        )
        bad = c.get(f"/studies/{site.study}/table", params={"param": "nope:1:2"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "param"
    assert console.errors == []


def test_each_plot_draws(browser: Browser, site: Site) -> None:
    page, console = logged_in(browser, site.url, site.write)
    open_study(page, site)
    for plot in (
        "#plot-history",
        "#plot-importance",
        "#plot-parallel",
        "#plot-slices",
        "#plot-rounds",
        "#plot-curves",
    ):
        expect(page.locator(plot)).to_have_attribute("data-drawn", re.compile(r"^[1-9]\d*$"))
    assert page.locator("#plot-history circle").count() >= 10
    assert page.locator("#plot-parallel path.pline").count() >= 10
    assert page.locator("#plot-curves path.curve").count() >= 1
    assert page.locator("#plot-slices svg").count() == 3
    expect(page.locator("#importance-method")).to_contain_text("variance")
    # a categorical choice on an axis is text, not markup
    assert XSS_CHOICE in page.locator("#plot-parallel").text_content()
    screenshot(page, "study")
    assert page.evaluate("window.__xss") is None
    assert console.errors == []


def test_the_trial_page_shows_attempts_errors_and_curves_as_text(
    browser: Browser, site: Site
) -> None:
    page, console = logged_in(browser, site.url, site.write)
    with site.client() as c:
        failed = c.get(f"/studies/{site.study}/trials", params={"state": "failed"}).json()
    number = failed["items"][0]["number"]
    page.goto(f"{site.url}/studies/{site.study}/trials/{number}")
    expect(page.locator("#attempts tbody tr")).to_have_count(1)
    error = page.locator("#attempts pre.error-text")
    expect(error).to_contain_text("<script>window.__xss=2</script>")
    expect(page.locator("#attempts tbody")).to_contain_text("w-test")
    expect(page.locator("#plot-curve")).to_have_attribute("data-drawn", "1")
    expect(page.locator("#params")).to_contain_text("kind")
    assert page.evaluate("window.__xss") is None
    screenshot(page, "trial")
    assert console.errors == []


def test_another_project_s_study_and_hostile_names_are_not_pages(
    browser: Browser, site: Site
) -> None:
    page = browser.new_context().new_page()
    console = Console(page, allow=("404",))
    page.goto(f"{site.url}/login")
    page.fill("#token", site.write)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/")
    answer = page.goto(f"{site.url}/studies/{site.other_study}")
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    hostile = "<img src=x onerror=window.__xss=3>"
    answer = page.goto(f"{site.url}/studies/{hostile}")
    assert answer is not None and answer.status == 404
    expect(page.locator("#missing-name")).to_have_text(hostile)
    assert page.evaluate("window.__xss") is None
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    with site.client() as c:
        for path in ("table", "plots", "changes", "download"):
            assert c.get(f"/studies/{site.other_study}/{path}").status_code == 404
    assert console.errors == []


def test_write_tokens_stop_resume_create_from_yaml_and_download(
    browser: Browser, site: Site
) -> None:
    # the bad YAML's answer is a 422 in the console
    page, console = logged_in(browser, site.url, site.write, allow=("422",))
    open_study(page, site)
    page.click("#stop")
    expect(page.locator("#summary")).to_contain_text("stopped")
    expect(page.locator("#resume")).to_be_visible()
    page.click("#resume")
    expect(page.locator("#summary")).to_contain_text("running")
    # downloads
    with page.expect_download() as download:
        page.click("#csv")
    text = Path(download.value.path()).read_text()
    table = list(csv.DictReader(io.StringIO(text)))
    assert {"number", "state", "value", "x", "n", "kind"} <= set(table[0])
    assert XSS_CHOICE in {r["kind"] for r in table}
    # a study from YAML: an error is shown next to the line of the field it names
    page.goto(f"{site.url}/new")
    yaml_text = "name: from-yaml\nspace:\n  x: {type: float, low: 5, high: 1}\ntrials: 10\n"
    page.fill("#yaml", yaml_text)
    page.click("#new-study button[type=submit]")
    expect(page.locator("#yaml-error")).to_contain_text("space.x")
    expect(page.locator("#yaml-annotated .line.bad")).to_contain_text("x: {type: float")
    expect(page.locator("#yaml-annotated .field-error")).to_contain_text("space.x")
    screenshot(page, "new-study-error")
    page.fill("#yaml", yaml_text.replace("low: 5", "low: 0"))
    page.click("#new-study button[type=submit]")
    page.wait_for_url(f"{site.url}/studies/from-yaml")
    # a read token sees no write button, and the API refuses its writes
    reader, reader_console = logged_in(browser, site.url, site.read)
    open_study(reader, site)
    expect(reader.locator("#stop")).to_be_hidden()
    assert console.errors == [] and reader_console.errors == []


def test_page_writes_need_the_page_header_and_the_cookie_is_secure_over_https(
    site: Site,
) -> None:
    """A cross-site form cannot set the header: a cookie write without it is refused."""
    cookies = {"tuner_token": site.write}
    url = f"{site.url}/api/v1/studies/{site.study}"
    assert httpx.post(f"{url}/stop", cookies=cookies).status_code == 403
    assert httpx.get(url, cookies=cookies).status_code == 200
    answer = httpx.post(f"{site.url}/login", data={"token": site.write})
    assert answer.status_code == 303
    assert "HttpOnly" in answer.headers["set-cookie"]
    assert "SameSite=strict" in answer.headers["set-cookie"]


def test_the_page_s_assets_are_named_by_version_compressed_and_cached(site: Site) -> None:
    page = httpx.get(f"{site.url}/studies/{site.study}", cookies={"tuner_token": site.read})
    (script,) = re.findall(r'src="(/static/web\.js\?v=[0-9a-f]+)"', page.text)
    got = httpx.get(site.url + script, headers={"Accept-Encoding": "gzip"})
    assert got.status_code == 200 and got.headers["content-encoding"] == "gzip"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert int(got.headers["content-length"]) < len(got.content) / 2  # sent compressed
    assert "studyPage" in got.text
    plain = httpx.get(f"{site.url}/static/web.js?v=old")  # not this version's name
    assert plain.headers["cache-control"] == "no-cache"
    again = httpx.get(f"{site.url}/static/web.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304


def test_a_study_of_two_metrics_shows_its_pareto_front(browser: Browser, site: Site) -> None:
    """Several metrics: the leaderboard ranks as the API (the Pareto front first, by crowding,
    infeasible trials after), with a front column; the summary gives the hypervolume; a plot
    shows the front on the two metrics."""
    name = f"{site.study}-pareto"
    spec = {
        "name": name,
        "metrics": [
            {"name": "error", "direction": "minimize"},
            {"name": "speed", "direction": "maximize"},
        ],
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "plan": [{"algorithm": "random", "trials": 14}],
        "seed": 5,
    }
    with site.client() as c:
        assert c.post("/studies", json=spec).status_code == 201
        for _ in range(14):
            trial = c.post(f"/studies/{name}/trials/claim", json={"worker": "w"}).json()["trial"]
            x = trial["params"]["x"]
            value = {"error": x * x, "speed": x, "constraints": [x - 0.7]}  # x > 0.7 infeasible
            body = {"attempt": trial["attempt"], "value": value}
            c.post(f"/studies/{name}/trials/{trial['number']}/complete", json=body)
        ranked = c.get(f"/studies/{name}/leaderboard").json()
        hypervolume = c.get(f"/studies/{name}").json()["hypervolume"]
        grown = c.get(f"/studies/{name}/plots").json()["hypervolume"]
        by_speed = c.get(f"/studies/{name}/plots", params={"metric": "speed"}).json()
        wrong = c.get(f"/studies/{name}/plots", params={"metric": "<b>nope</b>"})
        listed = {s["name"]: s for s in c.get("/studies").json()}
    # the plots of one metric, of the second: its values, its direction
    assert by_speed["value_label"] == "speed" and by_speed["direction"] == "maximize"
    best = [v for _, v in by_speed["history"]["best"]]
    feasible = [t["values"]["speed"] for t in ranked if t["front"] is not None]
    assert best == sorted(best) and best[-1] == max(feasible)  # the best feasible speed
    assert by_speed["metrics"] == ["error", "speed"]
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "metric"
    assert listed[name]["metrics"] == ["error", "speed"]
    assert listed[site.study]["metrics"] is None  # one metric
    page, console = logged_in(browser, site.url, site.read)
    page.goto(f"{site.url}/studies/{name}")
    expect(page.locator("#leaderboard[data-ready='1']")).to_be_attached()
    shown = rows(page)
    assert [int(r["number"]) for r in shown] == [t["number"] for t in ranked]
    assert [r["front"] for r in shown] == [
        "infeasible" if t["front"] is None else str(t["front"] + 1) for t in ranked
    ]
    assert "infeasible" in [r["front"] for r in shown] and shown[0]["front"] == "1"
    assert "error" in shown[0] and "speed" in shown[0]  # the first metric under its name
    expect(page.locator("#summary")).to_contain_text(f"hypervolume {hypervolume:.4g}"[:16])
    expect(page.locator("#plot-pareto")).to_have_attribute("data-drawn", "14")
    # the history plot rings the trials that broke a constraint (none in the best-so-far line)
    infeasible = sum(1 for t in ranked if t["front"] is None)
    assert page.locator("#plot-history circle.infeasible").count() == infeasible > 0
    # x in [0, 0.7]: every feasible trial is on the front (less error, less speed)
    assert page.locator("#plot-pareto circle.front").count() == sum(
        1 for t in ranked if t["front"] == 0
    )
    expect(page.locator("#pareto-caption")).to_contain_text("error against speed")
    # the hypervolume so far by trial number: never falling, ending at the summary's
    volumes = [v for _, v in grown["points"]]
    assert volumes == sorted(volumes) and volumes[-1] == pytest.approx(hypervolume)
    assert grown["last"] == 13
    plot = page.locator("#plot-hypervolume")
    expect(plot).to_have_attribute("data-drawn", str(len(volumes)))
    assert float(plot.get_attribute("data-last") or "nan") == pytest.approx(hypervolume)
    expect(page.locator("#history-caption")).to_contain_text("error (the first of the metrics)")
    for plot in ("#plot-parallel", "#plot-rounds"):  # the value axis under the metric's name
        expect(page.locator(plot)).to_contain_text("error")
    screenshot(page, "study-pareto")
    # the plots of one metric switched to the second
    page.select_option("#plot-metric", "speed")
    expect(page.locator("#history-caption")).to_contain_text("speed (one of the metrics)")
    for plot in ("#plot-history", "#plot-parallel", "#plot-rounds"):
        expect(page.locator(plot)).to_contain_text("speed")
    # the studies page: the first metric's best, said to be one of two
    page.goto(f"{site.url}/")
    best = page.locator(f"#studies tr[data-name='{name}'] td").nth(4)
    expect(best).to_contain_text("error ")
    expect(best).to_contain_text("· 2 metrics")
    assert console.errors == []


def test_a_page_opened_before_any_trial_finished_shows_the_front_as_they_finish(
    browser: Browser, site: Site
) -> None:
    """A user opens a two-metric study's page as it starts and watches: the live table learns
    the second metric from the first finished trials, so the front column and the Pareto plot
    fill in without a reload."""
    name = f"{site.study}-watched"
    spec = {
        "name": name,
        "metrics": [{"name": "error"}, {"name": "speed", "direction": "maximize"}],
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "plan": [{"algorithm": "random", "trials": 6}],
        "seed": 2,
    }
    with site.client() as c:
        assert c.post("/studies", json=spec).status_code == 201
        page, _ = logged_in(browser, site.url, site.read)
        page.goto(f"{site.url}/studies/{name}")
        expect(page.locator("#leaderboard[data-ready='1']")).to_be_attached()
        for _ in range(6):
            trial = c.post(f"/studies/{name}/trials/claim", json={"worker": "w"}).json()["trial"]
            x = trial["params"]["x"]
            body = {"attempt": trial["attempt"], "value": {"error": x * x, "speed": x}}
            c.post(f"/studies/{name}/trials/{trial['number']}/complete", json=body)
        ranked = c.get(f"/studies/{name}/leaderboard").json()
    assert all(t["front"] == 0 for t in ranked)  # less error, less speed: all on the front
    expect(page.locator("#plot-pareto")).to_have_attribute("data-drawn", "6", timeout=15_000)
    expect(page.locator("#leaderboard tbody tr")).to_have_count(6)
    assert [r["front"] for r in rows(page)] == ["1"] * 6
    assert [int(r["number"]) for r in rows(page)] == [t["number"] for t in ranked]
