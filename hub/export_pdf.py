"""The human-readable half of a data export: one PDF, every heading in Chinese and English.

Rendered with fpdf2, which embeds (a subset of) a CJK TrueType font: the setting ``export_font_file`` when set,
else the first of ``FONT_CANDIDATES`` found (Debian: ``fonts-wqy-microhei``, ``fonts-wqy-zenhei``,
``fonts-noto-cjk``). Without one the archive has no PDF (its JSON says so), since the names and
addresses in it are Chinese and a PDF that cannot show them is worse than none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

# (Chinese, English) for every heading and label.
HEADINGS = {
    "title": ("个人数据副本", "Copy of my personal data"),
    "citizen": ("持卡人", "Cardholder"),
    "generated": ("生成时间", "Generated at"),
    "sections": ("各部门数据", "Data held by the agencies"),
    "source": ("来源", "Source"),
    "read_at": ("读取时间", "Read at"),
    "no_account": ("无账户", "No account"),
    "error": ("读取失败", "Could not be read"),
    "consents": ("授权记录", "Consents"),
    "history": ("变更历史", "History"),
    "access_log": ("访问记录", "Access log"),
    "proof": ("含包含证明", "with inclusion proof"),
    "no_proof": ("尚无证明", "no proof yet"),
}
SECTION_NAMES = {
    "social_security": ("社会保险", "Social security"),
    "transit": ("公共交通", "Transit"),
    "health": ("医疗健康", "Health"),
    "housing_fund": ("住房公积金", "Housing fund"),
    "library": ("图书馆", "Library"),
}


def font_file(configured: str = "") -> Path | None:
    for candidate in (configured, *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def render(document: dict[str, Any], font: Path | None) -> bytes | None:
    """The PDF of an export document; None without a CJK font (``font_file``)."""
    if font is None:
        document["pdf"] = "not included: no CJK font on the hub (docs/operations.md)"
        return None
    from fpdf import FPDF  # imported here: only the export worker needs it

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", fname=str(font), collection_font_number=0)  # the first face of a collection (.ttc)
    pdf.add_page()
    writer = _Writer(pdf)
    writer.heading(HEADINGS["title"], 16)
    citizen = document["citizen"]
    writer.line(HEADINGS["citizen"], f"{citizen['name']} ({citizen['card_number']})")
    writer.line(HEADINGS["generated"], document["generated_at"])
    writer.heading(HEADINGS["sections"], 13)
    for agency, section in document["sections"].items():
        writer.heading(SECTION_NAMES.get(agency, (agency, agency)), 11)
        writer.line(HEADINGS["source"], f"{section['source']} · {section['read_at']}")
        if "error" in section:
            writer.line(HEADINGS["error"], f"{section['error']['code']}: {section['error']['message']}")
        elif section.get("data") is None:
            writer.text(" / ".join(HEADINGS["no_account"]))
        else:
            writer.values(section["data"], 0)
    writer.heading(HEADINGS["consents"], 13)
    for c in document["consents"]:
        writer.text(f"{c['client_name']} · {c['status']} · {c['purpose']}")
        writer.text(f"  {' '.join(c['scopes']) or '-'} · {c['granted_at']} → {c['expires_at']}")
        for e in c["history"]:
            writer.text(f"    {e['at']} {e['action']} {' '.join(e['scopes'])}")
    writer.heading(HEADINGS["access_log"], 13)
    for entry in document["access_log"]:
        proven = " / ".join(HEADINGS["proof" if entry["proof"] else "no_proof"])
        writer.text(f"{entry['at']} {entry['client_id']} {','.join(entry['sections'])} {entry['outcome']} · {proven}")
    return bytes(pdf.output())


class _Writer:
    def __init__(self, pdf: Any) -> None:
        self.pdf = pdf

    def heading(self, names: Sequence[str], size: int) -> None:
        self.pdf.set_font("cjk", size=size)
        self.pdf.ln(2)
        self.text(" / ".join(names))
        self.pdf.set_font("cjk", size=9)

    def line(self, names: Sequence[str], value: str) -> None:
        self.text(f"{names[0]} {names[1]}: {value}")

    def text(self, value: str) -> None:
        self.pdf.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")

    def values(self, value: Any, depth: int) -> None:
        indent = "  " * depth
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list):
                    self.text(f"{indent}{key}:")
                    self.values(item, depth + 1)
                else:
                    self.text(f"{indent}{key}: {item}")
        elif isinstance(value, list):
            for position, item in enumerate(value, 1):
                self.text(f"{indent}#{position}")
                self.values(item, depth + 1)
        else:
            self.text(f"{indent}{value}")
