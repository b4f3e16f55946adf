"""The invitation page at ``/invite/<token>``: a pending account sets its password; and the
confirmation page at ``/invite/confirm/<token>``, mailed to an account activated through one
workspace's link, where, signed in, it proves its address and joins its other invitations.

Server-rendered, CSRF on the POST, no login needed (the link is the credential). The token is
checked on GET without being consumed; the POST uses it up. Responses are never cached and send a
referrer only to this site, so the link does not leak into other sites' logs (``no-referrer`` would
make the browser send ``Origin: null`` and fail Django's CSRF check).
"""

from __future__ import annotations

from django.contrib.auth.password_validation import (
    password_validators_help_texts,
    validate_password,
)
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts.models import Account
from config.api.client_ip import client_ip
from config.public_url import site_origin
from workspaces.members import (
    ConfirmationInvalid,
    InvitationInvalid,
    address_confirm,
    address_confirmation_get,
    invitation_accept,
    invitation_get,
)

PASSWORD_MAX = 4096


def _render(
    request: HttpRequest, template: str, context: dict[str, object], status: int = 200
) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Referrer-Policy"] = "same-origin"
    return response


def _invalid(request: HttpRequest) -> HttpResponse:
    return _render(request, "workspaces/invite_invalid.html", {}, status=404)


@method_decorator(never_cache, name="dispatch")
class InvitationPage(View):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            invitation = invitation_get(token)
        except InvitationInvalid:
            return _invalid(request)
        return _render(
            request,
            "workspaces/invite.html",
            {"invitation": invitation, "help_texts": password_validators_help_texts()},
        )

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            invitation = invitation_get(token)
        except InvitationInvalid:
            return _invalid(request)
        password = request.POST.get("password", "")[:PASSWORD_MAX]
        confirm = request.POST.get("password_confirm", "")[:PASSWORD_MAX]
        name = request.POST.get("name", "")[:255]
        errors: list[str] = []
        if not password:
            errors.append("Enter a password.")
        elif password != confirm:
            errors.append("The two passwords don't match.")
        else:
            try:
                validate_password(password, user=invitation.account)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            return _render(
                request,
                "workspaces/invite.html",
                {
                    "invitation": invitation,
                    "errors": errors,
                    "name": name,
                    "help_texts": password_validators_help_texts(),
                },
                status=400,
            )
        try:
            account = invitation_accept(
                token,
                password=password,
                name=name,
                ip=client_ip(request),
                link_base=site_origin(request),
            )
        except InvitationInvalid:
            return _invalid(request)
        return _render(
            request,
            "workspaces/invite_done.html",
            {
                "email": account.email,
                "workspace": invitation.workspace,
                "confirmation_mailed": not account.email_confirmed
                and account.address_confirmations.exists(),
            },
        )


@method_decorator(never_cache, name="dispatch")
class AddressConfirmationPage(View):
    """Signed in as the link's account: the mailbox alone is not the account, the account alone
    is not the mailbox; both together prove the address."""

    def _check(self, request: HttpRequest, token: str) -> HttpResponse | None:
        try:
            confirmation, invitations = address_confirmation_get(token)
        except ConfirmationInvalid:
            return _invalid(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.user.pk != confirmation.account_id:
            return _render(
                request,
                "workspaces/invite_confirm.html",
                {"email": confirmation.account.email, "wrong_account": True},
                status=403,
            )
        self.invitations = invitations
        self.email = confirmation.account.email
        return None

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        refused = self._check(request, token)
        if refused is not None:
            return refused
        return _render(
            request,
            "workspaces/invite_confirm.html",
            {"email": self.email, "invitations": self.invitations},
        )

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        refused = self._check(request, token)
        if refused is not None:
            return refused
        assert isinstance(request.user, Account)
        try:
            granted = address_confirm(token, account=request.user, ip=client_ip(request))
        except ConfirmationInvalid:
            return _invalid(request)
        return _render(
            request,
            "workspaces/invite_confirm.html",
            {"email": self.email, "granted": granted, "done": True},
        )
