#!/usr/bin/env python3
"""CDK entry point (`npx cdk synth|deploy`, or `python app.py` with CDK_OUTDIR)."""

import sys

from infra.app import build_app
from infra.config import SettingsError

try:
    app, _ = build_app()
except SettingsError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
app.synth()
