"""report.html as a person sees it: a real browser (Debian's chromium-headless-shell, driven by Playwright) loads the
report of a succeeded, a failed, a rejected and an aborted local run, and of a run compared with a champion (three
contestants), at desktop and phone widths.

`.ci/run` installs chromium-headless-shell with apt-get when it is missing and CI runs as root; elsewhere install it
the same way (`apt-get install -y chromium-headless-shell`) or these tests are skipped, saying why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuner.local.harness import Drop, LocalRun, RunRequest
from tuner.local.scenarios import Scenario

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium-headless-shell")
WIDTHS = (1280, 390)
RUNS = {
    "succeeded": (REPO / "dataset" / "sample_qa.jsonl", Scenario.NONE),
    "failed": (REPO / "dataset" / "sample_qa.jsonl", Scenario.JOB_FAILURE),
    "rejected": (REPO / "dataset" / "invalid_sample.jsonl", Scenario.NONE),
    "aborted": (REPO / "dataset" / "sample_qa.jsonl", Scenario.STOP),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for kind, (dataset, scenario) in RUNS.items():
        folder = tmp_path_factory.mktemp(kind)
        result = LocalRun(RunRequest(dataset=dataset, scenario=scenario, out_dir=folder)).run()
        assert result.report_status == kind.upper(), f"the {kind} run ended {result.report_status}"
        out[kind] = folder / "report.html"
    # A second run in the same account, compared with the first (promoted automatically) as the champion
    folder = tmp_path_factory.mktemp("challenger")
    sample = REPO / "dataset" / "sample_qa.jsonl"
    _, challenger = LocalRun(
        RunRequest(dataset=sample, then=(Drop(file=sample),), out_dir=folder, settings_overrides={"promotion": "auto"})
    ).run_all()
    assert challenger.report is not None
    assert challenger.report["evaluation"]["champion"] is not None, "the second run was not compared with a champion"
    out["challenger"] = challenger.out_dir / "report.html"
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium-headless-shell is not installed (apt-get install -y chromium-headless-shell)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def open_report(browser: Any, path: Path, width: int) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 800})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", [*RUNS, "challenger"])
def test_every_report_loads_cleanly_without_network_or_horizontal_overflow(
    browser: Any, reports: dict[str, Path], kind: str, width: int
) -> None:
    page, errors, requests = open_report(browser, reports[kind], width)
    try:
        # no console error, no request beyond the file itself (the page is self-contained)
        assert errors == []
        assert requests == [reports[kind].as_uri()]
        # nothing wider than the viewport: wide tables scroll inside their own box
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{kind} at {width}px overflows by {overflow}px"
        status = "SUCCEEDED" if kind == "challenger" else kind.upper()
        assert status in page.inner_text("h1")
    finally:
        page.close()


def test_the_verdict_is_visible_without_scrolling_on_a_desktop(browser: Any, reports: dict[str, Path]) -> None:
    page, _, _ = open_report(browser, reports["succeeded"], 1280)
    try:
        box = page.locator("#verdict").bounding_box()
        assert box is not None
        assert box["y"] + 60 < 800  # the verdict's heading and sentence are above the fold
        assert page.locator("#verdict .verdict").inner_text() in {
            "improved",
            "regressed",
            "no clear difference",
            "inconclusive",
        }
    finally:
        page.close()


def test_sorting_by_delta_and_filtering_to_regressions_work(browser: Any, reports: dict[str, Path]) -> None:
    page, errors, _ = open_report(browser, reports["succeeded"], 1280)
    try:

        def judge_deltas() -> list[float]:
            values = page.eval_on_selector_all(
                "#questions tbody tr:not([hidden]) td:nth-child(5)", "cells => cells.map(c => c.dataset.v)"
            )
            return [float(v) for v in values if v != ""]

        header = page.locator('#questions th[data-sort="judge"]')
        header.click()
        ascending = judge_deltas()
        assert ascending == sorted(ascending)
        assert len(ascending) > 1
        header.click()
        assert judge_deltas() == sorted(ascending, reverse=True)
        # only regressions: every visible row is one where the fine-tuned model did worse
        page.check("#only-regressions")
        flags = page.eval_on_selector_all(
            "#questions tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.regressed)"
        )
        assert set(flags) <= {"1"}
        total = page.eval_on_selector_all("#questions tbody tr", "rows => rows.length")
        assert len(flags) < total
        assert errors == []
    finally:
        page.close()


def test_an_aborted_run_says_where_it_stopped_and_what_was_deleted(reports: dict[str, Path]) -> None:
    text = reports["aborted"].read_text()
    assert "ABORTED" in text
    assert "was stopped in" in text
    assert "The cleanup deleted custom-model-deployment" in text


def test_local_artefacts_are_relative_links_that_exist(reports: dict[str, Path]) -> None:
    import re

    html = reports["succeeded"].read_text()
    links = [href for href in re.findall(r'href="([^"]+)"', html) if "://" not in href]
    assert {"report.json", "execution.json", "ledger.json", "lambda-logs.jsonl"} <= set(links)
    for href in links:
        assert (reports["succeeded"].parent / href).is_file(), f"{href} does not exist beside report.html"


def test_a_challenger_shows_three_contestants_and_the_promotion_decision(
    browser: Any, reports: dict[str, Path]
) -> None:
    page, errors, _ = open_report(browser, reports["challenger"], 390)
    try:
        text = page.inner_text("body")
        assert "Evaluation: base vs fine-tuned vs champion" in text
        assert "champion (run " in text
        assert page.locator("#serving").is_visible()
        assert "Promotion (auto):" in text
        assert errors == []
    finally:
        page.close()
