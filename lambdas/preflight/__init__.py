"""Preflight: what can be known to fail is found before anything is bought.

The Preflight state runs after PlanEvaluation and before StartCustomizationJob. Each check reads the account, never
changes it, and turns what it finds into a ``PreflightCheck`` (passed, warning, or failed) with the reason and the fix:

- ``lifecycle``: the base model and the judge are alive and customizable/invocable in the stack's region (the
  registry's dates, regions and customization types, through ``PipelineSettings.problems_starting``);
- ``model-access``: ``GetFoundationModelAvailability`` for the base model and the judge (``access.py``);
- ``quota``: the Service Quotas this run needs, found by name (``quotas.py``); one that cannot be read is a warning;
- ``budget``: the run's estimated cost against ``max_run_cost_usd`` (``budget.py``);
- ``concurrent-runs``: at most ``max_concurrent_runs`` runs of this stack at once (``concurrency.py``).

Any failed check ends the run REJECTED with every reason in the report and the notification; warnings are reported
and the run goes on. ``tuner preflight`` runs the same checks from a machine with credentials.
"""
