"""Placeholder until the owning issue fills it in."""

import argparse


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    subparsers.add_parser("run", help="(not yet implemented)")
