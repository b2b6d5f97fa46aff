"""Markdown and HTML renderings: contents, escaping, the EMULATED banner, and the loss plot."""

from __future__ import annotations

import re
import signal
import xml.etree.ElementTree as ET

import pytest

from lambdas.contracts import RunState
from lambdas.lifecycle.metrics import EpochLoss, LossPoint, TrainingMetrics, parse_loss_csv
from lambdas.reporting.build import build_report
from lambdas.reporting.loss import diagnose
from lambdas.reporting.render import render_html, render_markdown
from lambdas.reporting.svg import loss_curve_svg, nice_step, step_loss_svg
from tests.unit.reporting.reporting_states import T0, evaluation_result, run_config, succeeded_state, validated


def metrics_from(reference_run) -> TrainingMetrics:
    return TrainingMetrics.from_series(
        parse_loss_csv((reference_run / "step_wise_training_metrics.csv").read_text()),
        parse_loss_csv((reference_run / "validation_metrics.csv").read_text()),
    )


@pytest.fixture
def report():
    return build_report(succeeded_state(), now=T0, evaluation=evaluation_result())


def test_html_escapes_every_user_and_model_text(report):
    page = render_html(report)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "What is &lt;b&gt;Bedrock&lt;/b&gt; &amp; why?" in page
    assert "<b>Bedrock</b>" not in page


def test_html_is_self_contained_with_the_study_style_table(report):
    page = render_html(report)
    for external in ("<link", "src=", "http://", "https://"):
        assert external not in page
    # the one script is inline (sorting and filtering the question table); the page reads fine without it
    assert re.findall(r"<script[^>]*>", page) == ["<script>"]
    assert "<style>" in page
    # aggregate table: judge mean and BERTScore P/R/F1, fine-tuned and base side by side
    assert re.search(
        r"<th>fine-tuned</th><td class=\"num\">8\.0</td><td class=\"num\">0\.75 / 0\.70 / 0\.72</td>", page
    )
    assert re.search(r"<th>base</th><td class=\"num\">3\.0</td><td class=\"num\">0\.60 / 0\.70 / 0\.65</td>", page)
    assert "all-MiniLM-L6-v2" in page
    assert "(no answer: ValidationException: too long)" in page
    assert "judge unscored" in page
    assert "estimated cost $132.00" in page
    assert "EMULATED" not in page


def test_markdown_tables_survive_pipes_newlines_and_html(report):
    text = render_markdown(report)
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert "A managed service \\| for FMs." in row
    assert "A fully managed service for foundation models." in row
    assert "&lt;script&gt;" in row
    assert row.count(" | ") == 9  # ten cells (three of them deltas), none broken by the answer text
    assert "| fine-tuned | 8.0 | 0.75 / 0.70 / 0.72 | 2 of 2 |" in text
    assert "BERTScore model: `all-MiniLM-L6-v2` (6 layers)" in text
    assert "lived 0 h 30 min" in text or "lived 30 min 00 s" in text


def test_emulated_runs_carry_a_banner_and_every_figure_is_labelled(reference_run):
    report = build_report(
        succeeded_state(emulated=True),
        now=T0,
        evaluation=evaluation_result(),
        training_metrics=metrics_from(reference_run),
    )
    page = render_html(report)
    assert 'class="emulated"' in page
    assert '<h2>Loss <span class="label-emulated">(EMULATED)</span></h2>' in page
    assert "(validation) - EMULATED" in page  # the step-level chart's title
    assert 'Evaluation: base vs fine-tuned <span class="label-emulated">(EMULATED)</span>' in page
    assert "Loss per epoch (mean of each epoch&#x27;s steps) - EMULATED" in page or "steps) - EMULATED" in page
    markdown = render_markdown(report)
    assert markdown.splitlines()[2].startswith("> **EMULATED:")
    assert "## Loss per epoch (EMULATED)" in markdown


def test_rejected_report_lists_problems_with_lines():
    report = build_report(RunState(run=run_config(), validate_dataset=validated(valid=False)), now=T0)
    text = render_markdown(report)
    assert "REJECTED" in text.splitlines()[0]
    assert '- line 4: `role_order` message 1 must have role "user"' in text
    page = render_html(report)
    assert "<td class='num'>17</td><td><code>empty_content</code>" in page


