"""The one exception hierarchy of Tuner; the API maps each class to an HTTP status."""

from __future__ import annotations


class TunerError(Exception):
    """Base of every error Tuner raises on purpose; ``field`` names the culprit when known."""

    code = "tuner_error"
    field: str | None = None

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class SpecError(TunerError, ValueError):
    """A study spec (or a part of it) is invalid; ``field`` is the dotted path of the culprit."""

    code = "invalid_spec"

    def __init__(self, field: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason, field)

    def within(self, prefix: str) -> SpecError:
        """The same error with ``prefix`` put in front of its field path."""
        if not prefix:
            return self
        if not self.field:
            field = prefix
        elif self.field.startswith("["):
            field = prefix + self.field
        else:
            field = f"{prefix}.{self.field}"
        return SpecError(field, self.reason)


class NotFound(TunerError, LookupError):
    """A study or trial that does not exist (or that the caller may not see)."""

    code = "not_found"


class Forbidden(TunerError):
    """The caller's token may not do this (a ``read`` token writing, say)."""

    code = "forbidden"


class Unauthorized(TunerError):
    """No token, or a token that is not known."""

    code = "unauthorized"


class Conflict(TunerError):
    """The request contradicts the stored state: a stale attempt, a second different result."""

    code = "conflict"


class ObjectiveError(TunerError):
    """An objective's result cannot be used: NaN, not a number, a missing metric."""

    code = "objective_error"


class Unavailable(TunerError):
    """The database cannot be reached (or is locked, or full) for now: try again later."""

    code = "unavailable"


class InvalidInput(TunerError, ValueError):
    """Rows given to a model do not fit its input signature; ``field`` names the row and the
    feature (``rows[3].age``)."""

    code = "invalid_input"


class BundleError(TunerError):
    """A model bundle cannot be written or used: a file failing its checksum, an unknown flavor,
    a package that is not installed, types that may not be loaded. The message names which."""

    code = "invalid_bundle"


class TrialPruned(Exception):
    """Raised by an objective to end its trial as ``pruned`` (as Optuna's ``TrialPruned``,
    which works too: any exception class of that name does)."""
