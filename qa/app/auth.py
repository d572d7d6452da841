"""Optional login for the chat page: user:password pairs from a file or the environment.

Anyone who can reach the page can ask questions and add documents, so a chat
shared beyond this machine (``--host 0.0.0.0``, ``--share``) should have a login.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Mapping

from qa.errors import QAError

AUTH_ENV = "DOCQA_AUTH"  # "user:password", several separated by commas


class AuthError(QAError):
    """The login file or variable cannot be used; the message says why."""


def parse_pairs(text: str, where: str) -> dict[str, str]:
    """``user:password`` entries, one per line or comma; spaces around either are dropped, blank
    lines and ``#`` comments are ignored.

    Raises:
        AuthError: an entry without a user or a password, or no entry at all.
    """
    users: dict[str, str] = {}
    for number, entry in enumerate(text.replace(",", "\n").splitlines(), 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, password = entry.partition(":")
        user, password = user.strip(), password.strip()
        if not sep or not user or not password:
            raise AuthError(f"{where}, entry {number}: write it as user:password")
        users[user] = password
    if not users:
        raise AuthError(f"{where} holds no user:password entry")
    return users


def load_users(auth_file: str | Path | None, environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """The users allowed in: from ``auth_file`` if given, else ``$DOCQA_AUTH``, else None (no login).

    Raises:
        AuthError: the file cannot be read, or either source is malformed.
    """
    if auth_file is not None:
        path = Path(auth_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(f"cannot read the --auth file {path} ({getattr(exc, 'strerror', None) or exc})") from None
        return parse_pairs(text, f"--auth file {path}")
    if environ.get(AUTH_ENV):
        return parse_pairs(environ[AUTH_ENV], f"${AUTH_ENV}")
    return None


def checker(users: Mapping[str, str]):  # type: ignore[no-untyped-def]
    """A Gradio ``auth`` function comparing in constant time."""
    def check(user: str, password: str) -> bool:
        expected = users.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), str(password).encode())

    return check
