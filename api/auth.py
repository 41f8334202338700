"""Bearer tokens: every ``/api/v1`` route needs one, of the right role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tuner.errors import Forbidden, Unauthorized
from tuner.storage.tokens import Token

bearer = HTTPBearer(auto_error=False, description="a token from `tuner token create`")


def require(role: str) -> Callable[..., Awaitable[Token]]:
    """A dependency that returns the caller's token if it has at least ``role``."""

    # async: a cached token is checked on the event loop, without a thread hop per request
    # (a cache miss costs one indexed query every TokenStore.CACHE_SECONDS).
    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Token:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("an 'Authorization: Bearer <token>' header is required")
        token = request.app.state.storage.tokens.verify(credentials.credentials)
        if token is None:
            raise Unauthorized("unknown token")
        if not token.allows(role):
            raise Forbidden(f"a {token.role} token cannot do this (needs {role})")
        return token

    return check


Reader = Depends(require("read"))
Writer = Depends(require("write"))
