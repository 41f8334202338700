"""Reading the scalar fields of a study file: numbers, counts, fractions, with one-line errors.

YAML 1.1 (PyYAML) reads ``1e-4`` or ``1e3`` as strings (it wants ``1.0e-4``), so a number field
also accepts a string that spells a finite number; an integer field accepts one that spells an
integer (``"1e3"`` is 1000).
"""

from __future__ import annotations

import math

from tuner.errors import SpecError


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(value: object, where: str, what: str = "a finite number") -> float | int:
    """``value`` as a finite int or float (a numeric string is read as one)."""
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            raise SpecError(where, f"must be {what}, not {value!r}") from None
        value = (
            int(parsed)
            if parsed.is_integer() and "." not in value and "e" not in value.lower()
            else parsed
        )
    if not is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
        raise SpecError(where, f"must be {what}, not {value!r}")
    return value  # type: ignore[return-value]


def integer(value: object, where: str, least: int, most: int | None = None) -> int:
    """``value`` as an int in ``[least, most]`` (a float or string that is an integer will do)."""
    what = "a positive integer" if least == 1 else f"an integer of at least {least}"
    try:
        x = number(value, where, what)
    except SpecError:
        raise SpecError(where, f"must be {what}, not {value!r}") from None
    if float(x) != int(x) or x < least:
        raise SpecError(where, f"must be {what}, not {value!r}")
    if most is not None and x > most:
        raise SpecError(where, f"{int(x):,} is more than this server allows ({most:,})")
    return int(x)


def integer_or(value: object, where: str, least: int, words: tuple[str, ...]) -> int | None:
    """One of ``words`` (None: the caller decides later) or an integer of at least ``least``,
    the error saying both."""
    if value in words:
        return None
    try:
        return integer(value, where, least)
    except SpecError:
        what = "a positive integer" if least == 1 else f"an integer of at least {least}"
        said = ", ".join(repr(w) for w in words)
        raise SpecError(where, f"must be {said} or {what}, not {value!r}") from None


def positive(value: object, where: str, most: float | None = None, unit: str = "") -> float:
    """``value`` as a positive float, at most ``most``."""
    x = float(number(value, where, f"a positive number{unit}"))
    if x <= 0:
        raise SpecError(where, f"must be a positive number{unit}, not {value!r}")
    if most is not None and x > most:
        raise SpecError(where, f"{x:g} is more than this server allows ({most:g}{unit})")
    return x


def fraction(value: object, where: str) -> float:
    """``value`` in ``(0, 1]``."""
    x = float(number(value, where, "a fraction in (0, 1]"))
    if not 0 < x <= 1:
        raise SpecError(where, f"must be a fraction in (0, 1], not {value!r}")
    return x
