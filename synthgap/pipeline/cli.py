"""`synthgap run`: the whole pipeline from one YAML config (or the built-in default)."""

from __future__ import annotations

import time

import click

from ..scale.options import executor_options


@click.command("run")
@click.argument("config_file", metavar="[CONFIG]", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("-o", "--output", default="runs/default", show_default=True, type=click.Path(file_okay=False),
              help="the run folder: personas, conversations, results, report, dataset card")
@click.option("--example-config", is_flag=True, help="print the commented default config and exit")
@executor_options
def run(config_file, output, example_config, executor):
    """Personas -> template and LLM conversations -> compare with a real corpus -> report and dataset card.

    With no CONFIG, the built-in default: 300 personas, template conversations, a small set of
    SmolLM2 conversations through llama.cpp, compared with ShareGPT on every metric. A re-run
    reuses finished stages and resumes an unfinished one (see OUTPUT/run.json).
    """
    if example_config:
        from .config import example_text

        click.echo(example_text(), nl=False)
        return
    from .config import load_config
    from .runner import run as run_pipeline

    config = load_config(config_file)
    if executor.is_ray:  # the command line's executor over the config file's
        given = {k: v for k, v in executor.model_dump(exclude_defaults=True).items()}
        config = config.model_copy(update={"executor": config.executor.model_copy(update=given)})
    log = lambda msg: click.echo(f"synthgap run: {msg}", err=True)  # noqa: E731
    started = time.perf_counter()
    result = run_pipeline(config, output, log=log, config_file=config_file)
    seconds = time.perf_counter() - started
    records = result.stages
    reused = sum(r["status"] == "reused" for r in records)
    for label, counts in result.summary.items():
        log(f"{label}: {counts['beyond']} of {counts['tested']} tested metrics beyond real-vs-real variation "
            f"(Holm-corrected; {counts['metrics'] - counts['tested']} without a verdict)")
    log(f"done in {seconds:.1f} s ({reused} of {len(records)} stages reused): {output}/report/report.html, "
        f"{output}/report/report.md, {output}/README.md")
