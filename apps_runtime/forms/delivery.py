"""Delivery of a form: which channels a node asks for, and the email with the page link.

A ``webapp`` delivery puts the API token in the run's events; an ``email`` delivery mails a link
to the server-rendered page (its own token) to the recipients the node names, or to every member
of the app's workspace. No enabled method at all is treated as ``webapp``, so a form can always
be answered.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import send_mail
from django.urls import reverse

from accounts.models import Account
from config.api.wire import parse_uuid
from config.public_url import link_base_url
from workspaces.models import Membership

logger = logging.getLogger("difyapi.forms")

WEBAPP = "webapp"
EMAIL = "email"
URL_PLACEHOLDER = re.compile(r"\{\{#url#\}\}")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SUBJECT_MAX = 200


@dataclass(frozen=True)
class EmailPlan:
    recipients: list[str]
    subject: str
    body: str


@dataclass(frozen=True)
class DeliveryPlan:
    webapp: bool
    email: EmailPlan | None = None
    methods: list[str] = field(default_factory=list)


def delivery_plan(
    methods: Any, *, workspace_id: Any, node_title: str, form_content: str
) -> DeliveryPlan:
    """Read a node's ``delivery_methods`` (enabled ones only) into what to do."""
    enabled = [
        m for m in methods or [] if isinstance(m, dict) and m.get("enabled", True) is not False
    ]
    kinds = {str(m.get("type")) for m in enabled}
    email_method = next((m for m in enabled if m.get("type") == EMAIL), None)
    email = (
        _email_plan(email_method, workspace_id, node_title, form_content) if email_method else None
    )
    webapp = WEBAPP in kinds or email is None
    names = ([WEBAPP] if webapp else []) + ([EMAIL] if email else [])
    return DeliveryPlan(webapp=webapp, email=email, methods=names)


def _email_plan(
    method: dict[str, Any], workspace_id: Any, node_title: str, form_content: str
) -> EmailPlan:
    raw = method.get("config")
    config: dict[str, Any] = raw if isinstance(raw, dict) else {}
    recipients = _recipients(config.get("recipients"), workspace_id)
    subject = str(config.get("subject") or "").strip() or f"Input needed: {node_title or 'form'}"
    body = str(config.get("body") or "")
    return EmailPlan(
        recipients=recipients, subject=subject[:SUBJECT_MAX], body=body or form_content
    )


def _recipients(spec: Any, workspace_id: Any) -> list[str]:
    """Named members (by account id or email) and external addresses; ``whole_workspace`` (or
    nobody resolvable) means every active member of the app's workspace."""
    spec = spec if isinstance(spec, dict) else {}
    members = Membership.objects.filter(
        workspace_id=workspace_id, account__status=Account.Status.ACTIVE
    ).select_related("account")
    emails: list[str] = []
    if not spec.get("whole_workspace"):
        for item in spec.get("items") or []:
            if not isinstance(item, dict):
                continue
            email = _item_email(item, members)
            if email and email not in emails:
                emails.append(email)
    if not emails:
        emails = list(members.order_by("account__email").values_list("account__email", flat=True))
    return emails


def _item_email(item: dict[str, Any], members: Any) -> str | None:
    if item.get("type") == "external":
        email = str(item.get("email") or "").strip()
        return email if EMAIL_RE.match(email) else None
    # Dify names members by account id; a DSL written here may name them by email.
    email = str(item.get("email") or "")
    account_id = parse_uuid(str(item.get("user_id") or ""))
    if email:
        membership = members.filter(account__email__iexact=email).first()
    elif account_id is not None:
        membership = members.filter(account_id=account_id).first()
    else:
        membership = None
    return membership.account.email if membership is not None else None


def page_url(page_token: str) -> str:
    return link_base_url() + reverse("human-input-form-page", args=[page_token])


def email_send(plan: EmailPlan, page_token: str) -> int:
    """Send the form's email; returns how many messages the backend accepted."""
    url = page_url(page_token)
    if URL_PLACEHOLDER.search(plan.body):
        body = URL_PLACEHOLDER.sub(url, plan.body)
    else:
        body = f"{plan.body}\n\nOpen the form: {url}\n"
    sent = 0
    for recipient in plan.recipients:
        try:
            sent += send_mail(plan.subject, body, None, [recipient], fail_silently=False)
        except Exception:  # one unreachable mailbox must not lose the others
            logger.exception("form email to %s failed", recipient)
    return sent
