"""`synthgap personas ...`: sample personas, audit them against a population, show the taxonomy."""

from __future__ import annotations

import json
import time

import click

from ..llm.options import backend_options, llm_run_options


def _csv(ctx, param, value):
    if not value:
        return None
    items = [v.strip() for part in value for v in part.split(",") if v.strip()]
    return items or None


def taxonomy_option(func):
    return click.option("--taxonomy", "taxonomy_files", multiple=True, type=click.Path(dir_okay=False),
                        help="taxonomy YAML merged over the built-in one (repeatable; docs/personas.md)")(func)


def read_persona_file(path, skip_bad: bool):
    """Personas of a file; with skip_bad, bad lines are skipped and reported as one note."""
    return list(stream_persona_file(path, skip_bad))


def stream_persona_file(path, skip_bad: bool):
    """Stream personas (memory stays flat for any file size); skipped lines are reported at the end."""
    from collections import Counter

    from .reference import iter_personas

    skipped = Counter() if skip_bad else None
    yield from iter_personas(path, skipped)
    if skipped:
        first = next(k for k in skipped if k.startswith("first: "))[len("first: "):]
        counts = ", ".join(f"{k}: {v}" for k, v in skipped.items() if not k.startswith("first: "))
        click.echo(f"synthgap: note: skipped {sum(skipped.values())} bad lines of {path} ({counts}); first: {first}",
                   err=True)


def skip_bad_option(func):
    return click.option("--skip-bad", is_flag=True,
                        help="skip bad lines of the persona file (counted and reported) instead of failing")(func)


def load_taxonomy_files(files):
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
def sample(count, seed, locales, taxonomy_files, config_file, n_attributes, include, exclude, fit_to, mapping,
           fit_joint, save_config, restart, output):
    """Sample N personas (deterministic in --seed; resumes an interrupted run)."""
    from ..errors import SynthgapError
    from ..outputs import ResumableJsonl, fingerprint, manifest_path, write_manifest
    from ..progress import count_progress
    from ..records import dumps
    from .sampler import PersonaSampler, SamplerConfig

    started = time.perf_counter()
    taxonomy = load_taxonomy_files(taxonomy_files)
    config = _read_config(config_file) if config_file else SamplerConfig()
    if locales:
        config.locales = {loc: 1.0 for loc in locales}
    if n_attributes:
        try:
            config.n_attributes = SamplerConfig(n_attributes=n_attributes).n_attributes
        except ValueError:
            raise SynthgapError(f"--attributes {n_attributes!r}: expected K or MIN-MAX, e.g. 8 or 5-10") from None
    if include:
        config.include = include
    if exclude:
        config.exclude = exclude
    fit_log = None
    if fit_to:
        from .fit import fit_config
        from .reference import load_reference

        from .reference import identity_mapping

        reference, chosen = load_reference(fit_to, taxonomy, mapping=mapping)
        chosen = chosen or identity_mapping(taxonomy, reference)  # a persona file on the same taxonomy
        joints = tuple(_pair(j) for j in fit_joint)
        config, fit_log = fit_config(taxonomy, reference, chosen, config, joints=joints, seed=seed)
        click.echo(f"fitted to {fit_to} ({len(reference)} people, mapping {chosen.name}); "
                   f"raking tv to target per round: "
                   + ", ".join(f"{_mean(r['tv_to_target']):.3f}" for r in fit_log), err=True)
    elif fit_joint:
        raise SynthgapError("--fit-joint needs --fit-to REF")
    sampler = PersonaSampler(taxonomy, config)
    settings = {"seed": seed, "sampler": config.model_dump(mode="json"), "taxonomy": taxonomy.sources,
                "taxonomy_fingerprint": fingerprint(_taxonomy_identity(taxonomy_files))}
    if save_config:
        _write_config(save_config, config)
    with ResumableJsonl(output, fingerprint(settings), restart=restart) as out:
        if out.done:
            click.echo(f"resuming: {out.done} personas already written", err=True)
        with count_progress(count, "personas", out.done) as advance:
            for persona in sampler.sample(count, seed, start=min(out.done, count)):
                out.write(dumps(persona))
                advance(1)
        total = out.complete()
    counts = {"personas": total, "dead_ends": dict(sampler.dead_ends)}
    write_manifest(manifest_path(output), command="personas sample", config={**settings, "n": count},
                   inputs=[*taxonomy_files, *([config_file] if config_file else [])], counts=counts,
                   timings={"seconds": round(time.perf_counter() - started, 3)},
                   extra={"resume_fingerprint": fingerprint(settings),
                          **({"fit": {"reference": fit_to, "log": fit_log}} if fit_to else {})})
    click.echo(f"wrote {total} personas to {output}", err=True)


