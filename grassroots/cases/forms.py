"""Forms of the case pages. They parse and validate input; :mod:`.actions` and :mod:`.workflow` decide.

Errors an action raises are put back on the form next to the field they concern
(:func:`add_action_error`), so that a person sees every problem where they typed, and nothing they
typed is lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.models import User
from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL, ancestor_codes, in_subtree, is_valid_code
from grassroots.areas.models import Area
from grassroots.registry.idnumber import normalise_phone
from grassroots.registry.models import Building

from . import actions
from .choices import AttributeType, Clock, Status
from .models import LEVEL_CHOICES, Case, Category, CategoryAttribute, Unit
from .workflow import Transition

PHOTO_FIELDS = ("photo_1", "photo_2", "photo_3")
ATTRIBUTE_PREFIX = "attr_"
SATISFACTION_CHOICES = [
    ("", _("— not asked —")),
    (5, _("5 · very satisfied")),
    (4, _("4 · satisfied")),
    (3, _("3 · neutral")),
    (2, _("2 · dissatisfied")),
    (1, _("1 · very dissatisfied")),
]

# Where an action's ValidationError belongs on a form, by its code.
ERROR_FIELDS = {
    "category": "category",
    "area": "area",
    "required": "title",
    "building": "building",
    "location": "lat",
    "phone": "contact_phone",
    "note": "note",
    "unit": "unit",
    "into": "into",
    "satisfaction": "satisfaction",
    "deadline": "deadline",
    "answer": "answer",
}


def add_action_error(form: forms.Form, exc: ValidationError) -> None:
    """Show an action's ValidationError on ``form``: next to its field where the code names one."""
    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            name = f"{ATTRIBUTE_PREFIX}{key}"
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
        return
    for error in exc.error_list:
        field = ERROR_FIELDS.get(error.code or "")
        form.add_error(field if field in form.fields else None, error)


