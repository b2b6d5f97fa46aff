"""A hyperparameter sweep: several candidates trained from one drop, and the verdict choosing among them.

``candidates`` (the ``sweep`` setting, the candidates it makes, each checked against the model's ranges before
anything starts, and how many jobs may run at once) and ``leaderboard`` (the candidates ranked on the primary metric,
and the winner rule). Pure functions and pydantic models: no AWS calls, no Lambda.
"""
