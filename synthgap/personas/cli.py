"""`synthgap personas ...`: sample, enrich (thin commands over synthgap.personas.jobs), audit, show the taxonomy."""

from __future__ import annotations

import json

import click

from ..scale.options import executor_options
from ..llm.options import backend_options, llm_run_options, llm_settings
from .options import skip_bad_option, taxonomy_option


def _csv(ctx, param, value):
    if not value:
        return None
    items = [v.strip() for part in value for v in part.split(",") if v.strip()]
    return items or None


def _log(message: str) -> None:
    """Where the jobs' messages go: stderr."""
    click.echo(message, err=True)


def _taxonomy(files):
    from .taxonomy import load_taxonomy

    return load_taxonomy(list(files) or None)


@click.group()
def personas() -> None:
    """Synthetic users: sample them from the taxonomy, audit them against a real population."""


@personas.command()
@click.option("-n", "count", type=click.IntRange(min=1), default=100, show_default=True, help="how many personas")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--locale", "locales", multiple=True, help="locale to draw from (repeatable; default: all, weighted)")
@taxonomy_option
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              help="sampler config YAML (weights, joints, include/exclude; docs/personas.md)")
@click.option("--attributes", "n_attributes", metavar="K|MIN-MAX", help="attributes per persona (default: all drawn)")
@click.option("--include", multiple=True, callback=_csv, help="only these attributes (comma-separated)")
@click.option("--exclude", multiple=True, callback=_csv, help="leave these attributes out")
@click.option("--fit-to", "fit_to", metavar="REF", help="fit marginals to a reference population first")
@click.option("--map", "mapping", metavar="MAPPING", help="mapping of the reference onto the taxonomy")
@click.option("--fit-joint", "fit_joint", multiple=True, metavar="A,B",
              help="also fit the joint distribution of two attributes (repeatable)")
@click.option("--save-config", type=click.Path(dir_okay=False), help="write the (fitted) sampler config as YAML")
@click.option("--restart", is_flag=True, help="discard an unfinished run with another configuration")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="personas JSONL to write")
@executor_options
def sample(count, seed, locales, taxonomy_files, config_file, n_attributes, include, exclude, fit_to, mapping,
           fit_joint, save_config, restart, output, executor):
    """Sample N personas (deterministic in --seed; resumes an interrupted run)."""
    from .jobs import SampleJobConfig, sample_personas

    config = SampleJobConfig(n=count, seed=seed, locales=list(locales), taxonomy=list(taxonomy_files),
                             sampler_config=config_file, attributes=n_attributes, include=include or [],
                             exclude=exclude or [], fit_to=fit_to, mapping=mapping, fit_joint=list(fit_joint),
                             save_config=save_config)
    sample_personas(config, output, restart=restart, log=_log, executor=executor)


@personas.command()
@click.argument("personas_file", metavar="PERSONAS", type=click.Path(dir_okay=False))
@click.option("--reference", required=True, metavar="REF",
              help="a persona JSONL, or any corpus whose users carry gold attributes (e.g. a survey)")
@click.option("--map", "mapping", metavar="MAPPING", help="mapping of the reference onto the taxonomy "
              "(a built-in name or a YAML file; chosen automatically when omitted)")
@taxonomy_option
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the bootstrap")
@click.option("--bootstrap", type=click.IntRange(min=20), default=200, show_default=True, help="bootstrap rounds")
@click.option("--near", "near_diff", type=click.IntRange(min=0), default=1, show_default=True,
              help="near-duplicates differ in at most this many attributes")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="also write the full audit as JSON")
@skip_bad_option
def audit(personas_file, reference, mapping, taxonomy_files, seed, bootstrap, near_diff, json_out, skip_bad):
    """Compare PERSONAS with a reference population: marginals, pairs, duplicates, rule violations."""
    from ..records import AtomicWriter
    from .audit import audit as run_audit
    from .reference import load_reference, read_persona_file
    from .render import print_audit

    taxonomy = _taxonomy(taxonomy_files)
    people = read_persona_file(personas_file, skip_bad, on_skip=_log)
    population, chosen = load_reference(reference, taxonomy, mapping=mapping, skip_bad=skip_bad)
    report = run_audit(people, population, taxonomy, chosen, seed=seed, bootstrap=bootstrap, near_diff=near_diff)
    report["personas"]["file"] = personas_file
    if json_out:
        with AtomicWriter(json_out) as out:
            out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_audit(report)


@personas.command()
@taxonomy_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def taxonomy(taxonomy_files, as_json):
    """Show the attribute taxonomy: categories, stability, sensitivity, values and cues."""
    tax = _taxonomy(taxonomy_files)
    rows = []
    for attr in tax:
        values = set(attr.values).union(*[set(t) for t in attr.by_locale.values()])
        cues = sum(len(v.cues) for t in [attr.values, *attr.by_locale.values()] for v in t.values())
        rows.append({"attribute": attr.key, "category": attr.category, "stability": attr.stability,
                     "sensitive": attr.sensitive, "kind": attr.kind, "values": len(values),
                     "explicit": len(attr.explicit) + sum(len(v.explicit or ()) for v in attr.values.values()),
                     "cues": cues + len(attr.implicit), "depends_on": list(attr.depends)})
    if as_json:
        click.echo(json.dumps({"categories": tax.categories, "locales": list(tax.locales), "attributes": rows},
                              indent=2, ensure_ascii=False))
        return
    from .render import print_taxonomy

    print_taxonomy(tax, rows)


@personas.command()
@click.argument("personas_file", metavar="PERSONAS", type=click.Path(dir_okay=False))
@backend_options()
@click.option("--sentences", default="2-3", show_default=True, help="length asked for the description")
@click.option("--preferences", type=click.IntRange(0, 10), default=3, show_default=True,
              help="extra preferences asked for")
@click.option("--min-facts", type=click.IntRange(min=0), default=2, show_default=True,
              help="persona facts the description must mention to be kept")
@click.option("--max-tokens", type=click.IntRange(min=32), default=300, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.7, show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="corrective retries for an answer that is not valid JSON or fails the checks")
@taxonomy_option
@click.option("--seed", type=int, default=0, show_default=True)
@llm_run_options
@skip_bad_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="enriched personas JSONL")
@executor_options
def enrich(personas_file, sentences, preferences, min_facts, max_tokens, temperature, retries, taxonomy_files, seed,
           prompt_dirs, batch, max_failure_rate, no_cache, cache_dir, resume, force, skip_bad, output, executor,
           **engine):
    """An LLM writes each persona a description and extra preferences, checked against the persona."""
    from ..llm.factory import spec_from_options
    from .jobs import EnrichJobConfig, enrich_personas

    config = EnrichJobConfig(sentences=sentences, preferences=preferences, min_facts=min_facts, max_tokens=max_tokens,
                             temperature=temperature, retries=retries, taxonomy=list(taxonomy_files), seed=seed,
                             skip_bad=skip_bad, engine=spec_from_options(engine),
                             **llm_settings(prompt_dirs, batch, max_failure_rate, no_cache, cache_dir))
    enrich_personas(config, personas_file, output, resume=resume, force=force, log=_log, executor=executor)
