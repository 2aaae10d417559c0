"""What the HTML pages share (`predict --format html`, `report`): escaping, entity marks in displaCy's look,
type colours, tables and the self-contained page shell.

Every piece of text that reaches a page goes through `esc` (words, types, run names, numbers), and the page's
Content-Security-Policy allows nothing from outside it (no network, no CDN): inline CSS, JS and SVG only.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import snekner

# displaCy's default colours for its labels, under the type names NER datasets use for the same things
DISPLACY_COLORS = {
    "PER": "#aa9cfc", "PERSON": "#aa9cfc", "ORG": "#7aecec", "LOC": "#ff9561", "GPE": "#feca74", "NORP": "#c887fb",
    "MISC": "#c887fb", "FAC": "#9cc9cc", "EVE": "#ffeb80", "EVENT": "#ffeb80", "TIME": "#bfe1d9", "DATE": "#bfe1d9",
    "MEDIA": "#f0d0ff", "WORK_OF_ART": "#f0d0ff", "PRODUCT": "#bfeeb7", "LAW": "#ff8197", "LANGUAGE": "#ff8197",
    "MONEY": "#e4e7d2", "QUANTITY": "#e4e7d2", "PERCENT": "#e4e7d2", "CARDINAL": "#e4e7d2", "ORDINAL": "#e4e7d2",
}
# for other types, in the order a page names them (light enough for dark text, distinct from the above)
PALETTE = ["#ffd1dc", "#b5ead7", "#c7ceea", "#ffdac1", "#e2f0cb", "#f6c6ea", "#a0e7e5", "#fbe7c6", "#d5aaff", "#b4f8c8",
           "#ffc8a2", "#cbe4f9", "#f3d1f4", "#d0f4de", "#fcf5c7"]
DEFAULT_COLOR = "#ddd"

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

BASE_CSS = """
body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 2rem auto;
       max-width: 1200px; padding: 0 1.5rem; font-size: 15px; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.meta, .note { color: #666; font-size: 0.9em; }
.entities { line-height: 2.5; direction: ltr; margin: 0.3rem 0 1rem; }
mark.entity { padding: 0.45em 0.6em; margin: 0 0.25em; line-height: 1; border-radius: 0.35em;
              box-decoration-break: clone; -webkit-box-decoration-break: clone; color: #222; }
mark.entity .label { font-size: 0.8em; font-weight: bold; line-height: 1; border-radius: 0.35em; vertical-align: middle;
                     margin-left: 0.5rem; }
table.data { border-collapse: collapse; margin: 0.5rem 0 1rem; font-variant-numeric: tabular-nums; }
table.data th, table.data td { border-bottom: 1px solid #e4e4e4; padding: 0.25rem 0.7rem; text-align: right; white-space: nowrap; }
table.data th { background: #f6f6f6; } table.data th:first-child, table.data td:first-child { text-align: left; }
table.data tr.total td { font-weight: bold; border-top: 2px solid #bbb; }
"""


@dataclass(frozen=True)
class Span:
    """A highlighted stretch of a text: characters [start, end), its entity type, and how it is shown."""

    start: int
    end: int
    type: str
    css_class: str = ""  # extra classes of the mark
    title: str = ""  # tooltip


def esc(value) -> str:
    """Any value as HTML text or attribute content (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def type_colors(types: list[str]) -> dict[str, str]:
    """A colour per type: displaCy's for the names it knows, then the palette in the order given."""
    colors, free = {}, [c for c in PALETTE]
    for typ in types:
        if typ in colors:
            continue
        known = DISPLACY_COLORS.get(typ.upper())
        colors[typ] = known or (free.pop(0) if free else DEFAULT_COLOR)
    return colors


def words_text(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Words joined by single spaces, and each word's character span in the result."""
    offsets, at = [], 0
    for word in words:
        offsets.append((at, at + len(word)))
        at += len(word) + 1
    return " ".join(words), offsets


def mark(inner_html: str, typ: str, color: str, css_class: str = "", title: str = "") -> str:
    """One entity in displaCy's look: its text on the type's colour, the type after it in small bold capitals."""
    classes = f"entity {css_class}".strip()
    tooltip = f' title="{esc(title)}"' if title else ""
    return (f'<mark class="{esc(classes)}" data-type="{esc(typ)}" style="background: {esc(color)}"{tooltip}>{inner_html}'
            f'<span class="label">{esc(typ)}</span></mark>')


def marked_text(text: str, spans: list[Span], colors: dict[str, str]) -> str:
    """`text` escaped, with each span marked; spans must not overlap (one entity set's chunks never do)."""
    out, at = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < at:
            raise ValueError(f"span {span} overlaps the one before")
        out.append(esc(text[at:span.start]))
        out.append(mark(esc(text[span.start:span.end]), span.type, colors.get(span.type, DEFAULT_COLOR), span.css_class, span.title))
        at = span.end
    out.append(esc(text[at:]))
    return f'<div class="entities">{"".join(out)}</div>'


def legend(counts: dict[str, int], colors: dict[str, str]) -> str:
    """The types as marks, each with how often it occurs."""
    return "".join(mark(esc(f"{n} entit{'ies' if n != 1 else 'y'}"), typ, colors.get(typ, DEFAULT_COLOR), "legend")
                   for typ, n in counts.items())


def table(headers: list[str], rows: list[list[str]], total_last: bool = False, css_class: str = "data") -> str:
    """A table of text cells (escaped); `total_last`: the last row is a total, shown in bold."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        total = ' class="total"' if total_last and i == len(rows) - 1 else ""
        body.append(f"<tr{total}>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    return f'<table class="{esc(css_class)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def page(title: str, body: str, css: str = "", script: str = "") -> str:
    """A whole HTML document that needs nothing outside itself (its CSP forbids loading anything)."""
    js = f"<script>\n{script}\n</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="snekner {esc(snekner.__version__)}">\n'
            f"<title>{esc(title)}</title>\n<style>{BASE_CSS}{css}</style>\n</head>\n<body>\n{body}\n{js}\n</body>\n</html>\n")
