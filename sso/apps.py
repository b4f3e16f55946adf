from django.apps import AppConfig


class SsoConfig(AppConfig):
    """External SSO (issue 23): the OpenID Connect client and the device flow's SSO branch.

    Its own app because it reaches identity providers through the outbound client
    (apps_runtime/engine/outbound.py), which the identity apps never import (decisions §1).
    The provider model itself is ``accounts.IdentityProvider``: it defines external subjects.
    """

    name = "sso"
    verbose_name = "external SSO"
