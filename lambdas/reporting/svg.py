"""The loss-curve figure as inline SVG, in pure Python (the report function is a zip Lambda: no matplotlib).

Two views of the job's loss: every recorded step (training) and evaluation (validation) with the epoch boundaries
and the best validation point marked, and the mean of each epoch (what the reference study plotted).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from lambdas.lifecycle.metrics import EpochLoss, LossPoint

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
    points: Sequence[tuple[float, float]]  # (x, loss)
    dashed: bool = False
    markers: bool = True  # a dot on every point (epoch means); off for dense step-level series


@dataclass(frozen=True)
class Marker:
    """A vertical line across the plot at ``x`` (an epoch boundary, the best validation point) with a short label."""

    x: float
    label: str
    colour: str = "#9ca3af"
    dashed: bool = True


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
    best_epoch: int | None = None,
) -> str:
    """The epoch means as an SVG document (no XML declaration, ready to inline in HTML or save as .svg)."""
    markers = [Marker(best_epoch, f"best validation: epoch {best_epoch}", VALIDATION_COLOUR)] if best_epoch else []
    return line_chart(
        [
            _Series("training loss", TRAINING_COLOUR, [(p.epoch, p.mean_loss) for p in training]),
            _Series("validation loss", VALIDATION_COLOUR, [(p.epoch, p.mean_loss) for p in validation], dashed=True),
        ],
        title=title,
        x_label="epoch",
        integer_x=True,
        markers=markers,
        emulated=emulated,
    )


def step_loss_svg(
    training: Sequence[LossPoint],
    validation: Sequence[LossPoint],
    *,
    emulated: bool = False,
    best_step: int | None = None,
    title: str = "Loss per step (training) and per evaluation (validation)",
) -> str:
    """Every recorded step, with a dashed line where each epoch begins and the best validation point marked."""
    boundaries: list[Marker] = []
    seen: set[int] = set()
    for point in sorted(training, key=lambda p: p.step):
        if point.epoch not in seen:
            seen.add(point.epoch)
            if len(seen) > 1:  # the first epoch starts at the axis
                boundaries.append(Marker(point.step, f"epoch {point.epoch}"))
    if best_step is not None:
        boundaries.append(Marker(best_step, "best validation", VALIDATION_COLOUR, dashed=False))
    return line_chart(
        [
            _Series(
                "training loss", TRAINING_COLOUR, [(p.step, p.loss) for p in training], markers=len(training) <= 40
            ),
            _Series("validation loss", VALIDATION_COLOUR, [(p.step, p.loss) for p in validation], dashed=True),
        ],
        title=title,
        x_label="step",
        integer_x=True,
        markers=boundaries,
        emulated=emulated,
    )


def line_chart(
    series: Sequence[_Series],
    *,
    title: str,
    x_label: str,
    integer_x: bool,
    markers: Sequence[Marker] = (),
    emulated: bool = False,
) -> str:
    """A loss chart: one line per series over a shared x axis, vertical markers, a legend; scales to its box."""
    if emulated:
        title = f"{title} - EMULATED"
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(title)} '
        'font-family="Helvetica, Arial, sans-serif" font-size="12" style="max-width:100%;height:auto">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    all_points = [point for entry in series for point in entry.points]
    plot_left, plot_right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    plot_top, plot_bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    axis = loss_axis([loss for _, loss in all_points]) if all_points else None
    xs = [x for x, _ in all_points]
    if axis is None or not all(math.isfinite(x) for x in xs):
        note = (
            "The loss values cannot be plotted (not finite, or far too large)."
            if all_points
            else "No loss metrics were recorded for this run."
        )
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#666">{note}</text>')
        out.extend(_emulated_stamp(emulated))
        out.append("</svg>")
        return "\n".join(out)

    x_min, x_max = min(xs), max(xs)
    y_min, y_max, step = axis

    def x_of(x: float) -> float:
        if x_max == x_min:
            return (plot_left + plot_right) / 2
        return plot_left + (x - x_min) / (x_max - x_min) * (plot_right - plot_left)

    def y_of(loss: float) -> float:
        return plot_bottom - (loss - y_min) / (y_max - y_min) * (plot_bottom - plot_top)

    # grid and y ticks
    for index in range(round((y_max - y_min) / step) + 1):
        tick = y_min + index * step
        y = y_of(tick)
        out.append(f'<line x1="{plot_left}" y1="{y:.1f}" x2="{plot_right}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{plot_left - 8}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    # x ticks: every value when there are few, otherwise about ten round ones
    distinct = sorted(set(xs))
    if len(distinct) <= 10:
        ticks: Sequence[float] = distinct
    else:
        x_step = nice_step(x_max - x_min, 8)
        x_step = max(1.0, round(x_step)) if integer_x else x_step
        first = math.ceil(x_min / x_step) * x_step
        ticks = [first + i * x_step for i in range(int((x_max - first) / x_step) + 1)][:MAX_TICKS]
    for tick in ticks:
        x = x_of(tick)
        label = str(int(tick)) if integer_x else _fmt(tick)
        out.append(f'<line x1="{x:.1f}" y1="{plot_bottom}" x2="{x:.1f}" y2="{plot_bottom + 5}" stroke="#374151"/>')
        out.append(f'<text x="{x:.1f}" y="{plot_bottom + 19}" text-anchor="middle">{label}</text>')
    # axes
    out.append(
        f'<polyline points="{plot_left},{plot_top} {plot_left},{plot_bottom} {plot_right},{plot_bottom}" '
        'fill="none" stroke="#374151"/>'
    )
    out.append(f'<text x="{(plot_left + plot_right) / 2}" y="{HEIGHT - 14}" text-anchor="middle">{x_label}</text>')
    out.append(
        f'<text x="16" y="{(plot_top + plot_bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(plot_top + plot_bottom) / 2})">loss</text>'
    )
    # vertical markers (epoch boundaries, best validation point), labelled at the top of the plot
    for marker in markers:
        if not x_min <= marker.x <= x_max:
            continue
        x = x_of(marker.x)
        dash = ' stroke-dasharray="3 3"' if marker.dashed else ""
        out.append(
            f'<line x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{plot_bottom}" stroke="{marker.colour}"{dash}>'
            f"<title>{escape(marker.label)}</title></line>"
        )
        out.append(
            f'<text x="{x + 3:.1f}" y="{plot_top + 10}" font-size="10" fill="{marker.colour}">'
            f"{escape(marker.label)}</text>"
        )
    # series
    for entry in series:
        if not entry.points:
            continue
        coords = " ".join(f"{x_of(x):.1f},{y_of(loss):.1f}" for x, loss in entry.points)
        dash = ' stroke-dasharray="6 4"' if entry.dashed else ""
        out.append(f'<polyline points="{coords}" fill="none" stroke="{entry.colour}" stroke-width="2"{dash}/>')
        if entry.markers:
            for x, loss in entry.points:
                out.append(
                    f'<circle cx="{x_of(x):.1f}" cy="{y_of(loss):.1f}" r="3.5" fill="{entry.colour}">'
                    f"<title>{escape(entry.label)}, {x_label} {_fmt(x)}: {loss:.4f}</title></circle>"
                )
    # legend (top right, inside the plot)
    legend_x = plot_right - 150
    for row, entry in enumerate(item for item in series if item.points):
        y = plot_top + 24 + row * 18
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
