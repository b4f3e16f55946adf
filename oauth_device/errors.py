"""Outcomes of the device flow that views turn into RFC bodies, envelopes or HTML pages."""

from __future__ import annotations


class DeviceFlowError(Exception):
    """A device-flow outcome with an RFC 8628 / RFC 6749 error string."""

    error = "invalid_request"

    def __init__(self, error: str | None = None, *, interval: int | None = None) -> None:
        self.error = error or self.error
        self.interval = interval  # set on ``slow_down``: the grant's new polling interval
        super().__init__(self.error)


class UnsupportedClient(DeviceFlowError):
    error = "unsupported_client"


class PollError(DeviceFlowError):
    """``authorization_pending``, ``slow_down``, ``access_denied``, ``expired_token`` …"""


class GrantUnknown(DeviceFlowError):
    """No such user code, expired, consumed, or claimed by another account: all look the same."""

    error = "expired_or_unknown"


class GrantAlreadyResolved(DeviceFlowError):
    """The caller's own grant was already approved or denied."""

    error = "already_resolved"

    def __init__(self, status: str) -> None:
        super().__init__()
        self.status = status
