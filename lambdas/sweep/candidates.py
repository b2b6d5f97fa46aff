"""The ``sweep`` setting and the candidates it makes: which hyperparameters each training job of a sweep takes.

A sweep names hyperparameters to vary, each either a **list** (a grid axis: every value is tried) or a **range**
(``{"min", "max", "scale": "linear" | "log", "integer"}``: ``count`` values are drawn at random)::

    {"hyperparameters": {"epochCount": [1, 2, 5], "learningRate": {"min": 1e-6, "max": 1e-4, "scale": "log"}},
     "count": 2, "seed": 0}

How the candidates are made, in order:

1. **Grid.** The cartesian product of the list axes, in the order the axes are written (the first axis varies
   slowest); a value written twice in one list is tried once.
2. **Random draws.** With any range, ``count`` draws from a generator seeded with ``seed`` (default 0), each draw
   taking one value from every range in the order the ranges are written: linear scale uniformly between min and
   max, log scale uniformly in log(min)..log(max). An ``integer`` range draws whole numbers (linear: each equally
   likely; log: the draw rounded); other values are rounded to 3 significant digits (``1.23e-05``), so labels read
   well and nothing is claimed to a precision training cannot feel. Draws that repeat an earlier draw are dropped,
   so a narrow integer range may give fewer than ``count``.
3. **Both.** Grid and draws combine by product: every grid point is tried with every draw (``count`` draws x the
   grid's points), so each grid value is compared with the same random values of the other axes.
4. The same settings (and seed) always give the same candidates, numbered ``c01``, ``c02``, ... in that order.
5. More candidates than ``max_candidates`` (default 8, at most 50) is an error naming how many there are and why;
   the list is never cut short, so the user always knows which candidates run.
6. **Every candidate is checked before anything starts**, with the check the customization job makes before it is
   paid for (``lambdas.lifecycle.customization``: a hyperparameter the model takes, a finite value in the model's
   range, a whole number where the model wants one). One error lists every problem, each naming the candidate, its
   hyperparameters and the parameter at fault. A range is also checked at its ends (a draw that happens to land
   inside a range reaching outside the model's is not taken as luck), and a range for a parameter the model takes
   as a whole number must say ``"integer": true``.

Each candidate's hyperparameters are the run's own (registry defaults overlaid with ``hyperparameters``) overlaid
with the swept values, as the strings ``CreateModelCustomizationJob`` takes.

``max_concurrency`` is how many of the sweep's jobs may train at once (the Map state's ``MaxConcurrency``):
``max_concurrent_jobs`` when set, else the account's concurrent-customization-job quota as Preflight read it, else
2; never more than that quota when it is known (Bedrock would refuse the jobs beyond it), and never 0 (which Step
Functions reads as "no limit").
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lambdas.registry import HyperparameterKind, ModelSpec, UnknownHyperparameterError

DEFAULT_MAX_CANDIDATES = 8
MAX_CANDIDATES_LIMIT = 50
DEFAULT_MAX_CONCURRENT_JOBS = 2  # when neither the setting nor the account's quota is known
SIGNIFICANT_DIGITS = 3  # random draws of a non-integer range


class SweepError(ValueError):
    """The sweep cannot run as written: too many candidates, or a candidate outside the model's ranges."""


class _Strict(BaseModel):
    # JSON settings can spell NaN and Infinity (or 1e999); no sweep setting means either.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RangeSpec(_Strict):
    """A range to draw ``count`` values from (see the module docstring)."""

    min: float
    max: float
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False

    @model_validator(mode="after")
    def _drawable(self) -> RangeSpec:
        if self.min > self.max:
            raise ValueError(f"range min {self.min:g} is above its max {self.max:g}")
        if self.scale == "log" and self.min <= 0:
            raise ValueError(f"a log-scale range needs min > 0, not {self.min:g}")
        if self.integer and math.ceil(self.min) > math.floor(self.max):
            raise ValueError(f"no whole number lies in the integer range {self.min:g}..{self.max:g}")
        return self

    @property
    def low(self) -> float:
        return float(math.ceil(self.min)) if self.integer else self.min

    @property
    def high(self) -> float:
        return float(math.floor(self.max)) if self.integer else self.max

    def draw(self, rng: random.Random) -> float:
        if self.integer and self.scale == "linear":
            return float(rng.randint(int(self.low), int(self.high)))
        if self.scale == "log":
            value = math.exp(rng.uniform(math.log(self.min), math.log(self.max)))
        else:
            value = rng.uniform(self.min, self.max)
        value = float(round(value)) if self.integer else float(f"{value:.{SIGNIFICANT_DIGITS}g}")
        return min(max(value, self.low), self.high)  # rounding may step just outside the range


