"""`souverain privacy`: data subjects' requests, retention purges and the record of processing."""

from __future__ import annotations

import typer

privacy_app = typer.Typer(
    help="Personal data: subjects' requests, purges, record of processing.", no_args_is_help=True
)
