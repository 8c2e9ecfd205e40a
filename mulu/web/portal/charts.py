"""Charts as inline SVG, drawn on the server: no script, no build step, no internet."""

from __future__ import annotations

from html import escape


def bars(
    items: list[tuple[str, float]],
    *,
    width: int = 640,
    bar: int = 18,
    unit: str = "",
    label_width: int = 220,
) -> str:
    """Horizontal bars, largest first as given."""
    if not items:
        return ""
    top = max(v for _, v in items) or 1
    height = len(items) * (bar + 6) + 6
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    span = width - label_width - 60
    for i, (label, value) in enumerate(items):
        y = 6 + i * (bar + 6)
        w = max(1, round(span * value / top))
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar - 5}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar}" '
            f'class="bar"><title>{escape(label)}: {value:g}{unit}</title></rect>'
        )
        parts.append(f'<text x="{label_width + w + 4}" y="{y + bar - 5}">{value:g}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line(
    points: list[tuple[str, float]], *, width: int = 640, height: int = 200, unit: str = "%"
) -> str:
    """A line over labelled x points (e.g. months), y from 0 to 100."""
    if not points:
        return ""
    left, bottom, top_pad = 40, 30, 10
    span_x = (width - left - 20) / max(1, len(points) - 1)
    span_y = height - bottom - top_pad

    def y_of(v: float) -> float:
        return top_pad + span_y * (1 - max(0.0, min(100.0, v)) / 100)

    xy = [(left + i * span_x, y_of(v)) for i, (_, v) in enumerate(points)]
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{y_of(0)}" x2="{width - 10}" y2="{y_of(0)}" class="axis"/>',
        f'<text x="4" y="{y_of(100) + 4}">100{unit}</text>',
        f'<text x="4" y="{y_of(0)}">0{unit}</text>',
        '<polyline class="line" fill="none" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        + '"/>',
    ]
    for (label, value), (x, y) in zip(points, xy, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(label)}: '
            f"{value:g}{unit}</title></circle>"
        )
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
