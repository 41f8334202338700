"""A study pasted or uploaded as YAML on the web page: parsed, and the line of a field named by
an error found in the text, so that the page shows the error next to it."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tuner.errors import SpecError

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_yaml(text: str) -> Any:
    """The document in ``text``; a YAML error is a SpecError of field ``yaml`` with its line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError("yaml", f"is not valid YAML{where}: {problem}") from None


def line_of(text: str, field: str | None) -> int | None:
    """The line (from 1) where the dotted ``field`` (``space.x.low``, ``plan[1].trials``) is
    written in ``text``, or of its closest written ancestor; None if none is."""
    if not field:
        return None
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for name, index in _STEP.findall(field):
        if isinstance(node, yaml.MappingNode) and name:
            found = next((kv for kv in node.value if kv[0].value == name), None)
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line
