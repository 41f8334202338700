"""Bearer tokens: every ``/api/v1`` route needs one, of the right role. A browser that logged
in on the web page sends its token in the ``COOKIE`` cookie instead (HttpOnly, SameSite=Strict);
its writes must carry the ``PAGE_HEADER`` header, which no cross-site form can set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tuner.errors import Forbidden, Unauthorized
from tuner.storage.tokens import Token

bearer = HTTPBearer(auto_error=False, description="a token from `tuner token create`")
COOKIE = "tuner_token"
PAGE_HEADER = "X-Tuner-Page"


def require(role: str) -> Callable[..., Awaitable[Token]]:
    """A dependency that returns the caller's token if it has at least ``role``."""

    # async: a cached token is checked on the event loop, without a thread hop per request
    # (a cache miss costs one indexed query every TokenStore.CACHE_SECONDS).
    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Token:
        secret = page_token(request) if credentials is None else None
        if secret is None:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise Unauthorized("an 'Authorization: Bearer <token>' header is required")
            secret = credentials.credentials
        token = request.app.state.storage.tokens.verify(secret)
        if token is None:
            raise Unauthorized("unknown token")
        if not token.allows(role):
            raise Forbidden(f"a {token.role} token cannot do this (needs {role})")
        return token

    return check


def page_token(request: Request) -> str | None:
    """The token of a logged-in page: its cookie, on a read or on a write from the page."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    if request.method not in ("GET", "HEAD") and request.headers.get(PAGE_HEADER) != "1":
        raise Forbidden(f"a write from the web page needs the {PAGE_HEADER} header")
    return secret


Reader = Depends(require("read"))
Writer = Depends(require("write"))
