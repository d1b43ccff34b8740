"""Forms of the dispute pages. They parse and validate input; :mod:`.actions` decides.

An action's ValidationError is put back on the form that sent it (:func:`add_action_error`), so a
person sees the problem where they typed and keeps what they typed.
"""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.choices import Role
from grassroots.accounts.models import User
from grassroots.areas.choices import Level
from grassroots.areas.codes import ancestor_codes, in_subtree
from grassroots.areas.models import Area
from grassroots.registry.idnumber import normalise_phone
from grassroots.registry.models import Resident

from .choices import Colour, DisputeType, Party, ReferralKind, ReferralOutcome, Source, StationKind, Status
from .models import RuleSet, Station

INDICATOR_PREFIX = "ind_"
LATE_CHOICES = [("", _("Any")), ("1", _("Late follow-up"))]
STATUS_FILTER_CHOICES = [("", _("Active")), ("all", _("All")), *Status.choices]
FOLLOW_UP_KINDS = [
    ("visit", _("Home visit")),
    ("phone", _("Phone call")),
    ("meeting", _("Meeting")),
    ("other", _("Other")),
]

# Where an action's ValidationError belongs on a form, by its code.
ERROR_FIELDS = {
    "area": "place",
    "type": "type",
    "required": "title",
    "parties": None,
    "description": "description",
    "note": "note",
    "terms": "terms",
    "kind": "kind",
    "body": "body",
    "agreement": "kind",
    "outcome": "outcome",
    "reason": "reason",
    "future": "held_at",
    "pending": None,
    "closed": None,
    "top": None,
}


def add_action_error(form: forms.Form, exc: ValidationError) -> None:
    """Show an action's ValidationError on ``form``: next to its field where the code names one."""
    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(key if key in form.fields else None, error)
        return
    for error in exc.error_list:
        field = ERROR_FIELDS.get(error.code or "")
        form.add_error(field if field in form.fields else None, error)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def local_now() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


# --- the desk ------------------------------------------------------------------------------------


class DeskFilterForm(forms.Form):
    """The allow-listed filters of the desk; anything else in the query string is ignored."""

    colour = forms.ChoiceField(label=_("Colour"), required=False, choices=[("", _("Any")), *Colour.choices])
    type = forms.ChoiceField(label=_("Type"), required=False, choices=[("", _("Any")), *DisputeType.choices])
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_FILTER_CHOICES)
    late = forms.ChoiceField(label=_("Follow-up"), required=False, choices=LATE_CHOICES)

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            # Keep the valid ones: a stale bookmark with one bad value still shows something.
            return {k: v for k, v in self.cleaned_data.items() if v}
        return {k: v for k, v in self.cleaned_data.items() if v}


# --- recording -----------------------------------------------------------------------------------


class PlaceField(forms.TypedChoiceField):
    """A community or grid in the person's scope, grouped by community; the clean value is the Area."""

    def __init__(self, areas: QuerySet[Area], **kwargs):
        self.areas = {a.code: a for a in areas.filter(level__in=(Level.COMMUNITY, Level.GRID))}
        groups: dict[str, list[tuple[str, str]]] = {}
        names = {
            a.code: a.display_name
            for a in Area.objects.filter(
                code__in={code[:12] for code in self.areas}, level=Level.COMMUNITY
            ).only("code", "name")
        }
        for code, area in sorted(self.areas.items()):
            community = names.get(code[:12], code[:12])
            label = (
                _("%(name)s (whole community)") % {"name": area.display_name}
                if len(code) == 12
                else (area.display_name)
            )
            groups.setdefault(community, []).append((code, label))
        super().__init__(
            choices=[("", _("— choose —")), *groups.items()],
            coerce=lambda code: self.areas[code],
            **kwargs,
        )


