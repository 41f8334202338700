"""Every error leaves as ``{"error": {"code", "message", "field"}}`` with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuner.api.schemas import ErrorResponse
from tuner.errors import (
    BundleError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ObjectiveError,
    SpecError,
    TunerError,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("tuner.api")

STATUS: dict[type[TunerError], int] = {
    SpecError: 422,
    ObjectiveError: 422,
    InvalidInput: 422,
    BundleError: 422,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthorized: 401,
    Unavailable: 503,
}
# how long a client should wait before it retries a request the database could not serve
RETRY_AFTER = "1"


def described(errors: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each with the error body's schema."""
    return {code: {"model": ErrorResponse, "description": text} for code, text in errors.items()}


# The error responses every route documents (OpenAPI); routes add their own.
COMMON = described(
    {
        400: "the body is not valid JSON",
        401: "no token, or an unknown one",
        403: "the token's role may not do this",
        413: "the request body is larger than the limit (1 MiB)",
        422: "the request is malformed: the field and the reason are given",
        503: "the database is unavailable for a moment: retry",
    }
)


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the error body."""

    @app.exception_handler(TunerError)
    async def tuner_error(request: Request, exc: TunerError) -> JSONResponse:
        status = next((v for k, v in STATUS.items() if isinstance(exc, k)), 400)
        message = exc.reason if isinstance(exc, SpecError) else str(exc)
        headers = (
            {"WWW-Authenticate": "Bearer"}
            if status == 401
            else {"Retry-After": RETRY_AFTER}
            if status == 503
            else None
        )
        if status == 503:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, exc.code, message, exc.field or None, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return error_response(400, "malformed_json", "the body is not valid JSON")
        loc = [str(x) for x in first.get("loc", ())]
        field = ".".join(loc[1:] if loc[:1] == ["body"] and len(loc) > 1 else loc) or None
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        if first.get("type") == "missing" and loc == ["body"]:
            message = "the request needs a JSON body"
        return error_response(422, "invalid_request", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(
            exc.status_code,
            code,
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):  # the database is down or locked: retry later
            log.warning("database unavailable: %s", exc)
            return error_response(
                503,
                "unavailable",
                "the database is unavailable; retry",
                headers={"Retry-After": "1"},
            )
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error")
