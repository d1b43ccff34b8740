"""Forms of the registry pages. They parse and validate input; the workflows in :mod:`.actions` decide.

Identity fields are validated here as well as in the actions, so that a typing error is reported next to
the field it is in. A form never receives a full ID number or phone as initial data: those are shown
only through the audited reveal.
"""

from __future__ import annotations

import re
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.areas.models import Area

from .choices import (
    ETHNICITIES,
    BuildingKind,
    CareGroup,
    EventKind,
    HouseholdStatus,
    OrganisationKind,
    Registration,
    Relation,
)
from .idnumber import normalise_phone, parse_id_number
from .models import Building, Household, Resident
from .protect import MIN_REASON

ARRIVAL_EVENTS = [
    (EventKind.REGISTERED, _("First registration (already living here)")),
    (EventKind.MOVE_IN, _("Moving in")),
    (EventKind.BIRTH, _("Newborn")),
]
LEAVE_EVENTS = [(EventKind.MOVE_OUT, _("Moves out")), (EventKind.DEATH, _("Death"))]
REVEAL_FIELDS = [("id_number", _("ID number")), ("phone", _("Phone"))]
# Unified social credit code (GB 32100-2015): 18 characters, no I, O, S, V or Z.
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

# Where an action's ValidationError belongs on a form, by its code (see :func:`add_action_error`).
ERROR_FIELDS = {
    "id_length": "id_number",
    "id_chars": "id_number",
    "id_region": "id_number",
    "id_birth": "id_number",
    "id_checksum": "id_number",
    "duplicate": "id_number",
    "phone": "phone",
    "name": "name",
    "future": "date",
    "date": "date",
    "number": "number",
    "building_area": "building",
    "area_level": "area",
    "duplicate_address": "address",
    "reason": "reason",
    "head": "relation",
}


def add_action_error(form: forms.Form, exc: ValidationError, fields: dict[str, str] | None = None) -> None:
    """Show an action's ValidationError on ``form``: next to its field where the code names one."""
    mapping = {**ERROR_FIELDS, **(fields or {})}
    for error in exc.error_list:
        field = mapping.get(error.code or "")
        form.add_error(field if field in form.fields else None, error)


