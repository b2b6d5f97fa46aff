"""Serve the winner: the stack's champion, its stable on-demand deployment, promotion and rollback.

``record`` (the models and ``protected_arns``), ``store`` (SSM parameter and history), ``promotion`` (the eligibility
rule and the policy), ``candidate`` (a run's report as a champion) and ``actions`` (promote, rollback, delete).
"""
