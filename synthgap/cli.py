"""The `synthgap` command: a click root group; each area adds its own subcommands.

Only click is imported at start-up so that `synthgap --help` stays fast.
"""

from __future__ import annotations

import sys

import click

from . import __version__


class Root(click.Group):
    """Turns user errors (SynthgapError) into one line on stderr and exit code 1; records the command line
    for the manifests."""

    def main(self, args=None, *rest, **kwargs):
        from .outputs import set_command_line

        set_command_line(list(args) if args is not None else sys.argv[1:])
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            set_command_line(None)

    def invoke(self, ctx: click.Context):
        from .errors import SynthgapError

        try:
            return super().invoke(ctx)
        except SynthgapError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            click.echo(f"synthgap: error: {exc}{hint}", err=True)
            ctx.exit(1)
        except BrokenPipeError:  # e.g. `synthgap ... | head`
            sys.stderr.close()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("synthgap: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthgap")
def cli() -> None:
    """Generate synthetic users and conversations, and measure how far they are from real ones."""


def _register() -> None:
    from .comparators.cli import agreement, compare
    from .corpora.cli import corpus
    from .extractors.cli import extract
    from .generators.cli import generate, variants
    from .personas.cli import personas
    from .pipeline.cli import run
    from .reports.cli import report
    from .verifiers.cli import verify

    cli.add_command(corpus)
    cli.add_command(personas)
    cli.add_command(generate)
    cli.add_command(variants)
    cli.add_command(compare)
    cli.add_command(agreement)
    cli.add_command(extract)
    cli.add_command(verify)
    cli.add_command(report)
    cli.add_command(run)


_register()


def main() -> None:
    cli(prog_name="synthgap")


if __name__ == "__main__":
    main()
