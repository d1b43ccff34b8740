from django.db import models
from django.utils.translation import gettext_lazy as _


class DisputeType(models.TextChoices):
    FAMILY = "family", _("Marriage and family")
    NEIGHBOURS = "neighbours", _("Neighbours")
    PROPERTY = "property", _("Property management")
    WAGES = "wages", _("Unpaid wages")
    LAND = "land", _("Land and contracts")
    DEBT = "debt", _("Debts")
    DAMAGE = "damage", _("Damage and injury")
    OTHER = "other", _("Other")


class Source(models.TextChoices):
    PATROL = "patrol", _("Grid patrol")
    CASE = "case", _("From a case")
    WALK_IN = "walk_in", _("Walk-in")
    HOTLINE = "hotline", _("Hotline")
    COURT = "court", _("Referred by a court")
    PETITION = "petition", _("Petition (信访)")


class Colour(models.TextChoices):
    """五色预警, most serious first."""

    RED = "red", _("Red")
    ORANGE = "orange", _("Orange")
    YELLOW = "yellow", _("Yellow")
    BLUE = "blue", _("Blue")
    GREEN = "green", _("Green")


COLOUR_ORDER = [Colour.RED, Colour.ORANGE, Colour.YELLOW, Colour.BLUE, Colour.GREEN]


def more_serious(colour: str, steps: int = 1) -> str:
    index = COLOUR_ORDER.index(Colour(colour))
    return COLOUR_ORDER[max(0, index - steps)]


def less_serious(colour: str, steps: int = 1) -> str:
    index = COLOUR_ORDER.index(Colour(colour))
    return COLOUR_ORDER[min(len(COLOUR_ORDER) - 1, index + steps)]


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    MEDIATING = "mediating", _("In mediation")
    AGREED = "agreed", _("Agreement reached")
    REFERRED = "referred", _("Referred on")
    SETTLED = "settled", _("Settled")
    CLOSED = "closed", _("Closed")


ACTIVE_STATUSES = frozenset({Status.OPEN, Status.MEDIATING, Status.AGREED, Status.REFERRED})


class Party(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")
    RESPONDENT = "respondent", _("Respondent")
    OTHER = "other", _("Other party")


class GradingReason(models.TextChoices):
    INITIAL = "initial", _("First grading")
    INCIDENT = "incident", _("New incident")
    MISSED_FOLLOW_UP = "missed_follow_up", _("Follow-up missed")
    STABLE = "stable", _("Stable period")
    REVIEW = "review", _("Review")


class ReferralKind(models.TextChoices):
    ARBITRATION = "arbitration", _("Arbitration")
    ADMINISTRATIVE = "administrative", _("Administrative ruling")
    LITIGATION = "litigation", _("Litigation")
    CONFIRMATION = "confirmation", _("Judicial confirmation of the agreement")


class ReferralOutcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONFIRMED = "confirmed", _("Agreement confirmed")
    AWARD = "award", _("Award or ruling made")
    JUDGMENT = "judgment", _("Judgment")
    SETTLED = "settled", _("Settled in court")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    DISMISSED = "dismissed", _("Dismissed")


class StationKind(models.TextChoices):
    DEPUTIES = "deputies", _("Deputies' liaison station")
    MEDIATION = "mediation", _("Mediation room")
    LEGAL = "legal", _("Legal service station")
