"""Where `dataplane up` keeps its state, and the control API token it writes there.

The token is new on every start and lives in ``$DATAPLANE_HOME/api-token``, readable by
its owner only: whoever can read it may change what runs on this machine. No aiohttp here:
the CLI imports this module.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

TOKEN_FILE = "api-token"


def default_home() -> Path:
    """``$DATAPLANE_HOME``, else ``~/.dataplane``."""
    return Path(os.environ.get("DATAPLANE_HOME") or Path.home() / ".dataplane")


def token_path(home: Path) -> Path:
    """The token file of the install in ``home``."""
    return home / TOKEN_FILE


def write_token(home: Path, token: str | None = None) -> str:
    """``token`` (default: a fresh random one), written to ``home/api-token`` with mode 0600, replacing any previous one.

    Written to a private temporary file and renamed over the old one, so a reader sees the old
    token or the new one, never a partial file, and no moment exists where the file is readable by others.
    """
    home.mkdir(parents=True, exist_ok=True)
    token = token or secrets.token_urlsafe(32)
    fd, tmp = tempfile.mkstemp(dir=home, prefix=f".{TOKEN_FILE}.")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(token + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, token_path(home))
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return token


def read_token(home: Path) -> str | None:
    """The token in ``home``, or None when there is none (never started, or not ours to read)."""
    try:
        token = token_path(home).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None
