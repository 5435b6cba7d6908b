"""CLI commands for the discourse area (registered on the main app by :func:`register`).

Placeholder created by the lead so that main.py can import it; the owner of this area
fills it in. Only the CLI talks to the person.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    return None
