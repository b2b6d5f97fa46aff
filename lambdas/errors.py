"""Errors whose class names the state machine matches in Retry and Catch rules.

Step Functions sees a Python exception raised by a Lambda handler as an error named after its class, so these names
are part of the workflow's contract (infra/workflow.py retries ``TransientServiceError`` with backoff and never
retries the others).
"""


class PipelineError(Exception):
    """Base class: a failure the run report can explain to a person."""


class TransientServiceError(PipelineError):
    """Throttling or a 5xx that survived the client's own retries: the state machine retries the step with backoff."""


class QuotaExceededError(PipelineError):
    """An account quota blocks the step (e.g. 2 no-commitment throughputs per account): retrying cannot help."""


class ConfigurationError(PipelineError):
    """The run's settings are unusable (hyperparameter out of range, model not servable as asked)."""


class CapacityFailedError(PipelineError):
    """Provisioned throughput or deployment reached Failed: the capacity is deleted and the run fails."""


RETRYABLE_ERRORS = (TransientServiceError.__name__,)


class EvaluationFailedError(PipelineError):
    """A model could not answer enough test questions for a comparison to mean anything: the run fails (the
    capacity is deleted by the Catch, and the answers that were produced stay saved under answers/)."""
