"""wraprun: an OpenJD 2023-09 session runner built around WRAP_ACTIONS (RFC 0008)."""

from .session import ActionResult, Scope, Session

__all__ = ["ActionResult", "Scope", "Session"]
__version__ = "0.1.0"
