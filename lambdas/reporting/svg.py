"""The loss-curve figure as inline SVG, in pure Python (the report function is a zip Lambda: no matplotlib).

It plots what the reference study plotted: the mean training loss and the mean validation loss of each epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from lambdas.lifecycle.metrics import EpochLoss

WIDTH = 640
HEIGHT = 360
MARGIN_LEFT = 64
MARGIN_RIGHT = 24
MARGIN_TOP = 48
MARGIN_BOTTOM = 56

MAX_TICKS = 50  # nice_step aims at 6; more means the values defeat the axis
TRAINING_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#d62728"
EMULATED_COLOUR = "#b45309"


@dataclass(frozen=True)
class _Series:
    label: str
    colour: str
    points: Sequence[EpochLoss]
    dashed: bool = False


def nice_step(span: float, target_ticks: int = 6) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``target_ticks`` ticks over ``span``."""
    raw = span / target_ticks
    if not (raw > 0 and math.isfinite(raw)):  # also a span so small that dividing it underflows to 0
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    if magnitude <= 0:
        return 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return 10.0 * magnitude


def loss_axis(losses: Sequence[float]) -> tuple[float, float, float] | None:
    """(bottom, top, tick step) of the loss axis, from 0 or below; None when the values cannot be drawn: NaN,
    infinite, or so large that the axis overflows or one step no longer moves a tick (report.json is editable)."""
    if not all(math.isfinite(loss) for loss in losses):
        return None
    top_raw = max(losses)
    bottom_raw = min(0.0, *losses)
    step = nice_step(top_raw - bottom_raw)
    try:
        bottom = math.floor(bottom_raw / step) * step
        top = math.ceil(top_raw / step) * step
    except OverflowError:
        return None
    if top <= bottom:
        top = bottom + step
    ticks = (top - bottom) / step
    if not (top > bottom and ticks <= MAX_TICKS):
        return None
    return bottom, top, step


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def loss_curve_svg(
    training: Sequence[EpochLoss],
    validation: Sequence[EpochLoss],
    *,
    emulated: bool = False,
    title: str = "Loss per epoch (mean of each epoch's steps)",
) -> str:
    """An SVG document (no XML declaration, ready to inline in HTML or save as .svg)."""
    series = [
        _Series("training loss", TRAINING_COLOUR, training),
        _Series("validation loss", VALIDATION_COLOUR, validation, dashed=True),
    ]
    if emulated:
        title = f"{title} - EMULATED"
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(title)} '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    all_points = [point for entry in series for point in entry.points]
    plot_left, plot_right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    plot_top, plot_bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    axis = loss_axis([point.mean_loss for point in all_points]) if all_points else None
    if axis is None:
        note = (
            "The loss values cannot be plotted (not finite, or far too large)."
            if all_points
            else "No loss metrics were recorded for this run."
        )
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#666">{note}</text>')
        out.extend(_emulated_stamp(emulated))
        out.append("</svg>")
        return "\n".join(out)

    epochs = sorted({point.epoch for point in all_points})
    x_min, x_max = epochs[0], epochs[-1]
    y_min, y_max, step = axis

    def x_of(epoch: float) -> float:
        if x_max == x_min:
            return (plot_left + plot_right) / 2
        return plot_left + (epoch - x_min) / (x_max - x_min) * (plot_right - plot_left)

    def y_of(loss: float) -> float:
        return plot_bottom - (loss - y_min) / (y_max - y_min) * (plot_bottom - plot_top)

    # grid and y ticks
    for index in range(round((y_max - y_min) / step) + 1):
        tick = y_min + index * step
        y = y_of(tick)
        out.append(f'<line x1="{plot_left}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{plot_left - 8}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    # x ticks: every epoch when there are few, otherwise about ten
    stride = max(1, math.ceil(len(epochs) / 10))
    for epoch in epochs[::stride]:
        x = x_of(epoch)
        out.append(f'<line x1="{x:.1f}" y1="{plot_bottom}" x2="{x:.1f}" y2="{plot_bottom + 5}" stroke="#374151"/>')
        out.append(f'<text x="{x:.1f}" y="{plot_bottom + 19}" text-anchor="middle">{epoch}</text>')
    # axes
    out.append(
        f'<polyline points="{plot_left},{plot_top} {plot_left},{plot_bottom} {plot_right},{plot_bottom}" '
        'fill="none" stroke="#374151"/>'
    )
    out.append(f'<text x="{(plot_left + plot_right) / 2}" y="{HEIGHT - 14}" text-anchor="middle">epoch</text>')
    out.append(
        f'<text x="16" y="{(plot_top + plot_bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(plot_top + plot_bottom) / 2})">loss</text>'
    )
    # series
    for entry in series:
        if not entry.points:
            continue
        coords = " ".join(f"{x_of(p.epoch):.1f},{y_of(p.mean_loss):.1f}" for p in entry.points)
        dash = ' stroke-dasharray="6 4"' if entry.dashed else ""
        out.append(f'<polyline points="{coords}" fill="none" stroke="{entry.colour}" stroke-width="2"{dash}/>')
        for p in entry.points:
            out.append(
                f'<circle cx="{x_of(p.epoch):.1f}" cy="{y_of(p.mean_loss):.1f}" r="3.5" fill="{entry.colour}">'
                f"<title>{escape(entry.label)}, epoch {p.epoch}: {p.mean_loss:.4f}</title></circle>"
            )
    # legend (top right, inside the plot)
    legend_x = plot_right - 150
    for row, entry in enumerate(item for item in series if item.points):
        y = plot_top + 12 + row * 18
        dash = ' stroke-dasharray="6 4"' if entry.dashed else ""
        out.append(
            f'<line x1="{legend_x}" y1="{y}" x2="{legend_x + 24}" y2="{y}" stroke="{entry.colour}" '
            f'stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{legend_x + 30}" y="{y + 4}">{escape(entry.label)}</text>')
    out.extend(_emulated_stamp(emulated))
    out.append("</svg>")
    return "\n".join(out)


def _emulated_stamp(emulated: bool) -> list[str]:
    if not emulated:
        return []
    return [
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="44" font-weight="bold" '
        f'fill="{EMULATED_COLOUR}" fill-opacity="0.18" transform="rotate(-18 {WIDTH / 2} {HEIGHT / 2})">'
        "EMULATED</text>",
        f'<text x="{WIDTH / 2}" y="39" text-anchor="middle" font-size="11" fill="{EMULATED_COLOUR}">'
        "EMULATED: figures from the local emulator, not from a real Bedrock job</text>",
    ]
