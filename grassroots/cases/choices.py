from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    REPORTED = "reported", _("Reported")
    ACCEPTED = "accepted", _("Accepted")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    MERGED = "merged", _("Merged into another case")


OPEN_STATUSES = frozenset(
    {
        Status.REPORTED,
        Status.ACCEPTED,
        Status.DISPATCHED,
        Status.IN_PROGRESS,
        Status.RESOLVED,
        Status.VERIFIED,
    }
)
FINAL_STATUSES = frozenset({Status.CLOSED, Status.REJECTED, Status.MERGED})


class Step(models.TextChoices):
    """The clocked steps; each category sets a time limit for each."""

    ACCEPT = "accept", _("Accept")
    DISPATCH = "dispatch", _("Dispatch")
    HANDLE = "handle", _("Handle")
    VERIFY = "verify", _("Verify")
    CLOSE = "close", _("Close")


# Which step's clock runs in each open status.
STEP_OF_STATUS = {
    Status.REPORTED: Step.ACCEPT,
    Status.ACCEPTED: Step.DISPATCH,
    Status.DISPATCHED: Step.HANDLE,
    Status.IN_PROGRESS: Step.HANDLE,
    Status.RESOLVED: Step.VERIFY,
    Status.VERIFIED: Step.CLOSE,
}


class Clock(models.TextChoices):
    ON_TIME = "on_time", _("On time")
    WARNING = "warning", _("Due soon")
    OVERDUE = "overdue", _("Overdue")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("Stopped")


class Channel(models.TextChoices):
    STAFF = "staff", _("Staff report")
    PUBLIC = "public", _("Public report")
    HOTLINE = "hotline", _("Hotline")
    OPEN311 = "open311", _("Open311 client")


class LimitUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("working hours")
    WORKING_DAYS = "working_days", _("working days")


class AttributeType(models.TextChoices):
    """Open311 GeoReport v2 attribute datatypes."""

    STRING = "string", _("Short text")
    NUMBER = "number", _("Number")
    DATETIME = "datetime", _("Date and time")
    TEXT = "text", _("Long text")
    SINGLE = "singlevaluelist", _("One of a list")
    MULTI = "multivaluelist", _("Several of a list")


class SupervisionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    LATE = "late", _("Late")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")


class NoticeKind(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned to you")
    WARNING = "warning", _("Due soon")
    OVERDUE = "overdue", _("Overdue")
    ESCALATED = "escalated", _("Escalated to your level")
    SUPERVISION = "supervision", _("Supervision order")
    RESOLVED = "resolved", _("Waiting for verification")
    RETURNED = "returned", _("Sent back")