def _model_choice(form: forms.Form, name: str) -> forms.ModelChoiceField:
    return cast(forms.ModelChoiceField, form.fields[name])


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class IdNumberField(forms.CharField):
    """An 18-character ID number, normalised (upper-case X, no spaces) and checked (GB 11643)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 24)
        kwargs.setdefault("label", _("ID number"))
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "inputmode": "text", "spellcheck": "false"})

    def clean(self, value):
        value = super().clean(value)
        return parse_id_number(value).value if value else value


class PhoneField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("label", _("Mobile phone"))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.input_type = "tel"
        self.widget.attrs.update({"autocomplete": "off", "inputmode": "tel"})

    def clean(self, value):
        value = super().clean(value)
        return normalise_phone(value) if value else ""


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        if obj.parent and obj.level == obj.parent.level + 1 and obj.parent.is_grid:
            return f"{obj.parent.name} · {obj.name}"
        return obj.display_name


class BuildingChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Building) -> str:
        return f"{obj.name} · {obj.address}"


def ethnicity_field() -> forms.ChoiceField:
    return forms.ChoiceField(label=_("Ethnicity"), choices=[(e, e) for e in ETHNICITIES], initial="汉族")


class PastDateField(forms.DateField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Date"))
        kwargs.setdefault("initial", timezone.localdate)
        kwargs.setdefault("widget", _date_widget())
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value and value > timezone.localdate():
            raise ValidationError(_("The date cannot be in the future."), code="future")
        return value


# --- buildings and households --------------------------------------------------------------------


class BuildingForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60, help_text=_("e.g. 3号楼, 12号院"))
    address = forms.CharField(label=_("Standard address"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=BuildingKind.choices, initial=BuildingKind.RESIDENTIAL)
    floors = forms.IntegerField(label=_("Floors"), min_value=1, max_value=200, required=False)
    units = forms.IntegerField(label=_("Entrances"), min_value=1, max_value=50, required=False)


class HouseholdForm(forms.Form):
    """Where a household is. ``areas`` and ``buildings`` are the choices the user may place it in."""

    area = AreaChoiceField(
        label=_("Grid or micro-grid"), queryset=Area.objects.none(), empty_label=None, to_field_name="code"
    )
    building = BuildingChoiceField(
        label=_("Building"),
        queryset=Building.objects.none(),
        required=False,
        empty_label=_("— none, or a new one below —"),
    )
    new_building_name = forms.CharField(
        label=_("New building: name"), max_length=60, required=False, help_text=_("e.g. 3号楼, 12号院")
    )
    new_building_address = forms.CharField(
        label=_("New building: standard address"), max_length=200, required=False
    )
    room = forms.CharField(
        label=_("Unit and room"), max_length=40, required=False, help_text=_("e.g. 2单元301")
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=200,
        required=False,
        help_text=_("Leave empty to use the building's address followed by the room."),
    )

    def __init__(self, *args, areas: QuerySet[Area], buildings: QuerySet[Building], new_building=True, **kw):
        super().__init__(*args, **kw)
        _model_choice(self, "area").queryset = areas.select_related("parent")
        _model_choice(self, "building").queryset = buildings
        if not new_building:
            del self.fields["new_building_name"]
            del self.fields["new_building_address"]
            _model_choice(self, "building").empty_label = _("— no building —")

    def clean(self):
        data = super().clean()
        new_name, new_address = data.get("new_building_name"), data.get("new_building_address")
        if data.get("building") and (new_name or new_address):
            raise ValidationError(_("Choose a building or describe a new one, not both."))
        if bool(new_name) != bool(new_address):
            self.add_error(
                "new_building_address" if new_name else "new_building_name",
                _("A new building needs both a name and an address."),
            )
        if not data.get("address"):
            base = (data.get("building") and data["building"].address) or new_address
            if not base:
                self.add_error("address", _("Enter the address, or choose a building."))
            else:
                data["address"] = f"{base}{data.get('room', '')}"
        return data


class HouseholdCreateForm(HouseholdForm):
    number = forms.CharField(
        label=_("Household number"), max_length=40, help_text=_("The office's own number for the household.")
    )
    field_order = [
        "number",
        "area",
        "building",
        "new_building_name",
        "new_building_address",
        "room",
        "address",
    ]


class PersonForm(forms.Form):
    """A person joining a household; used for the head of a new household and for added members."""

    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = IdNumberField()
    relation = forms.ChoiceField(label=_("Relation to head"), choices=Relation.choices)
    phone = PhoneField()
    ethnicity = ethnicity_field()
    registration = forms.ChoiceField(
        label=_("Registration"), choices=Registration.choices, initial=Registration.REGISTERED
    )
    event = forms.ChoiceField(label=_("How they join"), choices=ARRIVAL_EVENTS, initial=EventKind.REGISTERED)
    date = PastDateField(
        required=False, help_text=_("When they moved in or were registered; for a newborn, the birth date.")
    )
    care_groups = forms.MultipleChoiceField(
        label=_("Care groups"), choices=CareGroup.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, head: bool = False, show_care: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if head:
            del self.fields["relation"]
        if not show_care:
            del self.fields["care_groups"]

    def clean_name(self):
        return self.cleaned_data["name"].strip()


class SetHeadForm(forms.Form):
    resident = forms.ModelChoiceField(label=_("New head"), queryset=Resident.objects.none(), empty_label=None)

    def __init__(self, *args, members: QuerySet[Resident], **kwargs):
        super().__init__(*args, **kwargs)
        _model_choice(self, "resident").queryset = members


class MoveOutForm(forms.Form):
    date = PastDateField()
    note = forms.CharField(
        label=_("Note"), max_length=200, required=False, help_text=_("e.g. where they went.")
    )


class LeaveForm(MoveOutForm):
    kind = forms.ChoiceField(label=_("What happened"), choices=LEAVE_EVENTS, widget=forms.RadioSelect)
    field_order = ["kind", "date", "note"]


class TransferForm(forms.Form):
    household_number = forms.CharField(
        label=_("Number of the receiving household"),
        max_length=40,
        help_text=_("An open household in your area, e.g. the new home after a marriage."),
    )
    relation = forms.ChoiceField(label=_("Relation to its head"), choices=Relation.choices)
    date = PastDateField()
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, households: QuerySet[Household], **kwargs):
        super().__init__(*args, **kwargs)
        self.households = households

    def clean_household_number(self):
        number = self.cleaned_data["household_number"].strip()
        household = self.households.filter(number=number, status=HouseholdStatus.ACTIVE).first()
        if household is None:
            raise ValidationError(
                _("No open household with number %(number)s in your area."), params={"number": number}
            )
        self.cleaned_data["to_household"] = household
        return number


# --- residents -----------------------------------------------------------------------------------


class ResidentEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    phone = PhoneField(help_text=_("Leave empty to keep the current number."))
    clear_phone = forms.BooleanField(label=_("Remove the phone number"), required=False)
    ethnicity = ethnicity_field()
    relation = forms.ChoiceField(label=_("Relation to head"), choices=Relation.choices)
    registration = forms.ChoiceField(label=_("Registration"), choices=Registration.choices)

    def __init__(self, *args, is_head: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # The head changes only through "set as head", which keeps Household.head in step.
        if is_head:
            del self.fields["relation"]
        else:
            relation = cast(forms.ChoiceField, self.fields["relation"])
            relation.choices = [c for c in Relation.choices if c[0] != Relation.HEAD]

    def clean(self):
        data = super().clean()
        if data.get("phone") and data.get("clear_phone"):
            raise ValidationError(_("Enter a new number or remove it, not both."))
        return data

    def changes(self) -> dict[str, str]:
        """The keyword arguments for ``do_update_resident``: the phone only when it is to change."""
        data = self.cleaned_data
        changes: dict[str, str] = {
            key: data[key] for key in ("name", "ethnicity", "relation", "registration") if key in data
        }
        if data["phone"] or data["clear_phone"]:
            changes["phone"] = data["phone"]
        return changes


class RevealForm(forms.Form):
    show = forms.MultipleChoiceField(
        label=_("Show"), choices=REVEAL_FIELDS, widget=forms.CheckboxSelectMultiple, initial=["id_number"]
    )
    reason = forms.CharField(
        label=_("Reason"),
        min_length=MIN_REASON,
        max_length=200,
        help_text=_(
            "Recorded in the audit trail with your name, e.g. “verifying identity for a subsidy claim”."
        ),
        error_messages={
            "required": _("State why you need to see the full value."),
            "min_length": _("State why you need to see the full value."),
        },
    )


class CareForm(forms.Form):
    group = forms.ChoiceField(label=_("Care group"), choices=CareGroup.choices)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
    member = forms.TypedChoiceField(
        choices=[("1", "add"), ("0", "remove")],
        coerce=lambda v: v == "1",
        widget=forms.HiddenInput,
        initial="1",
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name, ID number or mobile phone"),
        max_length=60,
        help_text=_(
            "Part of a name; or a full 18-character ID number or 11-digit mobile number for an exact match."
        ),
    )


def looks_like_identity(query: str) -> bool:
    """True for anything with a run of digits: such a query must not travel in a URL."""
    return bool(re.search(r"\d{4,}", query or ""))


# --- organisations -------------------------------------------------------------------------------


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=OrganisationKind.choices)
    credit_code = forms.CharField(
        label=_("Unified social credit code"),
        max_length=18,
        required=False,
        help_text=_("18 characters; optional."),
    )
    address = forms.CharField(label=_("Address"), max_length=200)
    building = BuildingChoiceField(
        label=_("Building"), queryset=Building.objects.none(), required=False, empty_label=_("— none —")
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=50, required=False)
    contact_phone = PhoneField(label=_("Contact phone"))
    clear_phone = forms.BooleanField(label=_("Remove the contact phone"), required=False)
    employees = forms.IntegerField(label=_("Employees"), min_value=0, required=False)

    def __init__(self, *args, buildings: QuerySet[Building], editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        _model_choice(self, "building").queryset = buildings
        if editing:
            self.fields["contact_phone"].help_text = _("Leave empty to keep the current number.")
        else:
            del self.fields["clear_phone"]

    def clean_credit_code(self):
        code = self.cleaned_data["credit_code"].strip().upper()
        if code and not CREDIT_CODE.match(code):
            raise ValidationError(_("A unified social credit code has 18 digits and capital letters."))
        return code