def test_loss_svg_is_valid_xml_with_one_point_per_epoch(reference_run):
    metrics = metrics_from(reference_run)
    svg = loss_curve_svg(metrics.training_epoch_means, metrics.validation_epoch_means)
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    circles = root.findall("s:circle", ns)
    assert len(circles) == 14  # 7 epochs x (training, validation)
    polylines = [p for p in root.findall("s:polyline", ns) if p.get("stroke") != "#374151"]
    assert len(polylines) == 2
    first_training_point = polylines[0].get("points").split()[0]
    assert first_training_point.startswith("64.0,")  # epoch 1 sits on the y axis
    texts = [t.text for t in root.findall("s:text", ns)]
    assert {"training loss", "validation loss", "epoch"} <= set(texts)


def test_loss_svg_without_points_says_so_and_escapes_its_title():
    svg = loss_curve_svg([], [], title="a < b")
    assert "No loss metrics were recorded" in svg
    ET.fromstring(svg)
    single = loss_curve_svg([EpochLoss(epoch=1, mean_loss=0.5, points=1)], [])
    ET.fromstring(single)


@pytest.mark.parametrize(
    "losses",
    [[float("nan")], [float("inf")], [1e308, -1e308], [-1e16]],
    ids=["nan", "infinite", "overflowing-span", "step-absorbed"],
)
def test_loss_svg_of_values_it_cannot_draw_says_so(losses):
    # Given losses from a hand-edited report.json: NaN and infinity raised; the last two looped forever
    points = [EpochLoss(epoch=epoch, mean_loss=loss, points=1) for epoch, loss in enumerate(losses, start=1)]
    signal.signal(signal.SIGALRM, _took_too_long)
    signal.alarm(10)
    try:
        svg = loss_curve_svg(points, [])
    finally:
        signal.alarm(0)
    assert "The loss values cannot be plotted" in svg
    ET.fromstring(svg)


def _took_too_long(signum: int, frame: object) -> None:
    raise TimeoutError("loss_curve_svg did not return")


@pytest.mark.parametrize(("span", "step"), [(3.0, 0.5), (0.3, 0.05), (12, 2), (0, 1.0)])
def test_nice_steps(span, step):
    assert nice_step(span) == pytest.approx(step)


def _points(losses: list[float], *, per_epoch: int = 1) -> list[LossPoint]:
    return [LossPoint(step=(i + 1) * 10, epoch=i // per_epoch + 1, loss=loss) for i, loss in enumerate(losses)]


def test_validation_loss_rising_twice_while_training_falls_is_flagged_as_overfitting():
    # Given validation losses that bottom out at epoch 2 and then rise twice, while training keeps falling
    training = _points([2.0, 1.5, 1.0, 0.6, 0.3])
    validation = _points([1.2, 0.9, 1.0, 1.1, 1.3])
    diagnosis = diagnose(training, validation)
    # Then the best epoch is 2, and the overfitting sentence says where and why
    assert (diagnosis.best_validation_epoch, diagnosis.best_validation_step) == (2, 20)
    assert diagnosis.overfitting is not None
    assert "began to overfit" in diagnosis.overfitting
    assert "epoch 2" in diagnosis.overfitting


@pytest.mark.parametrize(
    ("training", "validation"),
    [
        ([2.0, 1.5, 1.0, 0.6], [1.2, 0.9, 1.0, 0.95]),  # one rise is noise, not a trend
        ([2.0, 1.5, 1.6, 1.7], [1.2, 0.9, 1.0, 1.1]),  # both rising: not overfitting (training diverges too)
    ],
    ids=["one-rise", "training-rises-too"],
)
def test_no_overfitting_flag_without_the_pattern(training, validation):
    assert diagnose(_points(training), _points(validation)).overfitting is None


def test_step_chart_marks_each_epoch_boundary_and_the_best_validation_point():
    training = _points([2.0, 1.8, 1.5, 1.2, 1.0, 0.9], per_epoch=2)  # 3 epochs of 2 steps
    svg = step_loss_svg(training, _points([1.1, 1.0, 1.05], per_epoch=1), best_step=20)
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    labels = [t.text for t in root.findall("s:text", ns)]
    assert "epoch 2" in labels
    assert "epoch 3" in labels
    assert "epoch 1" not in labels  # the first epoch starts at the axis
    assert "best validation" in labels
