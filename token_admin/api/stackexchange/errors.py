"""The Stack Exchange-style errors: HTTP 400 and ``{"error_id", "error_name", "error_message"}``."""

from __future__ import annotations


class StackExchangeError(Exception):
    """An error the API answers with its error wrapper (always HTTP 400, as the real API does)."""

    def __init__(self, error_id: int, error_name: str, error_message: str) -> None:
        super().__init__(error_message)
        self.error_id = error_id
        self.error_name = error_name
        self.error_message = error_message

    def as_body(self) -> dict[str, int | str]:
        """The error wrapper, in the key order the real API sends."""
        return {"error_id": self.error_id, "error_name": self.error_name, "error_message": self.error_message}


def bad_parameter(name: str) -> StackExchangeError:
    """A parameter was invalid; like the real API, the message is the parameter's name."""
    return StackExchangeError(400, "bad_parameter", name)


def no_method() -> StackExchangeError:
    """An unknown path under the mount, or a method other than GET."""
    return StackExchangeError(404, "no_method", "no method found with this name")


def throttle_violation(seconds: int) -> StackExchangeError:
    """The caller's quota is used up; it starts afresh in ``seconds``."""
    return StackExchangeError(
        502,
        "throttle_violation",
        f"too many requests from this IP, more requests available in {seconds} seconds",
    )


def internal_error() -> StackExchangeError:
    """Anything unexpected; the exception itself is logged, never shown."""
    return StackExchangeError(500, "internal_error", "an unexpected error occurred")
