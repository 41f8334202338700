"""A study's ``promote:`` block: at the end of the study its best trial becomes a new version of a
registered model, and the alias moves to it when the rule allows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuner.errors import SpecError

_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_KEYS = ("model", "alias", "when", "retrain")


@dataclass(frozen=True)
class PromoteSpec:
    """``{model: churn, alias: production, when: better, retrain: true}``: ``when`` is
    ``better`` (the alias moves only when the new version beats the one holding it on the
    study's metric) or ``always``; ``retrain`` refits the best params on all the data first."""

    model: str
    alias: str | None = None
    when: str = "better"
    retrain: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "when": self.when, "retrain": self.retrain}
        if self.alias is not None:
            out["alias"] = self.alias
        return out

    @classmethod
    def from_dict(cls, raw: object) -> PromoteSpec:
        """Parse the block; SpecError names the field (within ``promote``)."""
        if isinstance(raw, str):
            raw = {"model": raw}
        if not isinstance(raw, Mapping):
            raise SpecError(
                "promote", "must be a mapping such as {model: churn, alias: production}"
            )
        for key in raw:
            if key not in _KEYS:
                raise SpecError(f"promote.{key}", f"is not a field of promote ({', '.join(_KEYS)})")
        model = raw.get("model")
        if not isinstance(model, str) or not _MODEL.match(model):
            raise SpecError(
                "promote.model",
                "is required: a model name of letters, digits, '_', '.', '-' (up to 128)",
            )
        alias = raw.get("alias")
        if alias is not None and (not isinstance(alias, str) or not _ALIAS.match(alias)):
            raise SpecError("promote.alias", f"{alias!r} is not an alias name (e.g. production)")
        when = raw.get("when", "better")
        if when not in ("better", "always"):
            raise SpecError("promote.when", f"must be 'better' or 'always', not {when!r}")
        retrain = raw.get("retrain", False)
        if not isinstance(retrain, bool):
            raise SpecError("promote.retrain", "must be true or false")
        return cls(model, alias, when, retrain)
