"""Console sessions, kept server-side: the cookie holds a random id, nothing else.

A server-side session can be ended at once (sign-out, expiry) and carries its CSRF token without
exposing it in the cookie. Sessions live in the serving process and end with it (signing in again
is the cost); at most `MAX_SESSIONS` exist, the oldest go first.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from dockwatch.value_class import frozen

COOKIE = "dockwatch_console"
"""The session cookie's name."""
LOGIN_COOKIE = "dockwatch_console_login"
"""The sign-in form's CSRF cookie (double submit: there is no session yet)."""
LIFETIME = timedelta(hours=8)
"""A session ends this long after sign-in."""
MAX_SESSIONS = 10_000


@frozen
class Session:
    """One signed-in user: who, the CSRF token of their forms, and when the session ends."""

    username: str
    csrf_token: str
    expires_at: datetime


class SessionStore:
    """Sessions by id (only the id's SHA-256 is kept, so a memory dump gives no cookie)."""

    def __init__(self, now: Callable[[], datetime], lifetime: timedelta = LIFETIME) -> None:
        self._now = now
        self._lifetime = lifetime
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def lifetime(self) -> timedelta:
        """How long a session lasts."""
        return self._lifetime

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def open(self, username: str) -> tuple[str, Session]:
        """A new session for `username`: its id (the cookie's value) and the session."""
        session_id = secrets.token_urlsafe(32)
        session = Session(username, secrets.token_urlsafe(32), self._now() + self._lifetime)
        with self._lock:
            self._sessions[self._key(session_id)] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of a cookie value, or None (unknown, ended or expired)."""
        if not session_id:
            return None
        key = self._key(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None and session.expires_at <= self._now():
                del self._sessions[key]
                return None
        return session

    def close(self, session_id: str | None) -> None:
        """End a session (sign-out)."""
        if session_id:
            with self._lock:
                self._sessions.pop(self._key(session_id), None)
