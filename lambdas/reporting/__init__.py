"""The run report: one pydantic document (report.json) and its Markdown and self-contained HTML renderings.

Everything here runs in a zip Lambda: pydantic and the standard library only.
"""
