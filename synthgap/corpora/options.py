"""Click options of every command that reads a corpus, and their mapping onto `ReadSettings`."""

from __future__ import annotations

import click

FORMAT_HELP = ("corpus format (detected when omitted): sharegpt, openai, wildchat, user-histories, relevance, convai2, "
               "persuasionforgood, synthetic-persona-chat, prefeval, native")


def _how_to_read() -> list:
    """--format, --skip-bad, --empty-turns, --user-speaker: how a corpus's records are read."""
    return [
        click.option("--format", "fmt", metavar="FORMAT", help=FORMAT_HELP),
        click.option("--skip-bad", is_flag=True, help="skip bad records (counted by reason) instead of failing"),
        click.option("--empty-turns", type=click.Choice(["error", "drop", "keep"]),
                     help="what to do with turns without text (default: the format's own rule)"),
        click.option("--user-speaker", metavar="SPEAKER",
                     help="human-human corpora: who plays the user (persuasionforgood: persuadee|persuader|both; "
                          "synthetic-persona-chat: user1|user2|both; convai2: human|participant1|participant2)"),
    ]


def _decorate(func, options: list):
    for option in reversed(options):
        func = option(func)
    return func


def read_options(func):
    """Options shared by every command that reads a corpus (see `read_settings`)."""
    return _decorate(func, _how_to_read() + [
        click.option("--synthetic/--real", "synthetic", default=None,
                     help="mark every record synthetic or real (default: what the format says)"),
        click.option("--label", metavar="NAME", help="source label for every record (default: the format's)"),
    ])


def source_read_options(func):
    """The reading options without the relabelling ones (--synthetic/--real, --label), for a command whose
    corpus is an input it does not copy, such as `generate continue --real CORPUS` (see `source_read_settings`)."""
    return _decorate(func, _how_to_read())


def read_settings(fmt, skip_bad, empty_turns, user_speaker, synthetic, label) -> dict:
    """The values of `read_options` as `ReadSettings` fields (a dict, to merge into a job config)."""
    return {"format": fmt, "skip_bad": skip_bad, "empty_turns": empty_turns, "user_speaker": user_speaker,
            "synthetic": synthetic, "label": label}


def source_read_settings(fmt, skip_bad, empty_turns, user_speaker) -> dict:
    """The values of `source_read_options` as `ReadSettings` fields."""
    return read_settings(fmt, skip_bad, empty_turns, user_speaker, None, None)


def open_corpus(source, fmt, skip_bad, empty_turns, user_speaker, synthetic, label, unit="conversation",
                progress=None):
    """The corpus at `source` read with the values of `read_options`."""
    from .reader import ReadSettings

    settings = ReadSettings(**read_settings(fmt, skip_bad, empty_turns, user_speaker, synthetic, label))
    return settings.open(source, unit=unit, progress=progress)


def echo_notices(summary) -> None:
    """A read's notices on stderr, one `synthgap: note: ...` line each."""
    from .reader import report_notices

    report_notices(summary, lambda line: click.echo(line, err=True))


__all__ = ["FORMAT_HELP", "echo_notices", "open_corpus", "read_options", "read_settings", "source_read_options",
           "source_read_settings"]
