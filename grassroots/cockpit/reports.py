"""The evaluation report of a node (督导考评): which snapshot, whose scores, and the same report as an
Excel workbook or a PDF.

Views, the API and ``grassroots cockpit report`` all go through :func:`evaluation_report`, so a
download never holds more than the page shows. Cells that a spreadsheet would read as a formula
(starting with = + - @, or a tab or carriage return) are prefixed with a quote.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.choices import Role
from grassroots.areas.choices import Level
from grassroots.areas.codes import in_subtree
from grassroots.areas.models import Area

from .data import format_value
from .indicators import REGISTRY
from .models import Score, Snapshot

SCORED_LEVELS = (Level.STREET, Level.COMMUNITY)
BOTTOM_SHARE = 0.1
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_city_admin(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False) and user.grants.filter(role=Role.CITY_ADMIN).exists()
    )


def scored_level(node_level: int, asked: str | int | None = None) -> int:
    """Which level a node's evaluation page scores: its children if they are streets or communities,
    streets for the city and above, or the level asked for (4 or 5, below the node)."""
    if asked not in (None, ""):
        try:
            level = int(asked)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
        if level not in SCORED_LEVELS or level <= node_level:
            raise Http404
        return level
    if node_level + 1 in SCORED_LEVELS:
        return node_level + 1
    if node_level < Level.STREET:
        return Level.STREET
    raise Http404  # a community has no scored children


def choose_snapshot(period: str, level: int, *, include_draft: bool) -> Snapshot | None:
    """The published snapshot of the period at that level, or (for those who may see drafts) the draft
    of the active scheme when nothing is published yet — or when a draft is asked for."""
    snapshots = Snapshot.objects.filter(period=period, scheme__level=level).select_related("scheme")
    published = snapshots.filter(published_at__isnull=False).order_by("-published_at").first()
    if not include_draft:
        return published
    draft = snapshots.filter(published_at__isnull=True).order_by("-scheme__active", "-created_at").first()
    return draft or published


@dataclass
class Row:
    score: Score
    name: str
    parent_name: str
    bottom: bool

    @property
    def items(self) -> list[dict]:
        return explain(self.score.breakdown)


@dataclass
class EvaluationReport:
    node: Area
    period: str
    level: int
    snapshot: Snapshot | None
    rows: list[Row] = field(default_factory=list)

    @property
    def draft(self) -> bool:
        return self.snapshot is not None and self.snapshot.published_at is None

    @property
    def level_name(self) -> str:
        return str(Level(self.level).label)

    @property
    def items(self) -> list[dict]:
        """The scheme's items, with indicator names, for column headers."""
        if self.snapshot is None:
            return []
        return [
            {**item, "name": str(REGISTRY[item["indicator"]].name) if item["indicator"] in REGISTRY else ""}
            for item in self.snapshot.scheme.items
        ]


def explain(breakdown: list[dict]) -> list[dict]:
    """A score's items with names and values formatted; ``no_data`` when the item was left out."""
    items = []
    for item in breakdown:
        indicator = REGISTRY.get(item["indicator"])
        items.append(
            {
                **item,
                "name": str(indicator.name) if indicator else item["indicator"],
                "unit": indicator.unit if indicator else "",
                "direction": indicator.direction if indicator else "",
                "value_shown": format_value(indicator, item["value"]) if indicator else str(item["value"]),
                "target_shown": format_value(indicator, item["target"]) if indicator else str(item["target"]),
                "no_data": item["points"] is None,
            }
        )
    return items


def shows_draft(user, period: str, level: int, *, asked: bool) -> bool:
    """Drafts are for city administrators (and the operator's command): when asked for, or while
    nothing is published for the period."""
    if user is not None and not is_city_admin(user):
        return False
    return asked or choose_snapshot(period, level, include_draft=False) is None


def is_bottom(rank: int, siblings: int) -> bool:
    """The last tenth of a sibling group (at least the last one, in groups of three or more)."""
    if siblings < 3:
        return False
    return rank > siblings - max(1, round(siblings * BOTTOM_SHARE))


