"""Placeholder until the owning issue fills it in."""

import argparse


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    subparsers.add_parser("report", help="(not yet implemented)")