def grouped_categories(categories) -> list:
    """Choices for a select with one ``<optgroup>`` per group, in catalogue order."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for category in categories:
        groups.setdefault(category.group, []).append((category.pk, category.name))
    return [("", _("— choose —")), *groups.items()]


class CategoryChoiceField(forms.TypedChoiceField):
    """A grouped select of categories whose clean value is the Category."""

    def __init__(self, queryset: QuerySet[Category], **kwargs):
        self.queryset = queryset
        super().__init__(choices=grouped_categories(queryset), coerce=int, empty_value=None, **kwargs)

    def clean(self, value):
        pk = super().clean(value)
        if pk is None:
            return None
        category = self.queryset.filter(pk=pk).first()
        if category is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return category


def find_category(queryset: QuerySet[Category], raw) -> Category | None:
    try:
        return queryset.filter(pk=int(raw)).first()
    except (TypeError, ValueError):
        return None


def attribute_field(attribute: CategoryAttribute) -> forms.Field:
    """The form field of one Open311 attribute."""
    common = {
        "label": attribute.description,
        "required": attribute.required,
        "help_text": attribute.datatype_description,
    }
    choices = [(v["key"], v["name"]) for v in attribute.values]
    kind = attribute.datatype
    if kind == AttributeType.NUMBER:
        return forms.FloatField(
            widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}), **common
        )
    if kind == AttributeType.DATETIME:
        widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        return forms.DateTimeField(widget=widget, **common)
    if kind == AttributeType.TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, **common)
    if kind == AttributeType.SINGLE:
        return forms.ChoiceField(choices=[("", _("— choose —")), *choices], **common)
    if kind == AttributeType.MULTI:
        return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **common)
    return forms.CharField(max_length=200, **common)


def photo_field(label) -> forms.FileField:
    widget = forms.FileInput(attrs={"accept": "image/*", "capture": "environment"})
    return forms.FileField(label=label, required=False, widget=widget)


class ReportForm(forms.Form):
    """A new case: what, where (a community or grid chosen with the place picker), photos, details.

    ``areas`` are the places the reporter may choose; ``buildings`` (staff only) the buildings they
    may see. The category's own questions are added as ``attr_<code>`` fields.
    """

    category = CategoryChoiceField(Category.objects.none(), label=_("Category"))
    title = forms.CharField(
        label=_("Title"), max_length=100, help_text=_("In a few words, e.g. “路灯不亮” at the gate of 3号楼.")
    )
    description = forms.CharField(
        label=_("Description"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    area = forms.CharField(
        label=_("Place"),
        widget=forms.HiddenInput,
        error_messages={"required": _("Choose the community or grid where it happened.")},
    )
    building = forms.ModelChoiceField(
        Building.objects.none(), label=_("Building"), required=False, empty_label=_("— none —")
    )
    address = forms.CharField(label=_("Address or landmark"), max_length=200, required=False)
    lat = forms.FloatField(
        label=_("Latitude"),
        required=False,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    lng = forms.FloatField(
        label=_("Longitude"),
        required=False,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    photo_1 = photo_field(_("Photo 1"))
    photo_2 = photo_field(_("Photo 2"))
    photo_3 = photo_field(_("Photo 3"))

    def __init__(
        self,
        *args,
        categories: QuerySet[Category],
        areas: QuerySet[Area],
        buildings: QuerySet[Building] | None = None,
        contact: bool = False,
        contact_required: bool = False,
        category: Category | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.areas = areas
        self.fields["category"] = CategoryChoiceField(categories, label=_("Category"))
        if self.is_bound and category is None:
            category = find_category(categories, self.data.get("category"))
        self.chosen_category = category
        self.chosen_area = self._find_area(
            self.data.get("area") if self.is_bound else self.initial.get("area")
        )
        if buildings is None:
            del self.fields["building"]
        else:
            grid = self.chosen_area if self.chosen_area and self.chosen_area.level >= Level.GRID else None
            queryset = buildings.filter(in_subtree("area", grid.code[:15])) if grid else buildings.none()
            self.fields["building"].queryset = queryset.order_by("name", "id")
        if contact:
            self.fields["contact_name"] = forms.CharField(
                label=_("Name"), max_length=50, required=contact_required
            )
            self.fields["contact_phone"] = forms.CharField(
                label=_("Mobile phone"),
                max_length=20,
                required=contact_required,
                widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
            )
            self.fields["contact_email"] = forms.EmailField(label=_("Email"), required=False)
        for attribute in category.attributes.all() if category else ():
            self.fields[f"{ATTRIBUTE_PREFIX}{attribute.code}"] = attribute_field(attribute)

    def _find_area(self, code) -> Area | None:
        if not code or not isinstance(code, str) or not code.isdigit():
            return None
        return self.areas.filter(code=code).first()

    def wire(self, *, attributes_url: str, duplicates_url: str | None = None) -> None:
        """htmx: a new category reloads its questions; a new point reloads the duplicate suggestions."""
        self.fields["category"].widget.attrs.update(
            {
                "hx-get": attributes_url,
                "hx-target": "#attribute-fields",
                "hx-swap": "outerHTML",
                "hx-include": "[name=area], #id_lat, #id_lng",
                "hx-trigger": "change",
            }
        )
        if duplicates_url:
            for name in ("lat", "lng"):
                self.fields[name].widget.attrs.update(
                    {
                        "hx-get": duplicates_url,
                        "hx-target": "#duplicates",
                        "hx-swap": "outerHTML",
                        "hx-include": "#id_category, [name=area], #id_lat, #id_lng",
                        "hx-trigger": "change",
                    }
                )

    @property
    def has_buildings(self) -> bool:
        return "building" in self.fields and self.fields["building"].queryset.exists()

    @property
    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(ATTRIBUTE_PREFIX)]

    @property
    def photo_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in PHOTO_FIELDS]

    def clean_area(self) -> Area:
        area = self._find_area(self.cleaned_data["area"])
        if area is None or area.level < Level.COMMUNITY:
            raise ValidationError(_("Choose the community or grid where it happened."), code="area")
        return area

    def clean_contact_phone(self) -> str:
        value = self.cleaned_data.get("contact_phone", "")
        return normalise_phone(value) if value else ""

    def _clean_photo(self, name: str):
        upload = self.cleaned_data.get(name)
        if upload:
            actions.check_attachment(upload)
        return upload

    def clean_photo_1(self):
        return self._clean_photo("photo_1")

    def clean_photo_2(self):
        return self._clean_photo("photo_2")

    def clean_photo_3(self):
        return self._clean_photo("photo_3")

    def clean(self):
        data = super().clean()
        try:
            actions.check_location(data.get("lat"), data.get("lng"))
        except ValidationError as exc:
            if "lat" not in self.errors and "lng" not in self.errors:
                self.add_error("lat", exc)
        category = data.get("category")
        if category is not None and not any(f.name in self.errors for f in self.attribute_fields):
            try:
                data["attributes"] = actions.clean_attributes(category, self.raw_attributes())
            except ValidationError as exc:
                add_action_error(self, exc)
        return data

    def raw_attributes(self) -> dict[str, object]:
        raw: dict[str, object] = {}
        for name, value in self.cleaned_data.items():
            if not name.startswith(ATTRIBUTE_PREFIX) or value in (None, "", []):
                continue
            raw[name[len(ATTRIBUTE_PREFIX) :]] = value.isoformat() if hasattr(value, "isoformat") else value
        return raw

    def report_kwargs(self, channel: str) -> dict[str, object]:
        """Keyword arguments of :func:`actions.do_report`."""
        data = self.cleaned_data
        return {
            "category": data["category"],
            "area": data["area"],
            "title": data["title"],
            "description": data["description"],
            "channel": channel,
            "building": data.get("building"),
            "address": data.get("address", ""),
            "lat": data.get("lat"),
            "lng": data.get("lng"),
            "attributes": data.get("attributes", {}),
            "photos": [data[name] for name in PHOTO_FIELDS if data.get(name)],
            "contact_name": data.get("contact_name", ""),
            "contact_phone": data.get("contact_phone", ""),
            "contact_email": data.get("contact_email", ""),
        }

    @property
    def has_photos(self) -> bool:
        return bool(self.files) and any(self.files.get(name) for name in PHOTO_FIELDS)


class PublicReportForm(ReportForm):
    """The public form: contact details optional, and a field only robots fill in."""

    website = forms.CharField(label=_("Leave this empty"), required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("contact", True)
        super().__init__(*args, **kwargs)
        self.fields["title"].help_text = _("In a few words, e.g. “路灯不亮”.")

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise ValidationError(_("Leave this field empty."), code="robot")
        return ""


# --- the place picker ---------------------------------------------------------------------------


@dataclass
class PickerStep:
    """One select of the place picker: the children of ``parent`` (or the roots), one of them chosen."""

    label: str
    options: list[Area]
    chosen: str
    blank: str  # the value of “— choose —”: the parent's code, so choosing it goes back up


LEVEL_LABELS = {level.value: level.label for level in Level}


def place_steps(roots: list[Area], chosen: Area | None, deepest: int) -> tuple[list[Area], list[PickerStep]]:
    """The fixed part of the path (a single root and what is above the first choice) and the selects.

    A person picks one node per level from their scope's root down to ``deepest``; ``chosen`` is the
    node picked last (anywhere in the scope).
    """
    path: list[Area] = []
    fixed: list[Area] = []
    steps: list[PickerStep] = []
    if chosen is not None:
        root = next((r for r in roots if chosen.code.startswith(r.code)), None)
        if root is not None:
            codes = [
                chosen.code[:n]
                for n in sorted(LENGTH_BY_LEVEL.values())
                if len(root.code) <= n <= len(chosen.code)
            ]
            by_code = {a.code: a for a in Area.objects.filter(code__in=codes)}
            path = [by_code[c] for c in codes if c in by_code]
    if len(roots) == 1:
        fixed = [roots[0]]
        path = path or [roots[0]]
    else:
        steps.append(PickerStep(_("Area"), roots, path[0].code if path else "", ""))
    for index, node in enumerate(path):
        if node.level >= deepest:
            break
        children = list(node.children.order_by("code"))
        if not children:
            break
        following = path[index + 1].code if index + 1 < len(path) else ""
        steps.append(PickerStep(str(LEVEL_LABELS.get(node.level + 1, "")), children, following, node.code))
        if not following:
            break
    return fixed, steps


def picked_node(nodes: QuerySet[Area], form: ReportForm) -> Area | None:
    """The node last picked in the place picker (any level: a street on the way down, too)."""
    code = form.data.get("area") if form.is_bound else form.initial.get("area")
    return nodes.filter(code=code).first() if isinstance(code, str) and is_valid_code(code) else None


# --- the case list -------------------------------------------------------------------------------

MINE_CHOICES = [
    ("", _("All in my area")),
    ("holder", _("Held by my level")),
    ("units", _("Dispatched to my units")),
    ("reported", _("Reported by me")),
]
CLOCK_FILTERS = [("", _("Any")), (Clock.OVERDUE, _("Overdue")), (Clock.WARNING, _("Due soon"))]


class CaseFilterForm(forms.Form):
    """The allow-listed filters of the case list; an invalid value is ignored, never an error page."""

    q = forms.CharField(label=_("Number or title"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any")), *Status.choices])
    clock = forms.ChoiceField(label=_("Clock"), required=False, choices=CLOCK_FILTERS)
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int, empty_value=None)
    level = forms.TypedChoiceField(
        label=_("Level"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any")), *LEVEL_CHOICES],
    )
    mine = forms.ChoiceField(label=_("Whose"), required=False, choices=MINE_CHOICES)

    def __init__(self, *args, categories, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Any")), *grouped_categories(categories)[1:]]

    def filters(self) -> dict[str, object]:
        """The valid, non-empty filters (invalid ones are dropped)."""
        self.is_valid()
        return {
            name: value
            for name, value in getattr(self, "cleaned_data", {}).items()
            if value not in (None, "") and name not in self.errors
        }


# --- the case page -------------------------------------------------------------------------------


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Unit) -> str:
        return f"{obj.name} · {obj.area.display_name}"


def dispatch_units(case: Case) -> QuerySet[Unit]:
    """Active units that may take the case: at the holder, below it, or above it on its branch."""
    holder = case.holder_id
    return (
        Unit.objects.filter(active=True)
        .filter(Q(area_id__in=[*ancestor_codes(holder), holder]) | in_subtree("area", holder))
        .select_related("area")
        .order_by("area_id", "name")
    )


class TransitionForm(forms.Form):
    """One transition of one case, carrying the version the person saw."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, transition: Transition, case: Case, user, **kwargs):
        kwargs.setdefault("prefix", transition.action)
        kwargs.setdefault("initial", {"version": case.version})
        super().__init__(*args, **kwargs)
        self.transition, self.case, self.user = transition, case, user
        note = self.fields["note"]
        if transition.needs_note:
            note.required = True
            note.label = _("Result") if transition.action in ("resolve", "resolve_on_spot") else _("Reason")
        if transition.action == "dispatch":
            units = dispatch_units(case)
            self.fields["unit"] = UnitChoiceField(units, label=_("Unit"), empty_label=_("— choose —"))
            serving = set(units.filter(categories=case.category_id).values_list("pk", flat=True))
            self.fields["unit"].choices = self._unit_choices(units, serving)
        elif transition.action == "merge":
            self.fields["into"] = forms.CharField(
                label=_("Number of the case it duplicates"),
                max_length=20,
                help_text=_("e.g. SJ202605010000012"),
            )
        elif transition.action == "close":
            self.fields["satisfaction"] = forms.TypedChoiceField(
                label=_("Reporter's satisfaction"),
                required=False,
                coerce=int,
                empty_value=None,
                choices=SATISFACTION_CHOICES,
            )

    @staticmethod
    def _unit_choices(units: QuerySet[Unit], serving: set[int]) -> list:
        first = [(u.pk, f"{u.name} · {u.area.display_name}") for u in units if u.pk in serving]
        others = [(u.pk, f"{u.name} · {u.area.display_name}") for u in units if u.pk not in serving]
        choices: list = [("", _("— choose —"))]
        if first:
            choices.append((_("Handles this category"), first))
        if others:
            choices.append((_("Other units"), others))
        return choices

    def clean_into(self) -> Case:
        number = self.cleaned_data["into"].strip()
        into = Case.objects.visible_to(self.user).filter(number=number).exclude(pk=self.case.pk).first()
        if into is None:
            raise ValidationError(_("No other case with this number in your area."), code="into")
        return into

    def apply_kwargs(self) -> dict[str, object]:
        data = self.cleaned_data
        return {
            "version": data["version"],
            "note": data.get("note", ""),
            "unit": data.get("unit"),
            "into": data.get("into"),
            "satisfaction": data.get("satisfaction"),
        }


