"""The one base of the exceptions wraprun raises for its caller's mistakes.

What an action's own content causes is never an exception: it is that
action's result (see README, Python API, Errors).
"""

from __future__ import annotations


class WraprunError(Exception):
    """Invalid input or a call the session cannot take; the message says which."""
