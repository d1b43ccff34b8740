"""The mediation agreement (人民调解协议书) as a printable PDF, and the same content for an HTML print view.

The document is a Chinese legal form, so its wording is Chinese whatever the interface language. Party
phones appear masked only. Fonts: reportlab's built-in CID font STSong-Light (no font file to ship;
PDF readers supply the glyphs), Helvetica for the number so it stays searchable as plain text.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from grassroots.areas.models import Area

from .models import Agreement

FONT = "STSong-Light"
ROLE_NAMES = {"applicant": "申请人", "respondent": "被申请人", "other": "其他当事人"}
TYPE_NAMES = {
    "family": "婚姻家庭纠纷",
    "neighbours": "邻里纠纷",
    "property": "物业纠纷",
    "wages": "劳动报酬纠纷",
    "land": "土地承包及合同纠纷",
    "debt": "债务纠纷",
    "damage": "损害赔偿纠纷",
    "other": "其他纠纷",
}

_registered = False


def _register_font() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True


def _date(value) -> str:
    local = timezone.localtime(value)
    return f"{local.year}年{local.month}月{local.day}日"


def agreement_context(agreement: Agreement) -> dict:
    """What the agreement says, for the PDF and the HTML print view alike."""
    dispute = agreement.dispute
    ordinal = dispute.agreements.filter(created_at__lte=agreement.created_at).count() or 1
    community = Area.objects.filter(code=dispute.area_id[:12]).first()
    committee = f"{community.display_name if community else ''}人民调解委员会"
    parties = [
        {"role": ROLE_NAMES.get(p.role, p.role), "name": p.name, "phone": p.phone_masked or "—"}
        for p in dispute.parties.order_by("id")
    ]
    mediators = []
    if dispute.mediator_id:
        mediators.append(dispute.mediator.display_name)
    for session in dispute.sessions.prefetch_related("mediators"):
        for person in session.mediators.all():
            if person.display_name not in mediators:
                mediators.append(person.display_name)
    return {
        "agreement": agreement,
        "dispute": dispute,
        "number": f"{dispute.number}-{ordinal}",
        "committee": committee,
        "kind": TYPE_NAMES.get(dispute.type, ""),
        "parties": parties,
        "mediators": "、".join(mediators),
        "date": _date(agreement.created_at),
        "signed": _date(agreement.signed_at) if agreement.signed_at else "",
        "copies": len(parties) + 1,
    }


class Stamp(Flowable):
    """A dashed circle where the committee's seal goes."""

    def __init__(self, size: float = 34 * mm):
        super().__init__()
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        canvas = self.canv
        radius = self.size / 2
        canvas.saveState()
        canvas.setStrokeColor(colors.HexColor("#b3261e"))
        canvas.setDash(3, 2)
        canvas.circle(radius, radius, radius - 1, stroke=1, fill=0)
        canvas.setFillColor(colors.HexColor("#b3261e"))
        canvas.setFont(FONT, 9)
        canvas.drawCentredString(radius, radius + 2, "（印章）")
        canvas.setFont(FONT, 7)
        canvas.drawCentredString(radius, radius - 10, "盖章处")
        canvas.restoreState()


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=11.5, leading=19, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle(
            "title", parent=base, fontSize=22, leading=30, alignment=TA_CENTER, spaceAfter=4
        ),
        "number": ParagraphStyle("number", parent=base, fontSize=10.5, alignment=TA_RIGHT, spaceAfter=10),
        "heading": ParagraphStyle(
            "heading", parent=base, fontSize=12, leading=20, spaceBefore=8, spaceAfter=2
        ),
        "body": ParagraphStyle("body", parent=base, firstLineIndent=23),
        "small": ParagraphStyle(
            "small", parent=base, fontSize=9.5, leading=14, textColor=colors.HexColor("#555555")
        ),
    }


def _paragraphs(value: str, style: ParagraphStyle) -> list[Paragraph]:
    """One paragraph per line, each indented like the lines of a written form."""
    return [Paragraph(escape(line.strip()), style) for line in (value or "").splitlines() if line.strip()]


def agreement_pdf(agreement: Agreement) -> bytes:
    """The agreement as PDF bytes (A4)."""
    _register_font()
    context = agreement_context(agreement)
    dispute = context["dispute"]
    styles = _styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=24 * mm,
        rightMargin=24 * mm,
        topMargin=22 * mm,
        bottomMargin=20 * mm,
        title=f"人民调解协议书 {context['number']}",
        subject=context["number"],
        author=context["committee"],
        creator="Grassroots",
        pageCompression=0,
    )
    story: list[Flowable] = [
        Paragraph("人民调解协议书", styles["title"]),
        Paragraph(f'编号：<font name="Helvetica">{escape(context["number"])}</font>', styles["number"]),
        Paragraph("当事人", styles["heading"]),
    ]
    rows = [["身份", "姓名", "联系电话"]] + [[p["role"], p["name"], p["phone"]] for p in context["parties"]]
    table = Table(rows, colWidths=[34 * mm, 60 * mm, 60 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 11),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story += [
        table,
        Paragraph("纠纷的主要事实、争议事项", styles["heading"]),
        Paragraph(f"{escape(context['kind'])}：{escape(dispute.title)}。", styles["body"]),
        *_paragraphs(dispute.description, styles["body"]),
        Paragraph("经人民调解委员会调解，双方当事人自愿达成如下协议", styles["heading"]),
        *_paragraphs(agreement.terms, styles["body"]),
        Paragraph("履行方式、时限", styles["heading"]),
        *(
            _paragraphs(agreement.performance, styles["body"])
            or [Paragraph("按上述协议内容履行。", styles["body"])]
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            "本协议经各方当事人签名（盖章或按指印）、人民调解员签名并加盖人民调解委员会印章后生效，"
            f"具有法律约束力，当事人应当按照约定履行。本协议书一式{context['copies']}份，"
            "当事人、人民调解委员会各持一份。",
            styles["body"],
        ),
        Spacer(1, 3 * mm),
    ]
    if context["mediators"]:
        story.append(Paragraph(f"主持调解的人民调解员：{escape(context['mediators'])}", styles["base"]))
    signatures = [[f"{p['role']}（签名）：", "", "日期：　　　年　　月　　日"] for p in context["parties"]]
    signatures.append(["人民调解员（签名）：", "", "日期：　　　年　　月　　日"])
    sign_table = Table(signatures, colWidths=[60 * mm, 40 * mm, 62 * mm], rowHeights=13 * mm, hAlign="LEFT")
    sign_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 11),
                ("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ]
        )
    )
    stamp = Table(
        [
            [
                Paragraph(f"{escape(context['committee'])}（盖章）<br/>{context['date']}", styles["base"]),
                Stamp(),
            ]
        ],
        colWidths=[110 * mm, 44 * mm],
        hAlign="RIGHT",
    )
    stamp.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (0, 0), "RIGHT")]))
    story += [KeepTogether([sign_table, Spacer(1, 6 * mm), stamp])]

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8.5)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawString(24 * mm, 12 * mm, f"{context['committee']}　人民调解协议书　{context['number']}")
        canvas.drawRightString(A4[0] - 24 * mm, 12 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