class PauseForm(forms.Form):
    note = forms.CharField(
        label=_("What are you waiting for?"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


def _in_days(days: int) -> dt.datetime:
    return (timezone.localtime() + dt.timedelta(days=days)).replace(second=0, microsecond=0)


class SuperviseForm(forms.Form):
    note = forms.CharField(label=_("Instruction"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    deadline = forms.DateTimeField(
        label=_("Deal with it by"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"deadline": _in_days(3)})
        super().__init__(*args, **kwargs)


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("Answer"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class TakeForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


# --- public tracking ----------------------------------------------------------------------------


class TrackForm(forms.Form):
    token = forms.CharField(
        label=_("Tracking code"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
    )


class RateForm(forms.Form):
    satisfaction = forms.TypedChoiceField(
        label=_("How satisfied are you with how it was handled?"),
        coerce=int,
        choices=SATISFACTION_CHOICES[1:],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- administration: categories and units -----------------------------------------------------------


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = [
            "code",
            "name",
            "name_en",
            "group",
            "description",
            "keywords",
            "handling_level",
            "limit_unit",
            "accept_hours",
            "dispatch_hours",
            "handle_limit",
            "verify_hours",
            "close_hours",
            "warn_share",
            "escalate_when_overdue",
            "is_public",
            "active",
            "order",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The code is the Open311 service_code clients already know.
            self.fields["code"].disabled = True
        # The same bounds as the database constraints, reported next to the field.
        self.fields["warn_share"].validators += [MinValueValidator(10), MaxValueValidator(100)]
        self.fields["warn_share"].widget.attrs.update({"min": 10, "max": 100})
        self.fields["handle_limit"].validators.append(MinValueValidator(1))
        self.fields["handle_limit"].widget.attrs["min"] = 1


class AttributeForm(forms.ModelForm):
    """One Open311 attribute; list values are typed one per line, as ``key = name`` or just ``name``."""

    values_text = forms.CharField(
        label=_("Values"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Lists only: one value per line, “key = name” or just the name."),
    )

    class Meta:
        model = CategoryAttribute
        fields = ["code", "description", "datatype", "datatype_description", "required", "order"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.values:
            self.fields["values_text"].initial = "\n".join(
                f"{v['key']} = {v['name']}" for v in self.instance.values
            )

    def clean(self):
        data = super().clean()
        values = []
        for index, line in enumerate((data.get("values_text") or "").splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            key, sep, name = line.partition("=")
            key, name = (key.strip(), name.strip()) if sep else (f"v{index}", line)
            if not key or not name:
                self.add_error("values_text", _("Line %(n)d needs a key and a name.") % {"n": index})
            values.append({"key": key, "name": name})
        if len({v["key"] for v in values}) != len(values):
            self.add_error("values_text", _("Keys must be different."))
        listed = data.get("datatype") in (AttributeType.SINGLE, AttributeType.MULTI)
        if listed and not values and not data.get("DELETE"):
            self.add_error("values_text", _("A list needs at least one value."))
        if not listed and values:
            self.add_error("values_text", _("Only lists have values."))
        self.instance.values = values
        return data


AttributeFormSet = forms.inlineformset_factory(
    Category, CategoryAttribute, form=AttributeForm, extra=1, can_delete=True
)


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        return "\u3000" * max(0, obj.level - Level.CITY) + f"{obj.display_name} ({obj.code})"


class UnitForm(forms.ModelForm):
    area = AreaChoiceField(
        Area.objects.none(), label=_("Level"), help_text=_("The node the unit belongs to.")
    )
    categories = forms.ModelMultipleChoiceField(
        Category.objects.filter(active=True),
        label=_("Categories it handles"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Unit
        fields = ["name", "area", "active", "categories"]

    def __init__(self, *args, areas: QuerySet[Area], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas
        if self.instance.pk:
            self.fields["area"].disabled = True


class UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.display_name} ({obj.username})"


class MembersForm(forms.Form):
    """Add a member by username (within the editor's scope), remove members by ticking them."""

    add = forms.CharField(label=_("Add a member (username)"), required=False, max_length=150)
    remove = UserChoiceField(
        User.objects.none(), label=_("Remove"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, unit: Unit, candidates: QuerySet[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = candidates
        self.fields["remove"].queryset = unit.members.order_by("username")

    def clean_add(self) -> User | None:
        username = self.cleaned_data["add"].strip()
        if not username:
            return None
        user = self.candidates.filter(username=username, is_active=True).first()
        if user is None:
            raise ValidationError(_("No active account “%(name)s” in your area.") % {"name": username})
        return user
