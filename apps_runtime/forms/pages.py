"""The form page an email links to: a logged-in member of the app's workspace reads the form and
picks an action. Server-rendered, CSRF on the POST, the same submit service as the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts.audit import Actor
from accounts.models import Account
from apps_runtime.forms import selectors, services
from apps_runtime.forms.errors import run_ended_reason
from apps_runtime.forms.fields import OUTPUT_PLACEHOLDER, field_name, select_options
from apps_runtime.forms.models import HumanInputForm
from config.api.errors import ApiError

TEMPLATE = "forms/human_input.html"


def _fields(form: HumanInputForm, values: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for field in form.inputs:
        name = field_name(field)
        if not name:
            continue
        default = form.resolved_default_values.get(name, "")
        out.append(
            {
                "name": name,
                "label": field.get("label") or name.replace("_", " ").capitalize(),
                "type": field.get("type") or "paragraph",
                "value": values.get(name, default),
                "options": select_options(field),
            }
        )
    return out


@method_decorator(never_cache, name="dispatch")
class FormPage(LoginRequiredMixin, View):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        form = selectors.form_for_page(self._account(request), token)
        if form is None:
            return self._page(request, None, "unknown", status=404)
        if services.form_close_if_unanswerable(form):
            form.refresh_from_db()
        if not form.is_waiting:
            return self._page(request, form, "closed", status=412)
        return self._page(request, form, "open", values={})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        account = self._account(request)
        form = selectors.form_for_page(account, token)
        if form is None:
            return self._page(request, None, "unknown", status=404)
        values = {field_name(f): request.POST.get(field_name(f)) for f in form.inputs}
        try:
            services.form_submit(
                form_id=form.id,
                action=request.POST.get("action", ""),
                values={k: v for k, v in values.items() if v is not None},
                account=account,
                actor=Actor.of_account(account),
                via="page",
            )
        except ApiError as exc:
            form.refresh_from_db()
            if exc.status == 412:
                return self._page(request, form, "closed", status=412)
            return self._page(
                request, form, "open", values=values, error=exc.message, status=exc.status
            )
        form.refresh_from_db()
        return self._page(request, form, "submitted")

    @staticmethod
    def _account(request: HttpRequest) -> Account:
        user = request.user
        assert isinstance(user, Account)  # LoginRequiredMixin ran first
        return user

    def _page(
        self,
        request: HttpRequest,
        form: HumanInputForm | None,
        state: str,
        *,
        values: dict[str, Any] | None = None,
        error: str = "",
        status: int = 200,
    ) -> HttpResponse:
        context: dict[str, Any] = {"form": form, "state": state, "error": error}
        if form is not None:
            context["fields"] = _fields(form, values or {})
            # Where an answer goes in the text, the page names the field below that takes it
            # (by its label, as the reader sees it), not the raw variable.
            labels = {field["name"]: field["label"] for field in context["fields"]}
            context["content"] = OUTPUT_PLACEHOLDER.sub(
                lambda m: f"(your answer in “{labels.get(m.group(1), m.group(1))}” below)",
                form.form_content,
            )
            context["action"] = form.action(form.action_id) if form.action_id else None
            context["run_ended"] = run_ended_reason(form)
        return render(request, TEMPLATE, context, status=status)
