"""Where the server's URL and a token are kept for the local user (written by ``tuner serve``
on first start, read by the client and the CLI)."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


def config_dir() -> Path:
    """``$TUNER_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/tuner``, else ``~/.config/tuner``."""
    if env := os.environ.get("TUNER_CONFIG_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tuner"


def credentials_file() -> Path:
    return config_dir() / "credentials.json"


def load() -> dict[str, str]:
    """The stored ``{"url", "token"}`` (and ``"ca"``: the certificate a server on HTTPS is
    verified against, its own when self-signed), or an empty dict."""
    try:
        data = json.loads(credentials_file().read_text())
    except (OSError, ValueError):
        return {}
    return (
        {k: str(v) for k, v in data.items() if k in ("url", "token", "ca")}
        if isinstance(data, dict)
        else {}
    )


def save(url: str, token: str, ca: str | None = None) -> Path:
    """Store the credentials readable by this user only (mode 0600)."""
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "token": token, **({"ca": ca} if ca else {})}, fh)
    os.chmod(path, 0o600)
    return path