def evaluation_report(
    user, node: Area, period: str, *, level: int | str | None = None, draft: bool = False
) -> EvaluationReport:
    """The scores below ``node`` for the period. ``user`` None: the operator's command, unscoped.

    The caller fetched ``node`` through the user's scope; the scores are scoped again on their own.
    """
    scored = scored_level(node.level, level)
    include_draft = shows_draft(user, period, scored, asked=draft)
    snapshot = choose_snapshot(period, scored, include_draft=include_draft)
    report = EvaluationReport(node=node, period=period, level=scored, snapshot=snapshot)
    if snapshot is None:
        return report
    scores = Score.objects.filter(in_subtree("node", node.code), snapshot=snapshot).exclude(node_id=node.code)
    if user is not None:
        scores = scores.visible_to(user)
    scores = list(scores.select_related("node").order_by("parent", "rank"))
    parents = {
        area.code: area.display_name for area in Area.objects.filter(code__in={s.parent for s in scores})
    }
    report.rows = [
        Row(
            score=score,
            name=score.node.display_name,
            parent_name=parents.get(score.parent, score.parent),
            bottom=is_bottom(score.rank, score.siblings),
        )
        for score in scores
    ]
    return report


def node_score(user, node: Area, period: str, *, draft: bool = False) -> tuple[Snapshot | None, Score | None]:
    """The node's own score for the period (a street or community), with the snapshot it comes from."""
    if node.level not in SCORED_LEVELS:
        raise Http404
    include_draft = shows_draft(user, period, node.level, asked=draft)
    snapshot = choose_snapshot(period, node.level, include_draft=include_draft)
    if snapshot is None:
        return None, None
    scores = Score.objects.filter(snapshot=snapshot, node_id=node.code)
    if user is not None:
        scores = scores.visible_to(user)
    return snapshot, scores.first()


# --- spreadsheets ----------------------------------------------------------------------------------


