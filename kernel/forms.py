"""Form pieces every console app uses: service errors under their field, role attributes."""

from __future__ import annotations

from typing import Any

from django import forms

from kernel.errors import DomainError

ROLE_ATTRIBUTES_HELP = "Comma-separated, for example: sales, laptops. Policies select identities by these."


class ServiceErrorsForm(forms.Form):
    """A form that shows a services error under the field it names, else above the form."""

    def field_for(self, field: str | None) -> str | None:
        """The input of this form that an error about `field` belongs under."""
        return field

    def add_service_error(self, error: DomainError) -> None:
        field = self.field_for(error.field)
        self.add_error(field if field in self.fields else None, error.message)


class FilterForm(forms.Form):
    """The filters of a list page, read from its URL: a value that does not parse is
    dropped (and shown as an error), never a failed page."""

    def filters(self) -> dict[str, Any]:
        """The filters that parsed and are set; all of them for a valid form."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "", [])}


class RoleAttributesField(forms.CharField):
    """Role attributes typed as one comma-separated line, cleaned to a list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", ROLE_ATTRIBUTES_HELP)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [part.strip() for part in text.split(",") if part.strip()]

    def prepare_value(self, value: Any) -> Any:
        # The initial value is the identity's list; show it the way it is typed.
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value
