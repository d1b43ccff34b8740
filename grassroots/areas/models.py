from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.scope import ScopedQuerySet

from . import codes
from .choices import Kind, Level, Source

models.CharField.register_lookup(Length)


class AreaQuerySet(ScopedQuerySet):
    scope_field = "code"

    def at_level(self, level: int) -> AreaQuerySet:
        return self.filter(level=level)


def _code_matches_level() -> Q:
    q = Q()
    for level, length in codes.LENGTH_BY_LEVEL.items():
        q |= Q(level=level, code__length=length)
    return q


class Area(models.Model):
    """A node of the one administrative tree, keyed by its national division code.

    The code is the primary key, so foreign keys to an area hold its code, and every object below
    the tree can be scoped or rolled up by a range on that key (see :mod:`grassroots.areas.codes`).
    """

    code = models.CharField(_("code"), primary_key=True, max_length=codes.MAX_LENGTH)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    number = models.PositiveIntegerField(
        _("number"),
        null=True,
        blank=True,
        help_text=_("Sequence number of a grid or micro-grid within its parent."),
    )
    households_estimate = models.PositiveIntegerField(
        _("planned households"),
        null=True,
        blank=True,
        help_text=_(
            "Planning figure used to divide communities into grids, until the registry has real counts."
        ),
    )
    boundary = models.JSONField(_("boundary"), null=True, blank=True, help_text=_("GeoJSON geometry."))
    center_lng = models.FloatField(_("centre longitude"), null=True, blank=True)
    center_lat = models.FloatField(_("centre latitude"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANUAL)

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"], name="area_level_code")]
        constraints = [
            models.CheckConstraint(condition=_code_matches_level(), name="area_code_length_matches_level"),
            models.CheckConstraint(
                condition=Q(level=Level.PROVINCE, parent__isnull=True)
                | Q(level__gt=Level.PROVINCE, parent__isnull=False),
                name="area_parent_below_province",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name as people say it: 油娄沟社区 rather than 油娄沟社区居委会."""
        for suffix in ("居民委员会", "村民委员会", "居委会", "村委会"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix):
                stripped = self.name[: -len(suffix)]
                return (
                    stripped
                    if stripped.endswith(("社区", "村", "居"))
                    else stripped + ("村" if "村" in suffix else "")
                )
        return self.name

    @property
    def is_grid(self) -> bool:
        return self.level in (Level.GRID, Level.MICROGRID)

    def ancestor_codes(self) -> list[str]:
        return codes.ancestor_codes(self.code)
