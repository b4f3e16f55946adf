"""The device-flow tests' clock (moves ``timezone.now``) serves the SSO tests too."""

from oauth_device.tests.conftest import clock

__all__ = ["clock"]
