"""Submission rules and text forms of a form's fields (dsl.md §4.9, contract §5.18-§5.19)."""

from __future__ import annotations

import pytest

from apps_runtime.forms.fields import content_with_answers, submission_clean, value_text
from apps_runtime.forms.tokens import TOKEN_LENGTH, token_digest, token_mint, token_well_formed
from config.api.errors import ApiError

ACTIONS = [{"id": "approve", "title": "Approve"}, {"id": "reject", "title": "Reject"}]
FIELDS = [
    {"type": "paragraph", "output_variable_name": "comment"},
    {
        "type": "select",
        "output_variable_name": "level",
        "option_source": {"value": ["low", "high"]},
    },
]


def bad(message_part: str, **kwargs):
    with pytest.raises(ApiError) as caught:
        submission_clean(**{"fields": FIELDS, "actions": ACTIONS, **kwargs})
    assert caught.value.status == 400 and caught.value.code == "invalid_form_data"
    assert message_part in caught.value.message, caught.value.message
    return caught.value


def test_a_valid_answer_keeps_each_field_and_drops_unknown_keys():
    clean = submission_clean(
        fields=FIELDS,
        actions=ACTIONS,
        action="reject",
        values={"comment": "no", "level": "high", "extra": 1},
    )
    assert clean == {"comment": "no", "level": "high"}


@pytest.mark.parametrize(
    ("action", "values", "named"),
    [
        ("maybe", {"comment": "x", "level": "low"}, "action 'maybe'"),
        ("", {"comment": "x", "level": "low"}, "action ''"),
        ("approve", {"level": "low"}, "comment is required"),
        ("approve", {"comment": None, "level": "low"}, "comment is required"),
        ("approve", {"comment": 3, "level": "low"}, "comment must be a string"),
        ("approve", {"comment": "x", "level": "medium"}, "level must be one of: low, high"),
    ],
)
def test_each_bad_answer_is_400_naming_the_field(action, values, named):
    bad(named, action=action, values=values)


def test_the_action_error_lists_the_allowed_actions():
    error = bad("approve, reject", action="nope", values={})
    assert "action" in error.message


def test_file_fields_are_refused_until_uploads_exist():
    with pytest.raises(ApiError) as caught:
        submission_clean(
            fields=[{"type": "file", "output_variable_name": "doc"}],
            actions=ACTIONS,
            action="approve",
            values={"doc": {"url": "http://x"}},
        )
    assert "doc" in caught.value.message


def test_value_text_follows_the_contract():
    assert value_text(None) == ""
    assert value_text("a") == "a"
    assert value_text({"k": "ü"}) == '{"k": "ü"}'
    assert value_text([1, 2]) == "[1, 2]"
    assert value_text(3) == "3"


def test_answers_fill_the_output_placeholders():
    text = "Hi {{#$output.comment#}} / {{#$outputs.level#}} / {{#$output.missing#}} {{#a.b#}}"
    assert (
        content_with_answers(text, {"comment": "ok", "level": "low"}) == "Hi ok / low /  {{#a.b#}}"
    )


def test_tokens_have_at_least_128_bits_and_are_stored_as_digests():
    tokens = {token_mint() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(token) == TOKEN_LENGTH and token.isalnum() and token_well_formed(token)
        assert len(token_digest(token)) == 64 and token not in token_digest(token)
    # 62 symbols per character: log2(62) * 22 > 130.
    assert TOKEN_LENGTH * 5.95 > 128
    for malformed in ["", "short", "a" * 23, "a" * 21 + "-", "../" + "a" * 19]:
        assert not token_well_formed(malformed)
