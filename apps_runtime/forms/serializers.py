"""Wire shapes of the form endpoints (contract §5.18, §5.19)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps_runtime.forms.models import HumanInputForm


class FormActionSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    title = serializers.CharField()
    button_style = serializers.CharField()


class FormResponseSerializer(serializers.Serializer[Any]):
    form_content = serializers.CharField()
    inputs = serializers.ListField(child=serializers.DictField())
    resolved_default_values = serializers.DictField(child=serializers.CharField())
    user_actions = FormActionSerializer(many=True)
    expiration_time = serializers.IntegerField(help_text="unix seconds")


class StrictCharField(serializers.CharField):
    """A string, never a number coerced into one (an action id ``1`` is not ``"1"``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class FormSubmitSerializer(serializers.Serializer[Any]):
    action = StrictCharField(allow_blank=True, trim_whitespace=False, max_length=64)
    inputs = serializers.DictField()


class EmptySerializer(serializers.Serializer[Any]):
    pass


def form_payload(form: HumanInputForm) -> dict[str, Any]:
    return {
        "form_content": form.form_content,
        "inputs": form.inputs,
        "resolved_default_values": form.resolved_default_values,
        "user_actions": form.actions,
        "expiration_time": int(form.expiration_time().timestamp()),
    }
