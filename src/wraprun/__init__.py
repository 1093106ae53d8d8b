"""wraprun: an OpenJD 2023-09 session runner built around WRAP_ACTIONS (RFC 0008)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import WraprunError

if TYPE_CHECKING:
    from .actions import Scope
    from .nonblocking import ActionStatus, NonBlockingSession, SessionState
    from .session import ActionResult, Session

__all__ = [
    "ActionResult",
    "ActionStatus",
    "NonBlockingSession",
    "Scope",
    "Session",
    "SessionState",
    "WraprunError",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy, so that `wraprun check` and `--help` do not pay for the session machinery.
    if name in ("ActionResult", "Session"):
        from . import session

        return getattr(session, name)
    if name in ("ActionStatus", "NonBlockingSession", "SessionState"):
        from . import nonblocking

        return getattr(nonblocking, name)
    if name == "Scope":
        from .actions import Scope

        return Scope
    raise AttributeError(name)