class RecordForm(forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=DisputeType.choices, initial=DisputeType.FAMILY)
    title = forms.CharField(label=_("Title"), max_length=100)
    description = forms.CharField(
        label=_("What the dispute is about"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, initial=Source.PATROL)
    case_number = forms.CharField(
        label=_("Case number"),
        required=False,
        max_length=20,
        help_text=_("When the dispute came from a reported case."),
    )

    def __init__(self, *args, areas: QuerySet[Area], cases: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"] = PlaceField(
            areas, label=_("Place"), help_text=_("The community or grid where it arose.")
        )
        self.order_fields(["type", "title", "description", "place", "source", "case_number"])
        self.cases = cases

    def clean_case_number(self):
        number = self.cleaned_data["case_number"].strip()
        if not number:
            return None
        case = self.cases.filter(number=number).first()
        if case is None:
            raise ValidationError(_("No case %(number)s in your area."), params={"number": number})
        return case


class ResidentSelect(forms.Select):
    """Renders only the chosen resident: the choices are found by searching, never listed whole. Only
    residents of ``queryset`` (the person's scope) are ever named, whatever was posted."""

    queryset = Resident.objects.none()

    def optgroups(self, name, value, attrs=None):
        chosen = [v for v in value if v and str(v).isdigit()]
        residents = self.queryset.filter(pk__in=chosen).select_related("area") if chosen else []
        self.choices = [("", _("— not linked —")), *((r.pk, resident_label(r)) for r in residents)]
        return super().optgroups(name, value, attrs)


def resident_label(resident: Resident) -> str:
    return f"{resident.name} · {resident.id_number_masked} · {resident.area.display_name}"


class PartyForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Party.choices)
    name = forms.CharField(label=_("Name"), max_length=50, required=False)
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        help_text=_("Optional; stored encrypted, shown masked."),
    )
    q = forms.CharField(
        label=_("Find a registered resident"),
        max_length=50,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )

    def __init__(self, *args, residents: QuerySet[Resident], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resident"] = forms.ModelChoiceField(
            queryset=residents,
            required=False,
            label=_("Registered resident"),
            widget=ResidentSelect,
            help_text=_("Optional link to the registry."),
        )
        self.fields["resident"].widget.queryset = residents

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        return normalise_phone(phone) if phone else ""

    def clean(self):
        data = super().clean()
        resident = data.get("resident")
        if resident is not None and not (data.get("name") or "").strip():
            data["name"] = resident.name
        if (data.get("phone") or data.get("resident")) and not (data.get("name") or "").strip():
            self.add_error("name", _("Name the party."))
        return data

    def party(self) -> dict | None:
        data = self.cleaned_data
        if not (data.get("name") or "").strip():
            return None
        return {
            "role": data["role"],
            "name": data["name"].strip(),
            "phone": data.get("phone", ""),
            "resident": data.get("resident"),
        }


class BasePartyFormSet(forms.BaseFormSet):
    def __init__(self, *args, residents: QuerySet[Resident], **kwargs):
        self.residents = residents
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "residents": self.residents}

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id,
            prefix=self.add_prefix("__prefix__"),
            empty_permitted=True,
            use_required_attribute=False,
            residents=self.residents,
        )
        self.add_fields(form, None)
        return form

    def clean(self):
        if any(self.errors):
            return
        if not any(form.cleaned_data.get("name") for form in self.forms if form.cleaned_data):
            raise ValidationError(_("Name at least one party."))

    def parties(self) -> list[dict]:
        return [p for form in self.forms if form.cleaned_data and (p := form.party())]


PartyFormSet = forms.formset_factory(
    PartyForm, formset=BasePartyFormSet, extra=0, min_num=2, max_num=8, validate_max=True
)


def party_formset(data=None, *, residents: QuerySet[Resident]) -> BasePartyFormSet:
    initial = None if data is not None else [{"role": Party.APPLICANT}, {"role": Party.RESPONDENT}]
    return PartyFormSet(data, prefix="parties", residents=residents, initial=initial)


def indicator_label(item: dict) -> str:
    label, english = item.get("label") or item["code"], item.get("label_en") or ""
    return f"{label} · {english}" if english and english != label else label


def indicator_help(item: dict) -> str:
    weight = item.get("weight", 0)
    if item["kind"] == "bool":
        text = _("%(weight)s points when true.") % {"weight": _number(weight)}
    elif item["kind"] == "count":
        text = _("%(weight)s points each, counted up to %(cap)s.") % {
            "weight": _number(weight),
            "cap": _number(item.get("cap", "∞")),
        }
    else:
        text = _("%(weight)s points from %(threshold)s.") % {
            "weight": _number(weight),
            "threshold": _number(item.get("threshold")),
        }
    if item.get("min_colour") in Colour.values:
        text += " " + _("At least %(colour)s when it applies.") % {"colour": Colour(item["min_colour"]).label}
    return str(text)


