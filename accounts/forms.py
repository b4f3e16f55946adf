"""Admin forms for accounts: the email is the login, stored lower-case, unique whatever its case."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm

from accounts.models import Account


def _clean_unique_email(form: forms.ModelForm[Any]) -> str:
    email = str(form.cleaned_data["email"]).strip().lower()
    others = Account.objects.filter(email__iexact=email)
    if form.instance.pk is not None:
        others = others.exclude(pk=form.instance.pk)
    if others.exists():
        raise forms.ValidationError("An account with this email already exists.")
    return email


class AccountCreationForm(BaseUserCreationForm):  # type: ignore[type-arg]
    class Meta:
        model = Account
        fields = ("email", "name")

    def clean_email(self) -> str:
        return _clean_unique_email(self)


class AccountChangeForm(UserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = Account
        fields = "__all__"

    def clean_email(self) -> str:
        return _clean_unique_email(self)
