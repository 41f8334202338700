"""The web leaderboard's pages, served by ``tuner serve``: log in with a token once (kept in an
HttpOnly, SameSite=Strict cookie, Secure over HTTPS), then the project's studies, a study's
leaderboard and plots, a trial, and a form to submit a study. Pages are shells: the script in
``static/`` fills them from the JSON routes, with the same token, and every user string goes in
as text; the study page comes with its leaderboard's first rows written on the server
(``rows_html.py``), so they paint before any script runs. Every page forbids inline script
(Content-Security-Policy)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tuner.api.auth import COOKIE
from tuner.api.web.assets import VERSION
from tuner.api.web.first_page import leaderboard_page
from tuner.api.web.rows_html import head_html, page_info, rows_html
from tuner.api.web.table import Filter
from tuner.errors import NotFound
from tuner.projects import qualified
from tuner.storage import Storage
from tuner.storage.tokens import Token

TEMPLATES = Path(__file__).parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
COOKIE_DAYS = 30
FIRST_ROWS = 50  # the leaderboard's first page, written into the study page (web.js's default)
# The pages in the navigation bar, in order.
NAV = (("/", "Studies"), ("/models", "Models"), ("/new", "New study"))

router = APIRouter(include_in_schema=False)


def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text())


def render(
    name: str,
    title: str,
    token: Token | None,
    status: int = 200,
    markup: dict[str, str] | None = None,
    **values: str,
) -> HTMLResponse:
    """Page ``name`` inside the layout; every value is escaped here, once (``markup`` is HTML
    its writer escaped: ``rows_html.py``)."""
    escaped = {k: html.escape(v) for k, v in values.items()}
    body = _template(name).substitute({**escaped, **(markup or {})})
    nav = "".join(f'<a href="{href}">{label}</a>' for href, label in NAV) if token else ""
    who = (
        f'<span class="who">{html.escape(token.project)} · {html.escape(token.role)}</span>'
        '<form method="post" action="/logout"><button id="logout">Log out</button></form>'
        if token
        else ""
    )
    page = _template("layout.html").substitute(
        title=html.escape(title),
        body=body,
        nav=nav,
        who=who,
        role=token.role if token else "",
        version=VERSION,
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def _token(request: Request) -> Token | None:
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    storage: Storage = request.app.state.storage
    return storage.tokens.verify(secret)


def _login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    return render("login.html", "Log in", None, message="")


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    secret = (form.get("token") or [""])[0].strip()
    storage: Storage = request.app.state.storage
    token = storage.tokens.verify(secret) if secret else None
    if token is None:
        message = "Unknown token: it is wrong, expired or revoked." if secret else "A token?"
        return render("login.html", "Log in", None, status=401, message=message)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    response = _login()
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


@router.get("/")
def studies_page(request: Request) -> Response:
    token = _token(request)
    if token is None:
        return _login()
    return render("studies.html", "Studies", token, project=token.project)


@router.get("/new")
def new_study_page(request: Request) -> Response:
    token = _token(request)
    if token is None:
        return _login()
    return render("new.html", "New study", token)


@router.get("/studies/{name}")
def study_page(name: str, request: Request) -> Response:
    token = _token(request)
    if token is None:
        return _login()
    missing = _missing(request, token, name)
    if missing is not None:
        return missing
    key = qualified(token.project, name)
    snapshots = request.app.state.snapshots
    # not warm: building the table now would slow the page's own assets (one process, one GIL);
    # the page's history request starts it
    first = leaderboard_page(snapshots, key, Filter(), "rank", False, 0, FIRST_ROWS, warm=False)
    last = min(first["offset"] + first["limit"], first["total"])
    markup = {
        "head": head_html(first["columns"], first["sort"], first["descending"]),
        "rows": rows_html(name, first),
        "prev": "disabled",
        "next": "disabled" if last >= first["total"] else "",
    }
    return render(
        "study.html",
        name,
        token,
        markup=markup,
        study=name,
        fingerprint=first["fingerprint"],
        columns=json.dumps(first["columns"]),
        info=page_info(first),
    )


@router.get("/studies/{name}/trials/{number:int}")
def trial_page(name: str, number: int, request: Request) -> Response:
    token = _token(request)
    if token is None:
        return _login()
    missing = _missing(request, token, name)
    if missing is not None:
        return missing
    return render("trial.html", f"{name} · trial {number}", token, study=name, number=str(number))


@router.get("/models")
def models_page(request: Request) -> Response:
    token = _token(request)
    if token is None:
        return _login()
    return render("models.html", "Models", token, project=token.project)


@router.get("/models/{name}")
def model_page(name: str, request: Request) -> Response:
    token = _token(request)
    if token is None:
        return _login()
    storage: Storage = request.app.state.storage
    try:
        storage.model_versions(token.project, name)
    except NotFound:
        return render("missing-model.html", "Not found", token, status=404, model=name)
    return render("model.html", name, token, model=name, project=token.project)


def _missing(request: Request, token: Token, name: str) -> Response | None:
    """A 404 page unless the token's project has study ``name``."""
    storage: Storage = request.app.state.storage
    try:
        storage.get_study(qualified(token.project, name))
    except NotFound:
        return render("missing.html", "Not found", token, status=404, study=name)
    return None