GridAxis = Annotated[list[float], Field(min_length=1, max_length=MAX_CANDIDATES_LIMIT)]


class SweepSettings(_Strict):
    """Which hyperparameters a sweep varies and how far it may go (rules in the module docstring)."""

    hyperparameters: dict[str, GridAxis | RangeSpec] = Field(min_length=1)
    count: int | None = Field(default=None, ge=1, le=MAX_CANDIDATES_LIMIT)  # random draws; only with a range
    seed: int = 0
    max_candidates: int = Field(default=DEFAULT_MAX_CANDIDATES, ge=1, le=MAX_CANDIDATES_LIMIT)
    # None: the account's concurrent-customization-job quota as Preflight read it, else 2 (``max_concurrency``).
    max_concurrent_jobs: int | None = Field(default=None, ge=1, le=MAX_CANDIDATES_LIMIT)

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _lists_or_ranges(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for name, axis in value.items():
            if isinstance(axis, list):
                if any(isinstance(item, bool) for item in axis):  # JSON true would otherwise be read as 1
                    raise ValueError(f"{name}: a grid takes numbers, not true or false")
            elif not isinstance(axis, dict | RangeSpec):
                raise ValueError(
                    f"{name}: give a list of values (a grid axis) or a range "
                    '{"min": ..., "max": ..., "scale": "linear" | "log", "integer": false}; a single value belongs '
                    "in hyperparameters, not in the sweep"
                )
        return value

    @model_validator(mode="after")
    def _count_goes_with_ranges(self) -> SweepSettings:
        ranges = list(self.ranges)
        if ranges and self.count is None:
            raise ValueError(f"count is needed: how many values to draw from the range of {', '.join(ranges)}")
        if not ranges and self.count is not None:
            raise ValueError("count applies to ranges only; every value of a list is tried (a grid)")
        return self

    @property
    def grid(self) -> dict[str, list[float]]:
        return {name: axis for name, axis in self.hyperparameters.items() if isinstance(axis, list)}

    @property
    def ranges(self) -> dict[str, RangeSpec]:
        return {name: axis for name, axis in self.hyperparameters.items() if isinstance(axis, RangeSpec)}


class Candidate(_Strict):
    """One training job of a sweep."""

    index: int = Field(ge=1)  # its place in the sweep, from 1, as in its id
    id: str  # c01, c02, ...
    hyperparameters: dict[str, str]  # everything the job is given, as the strings Bedrock takes
    swept: dict[str, str]  # the swept ones alone, in the sweep's axis order
    label: str  # "epochCount=5, learningRate=0.0001"


def candidate_id(index: int) -> str:
    return f"c{index:02d}"


def _problem(spec: ModelSpec, name: str, value: float, text: str) -> str | None:
    """The customization job's own check (the one made again before a job is paid for), so a sweep is refused by
    exactly the rule that would refuse its job. Imported here, not at the top: ``lambdas.lifecycle.customization``
    imports the run's contracts, and those import the settings this module's ``SweepSettings`` is part of."""
    from lambdas.lifecycle.customization import hyperparameter_problem as customization_problem

    return customization_problem(spec, name, value, text)


def _unique(values: list[float]) -> list[float]:
    return list(dict.fromkeys(values))  # keeps the first of equal values (1 and 1.0 are one value)


def _axis_problems(sweep: SweepSettings, spec: ModelSpec) -> list[str]:
    """Names the model does not take, and ranges reaching outside the model's."""
    problems: list[str] = []
    for name, axis in sweep.hyperparameters.items():
        try:
            hp = spec.hyperparameter(name)
        except UnknownHyperparameterError as error:
            problems.append(f"sweep axis {name}: {error}")
            continue
        if not isinstance(axis, RangeSpec):
            continue
        if hp.kind is HyperparameterKind.INTEGER and not axis.integer:
            problems.append(
                f"sweep range {name}: {spec.display_name} takes {name} as a whole number; add "
                '"integer": true to its range'
            )
            continue
        for end, value in (("min", axis.low), ("max", axis.high)):
            problem = _problem(spec, name, value, f"{value:g}")
            if problem is not None:
                problems.append(f"sweep range {name} {end}: {problem}")
    return problems


def _base_problems(base_hyperparameters: dict[str, str], spec: ModelSpec) -> list[str]:
    problems: list[str] = []
    for name, text in base_hyperparameters.items():
        try:
            value = float(text)
        except ValueError:
            problems.append(f"{name}={text!r} is not a number")
            continue
        problem = _problem(spec, name, value, text)
        if problem is not None:
            problems.append(problem)
    return [f"the run's hyperparameters: {problem}" for problem in problems]


def _draws(sweep: SweepSettings) -> list[dict[str, float]]:
    """``count`` draws of every range, repeats dropped; one empty draw when the sweep has no range."""
    ranges = sweep.ranges
    if not ranges:
        return [{}]
    rng = random.Random(sweep.seed)
    draws: dict[tuple[float, ...], dict[str, float]] = {}
    for _ in range(sweep.count or 0):
        draw = {name: axis.draw(rng) for name, axis in ranges.items()}
        draws.setdefault(tuple(draw.values()), draw)
    return list(draws.values())


def _too_many(sweep: SweepSettings, grid: dict[str, list[float]], draws: int | None) -> SweepError:
    """``draws`` None: the grid alone is too large (checked before drawing, so a huge grid is never listed)."""
    parts = [f"{len(values)} {name} values" for name, values in grid.items()]
    total = math.prod(len(values) for values in grid.values())
    if sweep.ranges and draws is not None:
        distinct = "" if draws == sweep.count else f" ({draws} distinct)"
        parts.append(f"{sweep.count} random draws{distinct} of {', '.join(sweep.ranges)}")
        total *= draws
    made = f"makes {total} candidates" if draws is not None or not sweep.ranges else f"grid alone makes {total}"
    fewer = "remove values, lower count," if sweep.ranges else "remove values"
    return SweepError(
        f"the sweep {made} ({' x '.join(parts)}), more than max_candidates {sweep.max_candidates}: {fewer} or "
        f"raise sweep.max_candidates (at most {MAX_CANDIDATES_LIMIT})"
    )


def candidates(sweep: SweepSettings, base_hyperparameters: dict[str, str], spec: ModelSpec) -> list[Candidate]:
    """The sweep's candidates by the rules in the module docstring, every one checked against ``spec``'s ranges.

    ``base_hyperparameters`` are the run's resolved hyperparameters (``PipelineSettings.resolved_hyperparameters``):
    what every candidate takes where the sweep does not vary it. Raises ``SweepError`` (a ``ValueError``) listing
    every problem; returns only when every candidate could start.
    """
    problems = _axis_problems(sweep, spec) + _base_problems(base_hyperparameters, spec)
    if problems:
        raise SweepError("sweep rejected before any job started: " + "; ".join(problems))

    grid = {name: _unique(values) for name, values in sweep.grid.items()}
    if math.prod(len(values) for values in grid.values()) > sweep.max_candidates:  # before drawing or listing them
        raise _too_many(sweep, grid, None)
    draws = _draws(sweep)
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    if len(points) * len(draws) > sweep.max_candidates:
        raise _too_many(sweep, grid, len(draws))

    order = list(sweep.hyperparameters)
    made: list[Candidate] = []
    for index, values in enumerate(({**point, **draw} for point in points for draw in draws), start=1):
        swept = {name: values[name] for name in order}
        identity = f"candidate {candidate_id(index)} ({', '.join(f'{n}={v:g}' for n, v in swept.items())})"
        found = [problem for name, value in swept.items() if (problem := _problem(spec, name, value, f"{value:g}"))]
        problems.extend(f"{identity}: {problem}" for problem in found)
        if found:
            continue
        texts = {name: spec.hyperparameter(name).format(value) for name, value in swept.items()}
        made.append(
            Candidate(
                index=index,
                id=candidate_id(index),
                hyperparameters={**base_hyperparameters, **texts},
                swept=texts,
                label=", ".join(f"{name}={text}" for name, text in texts.items()),
            )
        )
    if problems:
        raise SweepError("sweep rejected before any job started: " + "; ".join(problems))
    return made


def max_concurrency(sweep: SweepSettings, quota_value: float | None) -> int:
    """How many of the sweep's jobs may train at once (rule in the module docstring). ``quota_value`` is the
    account's concurrent-customization-job quota as Preflight read it, or None when it could not be read."""
    quota: int | None = None
    if quota_value is not None and math.isfinite(quota_value):
        quota = max(1, int(quota_value))  # a quota below 1 leaves nothing to run: Preflight says so; 0 means no limit
    if sweep.max_concurrent_jobs is not None:
        return sweep.max_concurrent_jobs if quota is None else min(sweep.max_concurrent_jobs, quota)
    return quota if quota is not None else DEFAULT_MAX_CONCURRENT_JOBS
