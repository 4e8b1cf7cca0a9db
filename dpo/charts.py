"""Bar charts of the statistics, drawn on the server as inline SVG.

No script, no style attribute: the strict CSP stays. The shapes carry
presentation attributes (fill, font size), which the browser's style sheet
(static/css/statistics.css, by class) may refine and WeasyPrint reads as
they are, so the same markup serves the page, its print and the PDF.

A chart is an image for assistive technology (role="img", its <title>):
the same figures are in the table that follows it. The protection of small
numbers holds here too (dpo/statistics.py): a hidden cell has no bar (its
length would tell the number) and its label says "< 5" or "masked".
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from .statistics import Table

WIDTH = 760
LABEL_WIDTH = 330
VALUE_WIDTH = 80
BAR_AREA = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20
ROW = 26
BAR_HEIGHT = 16
TOP = 8
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
LABEL_CHARACTERS = 46
BAR_COLOUR = "#0b4f8a"
INK = "#1b1f24"
MUTED = "#4a5562"
AXIS = "#9aa6b2"


def _short(label: str) -> str:
    """A label cut to fit its column; the table beside the chart has it whole."""
    if len(label) <= LABEL_CHARACTERS:
        return label
    return label[: LABEL_CHARACTERS - 1].rstrip() + "…"


def bar_chart(table: Table, *, chart_id: str, skip_zeros: bool = False) -> SafeString:
    """A horizontal bar per cell of `table`, scaled to the largest shown count;
    without the zero cells if `skip_zeros` (a long list: the table has them)."""
    cells = [c for c in table.cells if c.count or not skip_zeros]
    shown = [c.count for c in cells if not c.hidden]
    top = max(shown, default=0)
    height = TOP * 2 + ROW * max(len(cells), 1)
    title_id = f"{chart_id}-title"
    title = gettext("Chart: %(title)s. The same figures are in the table below.") % {
        "title": table.title
    }
    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            'aria-labelledby="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
            'preserveAspectRatio="xMinYMin meet" font-family="{}" font-size="13">',
            title_id,
            WIDTH,
            height,
            WIDTH,
            height,
            FONT,
        ),
        format_html('<title id="{}">{}</title>', title_id, title),
        format_html(
            '<line class="chart-axis" x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" '
            'stroke="{colour}" stroke-width="1"/>',
            x=LABEL_WIDTH,
            top=TOP,
            bottom=height - TOP,
            colour=AXIS,
        ),
    ]
    for index, cell in enumerate(cells):
        y = TOP + index * ROW
        middle = y + ROW / 2
        parts.append(
            format_html(
                '<text class="chart-label" x="{}" y="{}" text-anchor="end" '
                'dominant-baseline="middle" fill="{}">{}</text>',
                LABEL_WIDTH - 8,
                f"{middle:g}",
                INK,
                _short(cell.label),
            )
        )
        length = 0.0
        if not cell.hidden and cell.count and top:
            length = max(BAR_AREA * cell.count / top, 2.0)
            parts.append(
                format_html(
                    '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                    LABEL_WIDTH + 1,
                    f"{y + (ROW - BAR_HEIGHT) / 2:g}",
                    f"{length:.1f}",
                    BAR_HEIGHT,
                    BAR_COLOUR,
                )
            )
        value_class = "chart-value chart-hidden" if cell.hidden else "chart-value"
        parts.append(
            format_html(
                '<text class="{}" x="{}" y="{}" dominant-baseline="middle" fill="{}">{}</text>',
                value_class,
                f"{LABEL_WIDTH + 8 + length:.1f}",
                f"{middle:g}",
                MUTED if cell.hidden else INK,
                cell.shown,
            )
        )
    parts.append(SafeString("</svg>"))
    # Every part was built by format_html, which escaped each value.
    return SafeString("".join(parts))
