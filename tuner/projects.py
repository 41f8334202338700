"""Projects partition studies: a study's stored name is qualified by its project.

The default project's studies keep their bare name (what the CLI shows and uses); another
project's are stored as ``project/name``. Study names cannot hold ``/``, so the two never clash.
"""

from __future__ import annotations

import re

DEFAULT_PROJECT = "default"
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def valid_project(project: str) -> bool:
    return bool(_PROJECT.match(project))


def qualified(project: str, name: str) -> str:
    """The stored name of study ``name`` of ``project``."""
    return name if project == DEFAULT_PROJECT else f"{project}/{name}"


def split(stored: str) -> tuple[str, str]:
    """``(project, name)`` of a stored study name."""
    project, sep, name = stored.partition("/")
    return (project, name) if sep else (DEFAULT_PROJECT, stored)