def safe_cell(value):
    """A value for a spreadsheet cell: text that could run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _status(report: EvaluationReport) -> str:
    if report.snapshot is None:
        return _("No evaluation for this period")
    if report.draft:
        return _("DRAFT — not published")
    published = timezone.localtime(report.snapshot.published_at)
    return _("Published %(when)s") % {"when": f"{published:%Y-%m-%d %H:%M}"}


def _title(report: EvaluationReport) -> str:
    return _("Evaluation of %(level)s under %(node)s, %(period)s") % {
        "level": report.level_name,
        "node": report.node.display_name,
        "period": report.period,
    }


def _flag(flag: str) -> str:
    return {"red": _("Red flag"), "yellow": _("Yellow flag")}.get(flag, "")


def xlsx(report: EvaluationReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = _("Scores")[:31]
    bold = Font(bold=True)
    head = [
        (_title(report),),
        (_("Node"), f"{report.node.display_name} ({report.node.code})"),
        (_("Period"), report.period),
        (
            _("Scheme"),
            f"v{report.snapshot.scheme.version} {report.snapshot.scheme.name}" if report.snapshot else "",
        ),
        (_("Status"), _status(report)),
        (_("Exported"), f"{timezone.localtime():%Y-%m-%d %H:%M}"),
        (),
    ]
    for line in head:
        sheet.append([safe_cell(v) for v in line])
    sheet["A1"].font = Font(bold=True, size=14)
    items = report.items
    header = [
        _("Rank"),
        _("Among"),
        _("Code"),
        _("Name"),
        _("Parent"),
        _("Score"),
        _("Flag"),
        *[f"{item['name']} ({item['weight']})" for item in items],
    ]
    sheet.append([safe_cell(h) for h in header])
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    red = PatternFill("solid", fgColor="FFD7D5")
    yellow = PatternFill("solid", fgColor="FFF3C4")
    for row in report.rows:
        points = {item["indicator"]: item["points"] for item in row.score.breakdown}
        sheet.append(
            [
                row.score.rank,
                row.score.siblings,
                safe_cell(row.score.node_id),
                safe_cell(row.name),
                safe_cell(row.parent_name),
                row.score.score,
                safe_cell(_flag(row.score.flag)),
                *[points.get(item["indicator"]) for item in items],
            ]
        )
        fill = red if row.score.flag == "red" else yellow if row.score.flag == "yellow" else None
        if fill is not None:
            for cell in sheet[sheet.max_row]:
                cell.fill = fill
    for column, width in zip("ABCDEFG", (6, 6, 16, 24, 18, 8, 10), strict=True):
        sheet.column_dimensions[column].width = width

    detail = book.create_sheet(_("Breakdown")[:31])
    detail.append(
        [
            safe_cell(h)
            for h in (
                _("Code"),
                _("Name"),
                _("Indicator"),
                _("Indicator name"),
                _("Value"),
                _("Target"),
                _("Weight"),
                _("Points"),
                _("Note"),
            )
        ]
    )
    for cell in detail[1]:
        cell.font = bold
    for row in report.rows:
        for item in row.items:
            detail.append(
                [
                    safe_cell(row.score.node_id),
                    safe_cell(row.name),
                    safe_cell(item["indicator"]),
                    safe_cell(item["name"]),
                    item["value"],
                    item["target"],
                    item["weight"],
                    item["points"],
                    safe_cell(_("no data: left out, score scaled") if item["no_data"] else ""),
                ]
            )
            if item["unit"] == "rate":
                for column in ("E", "F"):
                    detail[f"{column}{detail.max_row}"].number_format = "0.0%"
    for column, width in zip("ABCDEFGHI", (16, 24, 26, 26, 10, 10, 8, 8, 28), strict=True):
        detail.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- PDF -------------------------------------------------------------------------------------------

_FONT = "STSong-Light"


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_FONT))
    return _FONT


def pdf(report: EvaluationReport) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _font()
    title_style = ParagraphStyle("title", fontName=font, fontSize=15, leading=20, spaceAfter=6)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=10)
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=15, spaceBefore=8, spaceAfter=4)

    def p(text: object, style=body) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape(str(text)), style)

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=_title(report),
        author="Grassroots",
    )
    story = [p(_title(report), title_style)]
    scheme = report.snapshot.scheme if report.snapshot else None
    facts = [
        (_("Node"), f"{report.node.display_name} ({report.node.code})"),
        (_("Period"), report.period),
        (_("Scheme"), f"v{scheme.version} {scheme.name}" if scheme else "—"),
        (_("Status"), _status(report)),
        (_("Exported"), f"{timezone.localtime():%Y-%m-%d %H:%M}"),
    ]
    story.append(Table([[p(k), p(v)] for k, v in facts], colWidths=[30 * mm, 150 * mm]))
    if scheme is not None:
        story.append(p(_("Indicators, weights and targets"), heading))
        rows = [[p(_("Indicator"), small), p(_("Weight"), small), p(_("Target"), small)]]
        for item in report.items:
            indicator = REGISTRY.get(item["indicator"])
            target = format_value(indicator, item["target"]) if indicator else item["target"]
            rows.append(
                [p(item["name"] or item["indicator"], small), p(item["weight"], small), p(target, small)]
            )
        table = Table(rows, colWidths=[110 * mm, 25 * mm, 30 * mm], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                ]
            )
        )
        story.append(table)
        flags = _("Red flag below %(red)s, yellow below %(yellow)s.") % {
            "red": f"{scheme.red_below:g}",
            "yellow": f"{scheme.yellow_below:g}",
        }
        story.append(p(flags, small))
    story.append(p(_("Scores"), heading))
    if not report.rows:
        story.append(p(_("No scores.")))
    else:
        rows = [[p(h, small) for h in (_("Rank"), _("Code"), _("Name"), _("Parent"), _("Score"), _("Flag"))]]
        style = [
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
        for index, row in enumerate(report.rows, start=1):
            rows.append(
                [
                    p(f"{row.score.rank}/{row.score.siblings}", small),
                    p(row.score.node_id, small),
                    p(row.name, small),
                    p(row.parent_name, small),
                    p(f"{row.score.score:.1f}", small),
                    p(_flag(row.score.flag), small),
                ]
            )
            if row.score.flag == "red":
                style.append(("BACKGROUND", (0, index), (-1, index), colors.HexColor("#ffd7d5")))
            elif row.score.flag == "yellow":
                style.append(("BACKGROUND", (0, index), (-1, index), colors.HexColor("#fff3c4")))
        table = Table(rows, colWidths=[16 * mm, 32 * mm, 50 * mm, 40 * mm, 16 * mm, 26 * mm], repeatRows=1)
        table.setStyle(TableStyle(style))
        story.append(table)
        story.append(p(_("Item by item"), heading))
        for row in report.rows:
            story.append(p(f"{row.name} ({row.score.node_id}) — {row.score.score:.1f}", body))
            lines = [
                [p(h, small) for h in (_("Indicator"), _("Value"), _("Target"), _("Weight"), _("Points"))]
            ]
            for item in row.items:
                lines.append(
                    [
                        p(item["name"], small),
                        p(_("no data") if item["no_data"] else item["value_shown"], small),
                        p(item["target_shown"], small),
                        p(item["weight"], small),
                        p("—" if item["points"] is None else f"{item['points']:g}", small),
                    ]
                )
            table = Table(lines, colWidths=[80 * mm, 25 * mm, 25 * mm, 20 * mm, 20 * mm])
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey)]))
            story.append(table)
            story.append(Spacer(1, 3 * mm))
    doc.build(story)
    return buffer.getvalue()


def filename(report: EvaluationReport, extension: str) -> str:
    return f"evaluation-{report.period}-{report.node.code}-L{report.level}.{extension}"
