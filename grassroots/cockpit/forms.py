"""Forms of the cockpit: a new scheme version, computing an evaluation, leader contacts and visits."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.areas.choices import Level

from .evaluation import validate_items
from .indicators import Period

LEVEL_CHOICES = [(Level.STREET, Level.STREET.label), (Level.COMMUNITY, Level.COMMUNITY.label)]


class SchemeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    level = forms.TypedChoiceField(label=_("Scores"), choices=LEVEL_CHOICES, coerce=int)
    items = forms.CharField(
        label=_("Indicators, weights and targets (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code-input"}),
        help_text=_(
            'A list of {"indicator": code, "weight": points, "target": value}. Rates are fractions '
            "(0.9 = 90%). An item earns its weight when the target is met, proportionally less otherwise."
        ),
    )
    red_below = forms.FloatField(label=_("Red flag below score"), min_value=0, max_value=100, initial=60)
    yellow_below = forms.FloatField(
        label=_("Yellow flag below score"), min_value=0, max_value=100, initial=75
    )

    def clean_items(self) -> list[dict]:
        try:
            items = json.loads(self.cleaned_data["items"])
        except json.JSONDecodeError as exc:
            raise ValidationError(_("Not valid JSON: %(error)s") % {"error": exc.msg}) from exc
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ValidationError(_("Expected a list of objects."))
        validate_items(items)
        return items

    def clean(self):
        cleaned = super().clean()
        red, yellow = cleaned.get("red_below"), cleaned.get("yellow_below")
        if red is not None and yellow is not None and red > yellow:
            raise ValidationError(_("The red flag must be below the yellow flag."))
        return cleaned


class PeriodField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        try:
            return Period.parse(value.strip()).code
        except ValueError as exc:
            raise ValidationError(_("Expected now, YYYY-MM or YYYY-Qn.")) from exc


class ComputeForm(forms.Form):
    period = PeriodField(label=_("Period"), max_length=7)
    level = forms.TypedChoiceField(label=_("Scores"), choices=LEVEL_CHOICES, coerce=int)


class ContactForm(forms.Form):
    area = forms.ChoiceField(label=_("Place"))
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, places: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = places


class VisitForm(forms.Form):
    area = forms.ChoiceField(label=_("Place"))
    at = forms.DateTimeField(
        label=_("When"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    note = forms.CharField(
        label=_("What was done"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )

    def __init__(self, *args, places: list[tuple[str, str]], **kwargs):
        kwargs.setdefault("initial", {}).setdefault(
            "at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = places
