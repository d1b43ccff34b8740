from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from grassroots.areas.codes import is_valid_code
from grassroots.areas.models import Area

from .choices import Role

username_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]{3,40}$", _("3 to 40 letters, digits, dots, dashes or underscores.")
)
phone_validator = RegexValidator(r"^1[3-9]\d{9}$", _("Enter an 11-digit mobile number."))


class AreaCodeField(forms.CharField):
    """A division code typed or picked by the user; resolves to an Area within the given queryset."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 18)
        super().__init__(*args, **kwargs)
        self.queryset = Area.objects.none()

    def clean(self, value):
        value = super().clean(value).strip()
        if not is_valid_code(value):
            raise forms.ValidationError(_("Enter a division code of 2 to 18 digits."), code="invalid")
        area = self.queryset.filter(code=value).first()
        if area is None:
            raise forms.ValidationError(_("No area with this code within your scope."), code="not_found")
        return area


class GrantForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    area = AreaCodeField(
        label=_("Area code"), help_text=_("The node the role is held at, e.g. 140302001001.")
    )

    def __init__(self, *args, areas=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas if areas is not None else Area.objects.none()


class UserCreateForm(GrantForm):
    username = forms.CharField(label=_("Username"), validators=[username_validator], max_length=40)
    full_name = forms.CharField(label=_("Full name"), max_length=60)
    phone = forms.CharField(label=_("Mobile phone"), validators=[phone_validator], required=False)
    password = forms.CharField(
        label=_("Initial password"),
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text=_("Leave empty to generate one; it is shown once."),
    )

    field_order = ["username", "full_name", "phone", "role", "area", "password"]

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if password:
            validate_password(password)
        return password


class UserUpdateForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=60)
    phone = forms.CharField(label=_("Mobile phone"), validators=[phone_validator], required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False)


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=60, help_text=_("What the token is for."))