def shown_value(value) -> str:
    """An indicator's value as people read it: yes/no, whole numbers without “.0”."""
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if value is None:
        return "—"
    return _number(value)


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class IndicatorsForm(forms.Form):
    """The risk indicators of a rule set, one field each: a checkbox for yes/no, a number otherwise.

    Left empty, an indicator takes the rule's assumed value and the grading says so. On review, a box
    that was ticked before and is now cleared sends "no" (otherwise it could never be cleared).
    """

    def __init__(self, *args, rules: RuleSet, current: dict | None = None, **kwargs):
        self.rules = rules
        self.current = current or {}
        initial = kwargs.pop("initial", None) or {}
        for code, value in self.current.items():
            initial[INDICATOR_PREFIX + code] = value
        super().__init__(*args, initial=initial, **kwargs)
        for item in rules.indicators:
            name = INDICATOR_PREFIX + item["code"]
            common = {"label": indicator_label(item), "required": False, "help_text": indicator_help(item)}
            placeholder = {
                "placeholder": _("unknown: %(value)s assumed") % {"value": shown_value(item.get("assume", 0))}
            }
            if item["kind"] == "bool":
                self.fields[name] = forms.BooleanField(**common)
            elif item["kind"] == "count":
                self.fields[name] = forms.IntegerField(
                    min_value=0, max_value=100000, widget=forms.NumberInput(attrs=placeholder), **common
                )
            else:
                self.fields[name] = forms.FloatField(
                    min_value=0, widget=forms.NumberInput(attrs={**placeholder, "step": "any"}), **common
                )
            self.fields[name].indicator = item

    def inputs(self) -> dict:
        values = {}
        for item in self.rules.indicators:
            code = item["code"]
            value = self.cleaned_data.get(INDICATOR_PREFIX + code)
            if item["kind"] == "bool":
                if value:
                    values[code] = True
                elif code in self.current:
                    values[code] = False
            elif value is not None:
                values[code] = int(value) if float(value).is_integer() else value
        return values


# --- the dispute page ----------------------------------------------------------------------------


class IncidentForm(forms.Form):
    description = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )
    police_called = forms.BooleanField(label=_("Police were called"), required=False)
    violence = forms.BooleanField(label=_("There was violence"), required=False)


class FollowUpForm(forms.Form):
    kind = forms.ChoiceField(label=_("How"), choices=FOLLOW_UP_KINDS)
    note = forms.CharField(
        label=_("What you found"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )


def serving(dispute, role: str) -> QuerySet[User]:
    """Active users holding ``role`` at the dispute's place or above it (who may be assigned)."""
    codes = [*ancestor_codes(dispute.area_id), dispute.area_id]
    return (
        User.objects.filter(is_active=True, grants__role=role, grants__area_id__in=codes)
        .distinct()
        .order_by("full_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class AssignForm(forms.Form):
    def __init__(self, *args, dispute, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mediator"] = UserChoiceField(
            serving(dispute, Role.MEDIATOR),
            label=_("People's mediator"),
            required=False,
            empty_label=_("— unchanged —"),
        )
        self.fields["legal_adviser"] = UserChoiceField(
            serving(dispute, Role.LEGAL_ADVISER),
            label=_("Legal adviser"),
            required=False,
            empty_label=_("— unchanged —"),
        )

    def clean(self):
        data = super().clean()
        if not data.get("mediator") and not data.get("legal_adviser"):
            raise ValidationError(_("Choose a mediator or a legal adviser."))
        return data


class SessionForm(forms.Form):
    held_at = forms.DateTimeField(label=_("Held at"), widget=DateTimeLocalInput())
    station = forms.ModelChoiceField(
        queryset=Station.objects.none(), label=_("Station"), required=False, empty_label=_("— none —")
    )
    place = forms.CharField(label=_("Place"), max_length=100, required=False)
    attendees = forms.CharField(
        label=_("Who attended"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    notes = forms.CharField(
        label=_("What was said"), widget=forms.Textarea(attrs={"rows": 4}), max_length=8000
    )
    agreed = forms.BooleanField(label=_("An agreement was reached"), required=False)

    def __init__(self, *args, dispute, **kwargs):
        kwargs.setdefault("initial", {"held_at": local_now()})
        super().__init__(*args, **kwargs)
        codes = [*ancestor_codes(dispute.area_id), dispute.area_id]
        self.fields["station"].queryset = Station.objects.filter(
            Q(area_id__in=codes) | in_subtree("area", dispute.area_id[:12])
        ).order_by("name")


class AgreementForm(forms.Form):
    terms = forms.CharField(
        label=_("Terms agreed"), widget=forms.Textarea(attrs={"rows": 5}), max_length=8000
    )
    performance = forms.CharField(
        label=_("How and when it is performed"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )


class SignForm(forms.Form):
    scan = forms.FileField(
        label=_("Signed scan"), required=False, help_text=_("A photo or PDF of the signed agreement.")
    )


class ReferralForm(forms.Form):
    kind = forms.ChoiceField(label=_("Referred to"), choices=[("", _("— choose —")), *ReferralKind.choices])
    body = forms.CharField(
        label=_("Receiving body"),
        max_length=100,
        required=False,  # the action refuses an empty one, with its own message
        help_text=_("The court, the arbitration commission, the department …"),
    )
    reference = forms.CharField(label=_("Their case number"), max_length=60, required=False)
    hearing_at = forms.DateTimeField(label=_("Hearing"), widget=DateTimeLocalInput(), required=False)


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            ("", _("— choose —")),
            *[c for c in ReferralOutcome.choices if c[0] != ReferralOutcome.PENDING],
        ],
    )
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False
    )


class SettleForm(forms.Form):
    note = forms.CharField(
        label=_("How it was settled"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )


class EscalateForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it must go up"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class TakeForm(forms.Form):
    """包案: no fields; the button says it all."""


# --- rules and stations --------------------------------------------------------------------------


class JsonField(forms.CharField):
    """A JSON text area whose clean value is the parsed document of the expected type."""

    def __init__(self, *, expected: type, **kwargs):
        self.expected = expected
        super().__init__(
            widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "code"}), **kwargs
        )

    def prepare_value(self, value):
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False, indent=2)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return text
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _("Not valid JSON: %(error)s (line %(line)d, column %(column)d)."),
                params={"error": exc.msg, "line": exc.lineno, "column": exc.colno},
            ) from None
        if not isinstance(parsed, self.expected):
            raise ValidationError(
                _("Expected a JSON list.") if self.expected is list else _("Expected a JSON object.")
            )
        return parsed


class RulesForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    note = forms.CharField(label=_("What changed"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    stable_days = forms.IntegerField(label=_("Days without incident before the colour falls"), min_value=1)
    indicators = JsonField(
        expected=list,
        label=_("Indicators"),
        help_text=_(
            "A list of {code, label, label_en, kind: bool | count | at_least, weight, cap, threshold, "
            "assume, min_colour}."
        ),
    )
    thresholds = JsonField(
        expected=dict, label=_("Score thresholds"), help_text=_("Lowest score of red, orange, yellow, blue.")
    )
    policies = JsonField(
        expected=dict,
        label=_("What each colour requires"),
        help_text=_("Per colour: level (2–5), leader, respond_hours, follow_up_days."),
    )

    def clean(self):
        """What :func:`grading.validate_rules` takes for granted without checking: objects where
        objects belong, whole numbers where the sweep computes intervals. The rest it judges itself."""
        data = super().clean()
        indicators, policies = data.get("indicators"), data.get("policies")
        if isinstance(indicators, list) and not all(isinstance(item, dict) for item in indicators):
            self.add_error("indicators", _("Every indicator must be a JSON object."))
        for colour in Colour.values if isinstance(policies, dict) else ():
            policy = policies.get(colour)
            if policy is not None and not isinstance(policy, dict):
                self.add_error(
                    "policies", _("The %(colour)s policy must be a JSON object.") % {"colour": colour}
                )
                continue
            for key in ("follow_up_days", "respond_hours"):
                value = (policy or {}).get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                    self.add_error(
                        "policies",
                        _("%(key)s of the %(colour)s policy must be a whole number of 1 or more.")
                        % {"key": key, "colour": colour},
                    )
        return data

    @classmethod
    def from_rules(cls, rules: RuleSet) -> RulesForm:
        return cls(
            initial={
                "name": rules.name,
                "stable_days": rules.stable_days,
                "indicators": rules.indicators,
                "thresholds": rules.thresholds,
                "policies": rules.policies,
            }
        )


STATION_LEVELS = (Level.STREET, Level.COMMUNITY)


class StationForm(forms.ModelForm):
    class Meta:
        model = Station
        fields = ["name", "kind", "area", "address", "hours"]

    def __init__(self, *args, areas: QuerySet[Area], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas.filter(level__in=STATION_LEVELS).order_by("code")
        self.fields["area"].empty_label = _("— choose —")
        self.fields["kind"].choices = [("", _("— choose —")), *StationKind.choices]
        self.fields["area"].label = _("Where")
        self.fields["area"].label_from_instance = lambda a: f"{a.display_name} ({a.code})"
