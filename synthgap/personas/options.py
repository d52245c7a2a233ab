"""Click options that commands of several packages share about personas: the taxonomy files and
skipping bad lines of a persona file."""

from __future__ import annotations

import click


def taxonomy_option(func):
    """--taxonomy FILE (repeatable): YAML merged over the built-in taxonomy."""
    return click.option("--taxonomy", "taxonomy_files", multiple=True, type=click.Path(dir_okay=False),
                        help="taxonomy YAML merged over the built-in one (repeatable; docs/personas.md)")(func)


def skip_bad_option(func):
    """--skip-bad: skip (and count) bad lines of the persona file instead of failing."""
    return click.option("--skip-bad", is_flag=True,
                        help="skip bad lines of the persona file (counted and reported) instead of failing")(func)


__all__ = ["skip_bad_option", "taxonomy_option"]