def _taxonomy_identity(files) -> list:
    from pathlib import Path

    from ..outputs import file_sha256
    from .taxonomy import builtin_path

    return [file_sha256(builtin_path())] + [file_sha256(f) for f in files if Path(f).is_file()]


def _mean(values: dict) -> float:
    return sum(values.values()) / len(values) if values else 0.0


def _pair(text: str) -> tuple[str, str]:
    from ..errors import SynthgapError

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) != 2:
        raise SynthgapError(f"--fit-joint {text!r}: expected two attributes, e.g. education,income")
    return parts[0], parts[1]


def _read_config(path):
    import yaml
    from pydantic import ValidationError

    from ..errors import SynthgapError
    from .sampler import SamplerConfig

    try:
        data = yaml.safe_load(open(path, encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SynthgapError(f"{path}: cannot read sampler config: {str(exc).splitlines()[0]}") from None
    try:
        return SamplerConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SynthgapError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg'].lower()}") from None


def _write_config(path, config) -> None:
    import yaml

    from ..records import AtomicWriter

    with AtomicWriter(path) as out:
        out.write(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


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
    from .reference import load_reference
    from .render import print_audit

    taxonomy = load_taxonomy_files(taxonomy_files)
    people = read_persona_file(personas_file, skip_bad)
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
    tax = load_taxonomy_files(taxonomy_files)
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
def enrich(personas_file, sentences, preferences, min_facts, max_tokens, temperature, retries, taxonomy_files, seed,
           prompt_dirs, batch, max_failure_rate, no_cache, cache_dir, resume, force, skip_bad, output, **engine):
    """An LLM writes each persona a description and extra preferences, checked against the persona."""
    from pathlib import Path

    from ..llm.factory import spec_from_options
    from ..llm.prompts import PromptLibrary
    from ..llm.job import check_resume, finished, open_engines, resumable_run, write_run_manifest
    from ..outputs import file_sha256
    from .enrich import EnrichConfig, PersonaEnricher

    started = time.perf_counter()
    output = Path(output)
    spec = spec_from_options(engine)
    config = EnrichConfig(sentences=sentences, preferences=preferences, min_facts=min_facts, max_tokens=max_tokens,
                          temperature=temperature, retries=retries, seed=seed)
    check_resume(output, resume, force)
    taxonomy = load_taxonomy_files(taxonomy_files)
    prompts = PromptLibrary(prompt_dirs)
    engines = open_engines(spec, no_cache=no_cache, cache_dir=cache_dir)
    try:
        identity = {"config": config.model_dump(mode="json"), "personas": file_sha256(personas_file),
                    "model": {**spec.describe(), "identity": engines.main.backend.model_identity},
                    "prompts": prompts.identity(["enrich_persona"]), "taxonomy": _taxonomy_identity(taxonomy_files)}
        if resume and finished(output, identity):
            click.echo(f"{output} is complete (same configuration): nothing to do", err=True)
            return
        with open(personas_file, "rb") as fh:
            total = sum(1 for line in fh if line.strip())
        holder = {}

        def batches(skip, log):
            holder["enricher"] = enricher = PersonaEnricher(engines.main, taxonomy, config, prompts, log)
            group = []
            for persona in stream_persona_file(personas_file, skip_bad):
                if persona.id in skip:
                    continue
                group.append(persona)
                if len(group) >= batch:
                    yield [(p.id, e) for p, e in zip(group, enricher.enrich(group))]
                    group = []
            if group:
                yield [(p.id, e) for p, e in zip(group, enricher.enrich(group))]

        written, log = resumable_run(output, identity, batches, total=total, force=force,
                                     max_failure_rate=max_failure_rate, key="id", unit="personas",
                                     echo=lambda m: click.echo(m, err=True))
    finally:
        engines.close()
    stats = holder["enricher"].stats
    write_run_manifest(output, "personas enrich", identity, inputs=[personas_file], written=written, unit="personas",
                       log=log, stats=stats, engines=engines, seconds=time.perf_counter() - started)
    note = f"; {log.failed} failed (see {log.path})" if log.failed else ""
    click.echo(f"wrote {written} enriched personas to {output}{note}; cache {engines.cache_stats()}", err=True)
