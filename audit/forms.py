"""The audit page's filters: shapes only; the query is AuditRecordQuerySet.matching."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from audit.models import Action, ObjectType, Outcome
from kernel.forms import FilterForm


def _optional(choices: list[tuple[str, str]], everything: str) -> list[tuple[str, str]]:
    return [("", everything), *choices]


class AuditFilterForm(FilterForm):
    object_type = forms.ChoiceField(
        label="Object type", required=False, choices=_optional(ObjectType.choices, "Any object")
    )
    object = forms.CharField(
        label="Object",
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "Name or id"}),
    )
    actor = forms.CharField(
        label="Actor",
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "Admin, identity, command"}),
    )
    action = forms.ChoiceField(
        label="Action", required=False, choices=_optional(Action.choices, "Any action")
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=_optional(Outcome.choices, "Any outcome")
    )
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if isinstance(since, dt.date) and isinstance(until, dt.date) and since > until:
            self.add_error("until", "The end of the period is before its start.")
        return cleaned
