"""`synthgap verify` (the verifier's reading of extracted attributes) and `synthgap verify train`: thin layers
over `synthgap.verifiers.jobs`."""

from __future__ import annotations

import json

import click

from .options import verifier_options, verifier_settings


def _log(message: str) -> None:
    click.echo(f"synthgap: {message}", err=True)


class _DefaultGroup(click.Group):
    """A group whose first argument, when it names no subcommand, goes to the default one: `verify FILE`
    and `verify train` side by side (click has no default subcommand of its own)."""
    default = "attributes"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup)
def verify():
    """Judge extracted attributes against the users' own turns: supported, overgeneralized or unsupported.

    \b
    synthgap verify ATTRIBUTES --source CORPUS [--verifier trained|llm] [--labels FILE]
    synthgap verify train [--labels FILE --attributes FILE --source CORPUS] -o verifier.json
    """


_label_options = [
    click.option("--item", default="user_id,statement", show_default=True,
                 help="the label file's columns that identify an attribute"),
    click.option("--label", default="label", show_default=True, help="the label file's label column"),
    click.option("--unsure", type=click.Choice(["drop", "bad", "ok"]), default="drop", show_default=True,
                 help="what an 'unsure' label counts as"),
    click.option("--bad-as", type=click.Choice(["overgeneralized", "unsupported"]), default="overgeneralized",
                 show_default=True, help="what a 'bad' label is read as (the study's bad is mostly overgeneralized)"),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--skip-bad", is_flag=True, help="skip bad records and label lines (counted) instead of failing"),
    click.option("--no-cache", is_flag=True, help="embed and ask again, and store nothing"),
    click.option("--cache-dir", type=click.Path(file_okay=False), help="cache folder"),
]


def _with(options):
    def wrap(func):
        for opt in reversed(options):
            func = opt(func)
        return func
    return wrap


@verify.command("attributes", hidden=True)
@click.argument("attributes", type=click.Path(dir_okay=False, exists=True))
@click.option("--source", required=True, help="the corpus the attributes were extracted from")
@click.option("--labels", "label_file", type=click.Path(dir_okay=False, exists=True),
              help="human judgments, CSV or JSONL, one row per attribute: ok / unsure / bad (or supported / "
                   "overgeneralized / unsupported); the verifier's calls are scored against them")
@_with(_label_options)
@click.option("--bootstrap", type=click.IntRange(min=10), default=200, show_default=True,
              help="user-bootstrap replicates per interval")
@verifier_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="write assessments.jsonl, verify.json and manifest.json here")
def verify_attributes(attributes, source, label_file, as_json, output, **options):
    """Every attribute of ATTRIBUTES (from `synthgap extract` over --source) judged by the verifier."""
    from .jobs import VerifyJobConfig, verify as run

    settings = verifier_settings(options)
    config = VerifyJobConfig(verifier=settings, **options)
    done = run(config, attributes, source, label_file, output, log=_log)
    if as_json:
        click.echo(json.dumps(done.data, ensure_ascii=False))
        return
    s = done.summary
    rate = lambda k: s["rates"][k]  # noqa: E731
    click.echo(f"{s['attributes']} attributes of {s['users']} users ({s['unanswered']} unanswered):")
    for key in ("supported_share", "overgeneralization_rate", "unsupported_rate"):
        ci = rate(key)["ci95"]
        click.echo(f"  {key.replace('_', ' ')}: {rate(key)['value']}" + (f" [{ci[0]}, {ci[1]}]" if ci else ""))
    click.echo(f"  evidence scope of the overgeneralized: {s['overgeneralized_scope']}")
    for name, table in s["by_history"].items():
        parts = [f"{b}: {v['overgeneralization_rate']} (n={v['attributes']})" for b, v in table.items()]
        click.echo(f"  overgeneralization by {name.replace('_', ' ')}: " + "; ".join(parts))
    report = done.against_labels
    if report:
        b = report["bad_vs_ok"]
        click.echo(f"against human labels ({b['n']} attributes, {b['bad']} bad): bad-vs-ok precision {b['precision']}, "
                   f"recall {b['recall']}, F1 {b['f1']}, kappa {b['kappa']}; macro F1 {report['macro_f1']} "
                   f"(study anchors: prompted LLM F1 0.63, fine-tuned RoBERTa 0.726)")


@verify.command("train")
@click.option("--labels", "label_file", type=click.Path(dir_okay=False, exists=True),
              help="human judgments (ok / unsure / bad per attribute); without them: constructed claims")
@click.option("--attributes", type=click.Path(dir_okay=False, exists=True),
              help="with --labels: the attributes file they label (from `synthgap extract`)")
@click.option("--source", help="with --labels: the corpus the attributes were extracted from")
@click.option("--personas", type=click.IntRange(min=10), default=60, show_default=True,
              help="constructed personas: the training set without --labels; with them, what teaches the verifier "
                   "which claims bear on a user at all (when no label is 'unsupported')")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="folds (by user) of the held-out scores")
@_with(_label_options)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="the verifier file to write (JSON), with its manifest beside it")
def verify_train(label_file, attributes, source, as_json, output, **options):
    """Train the lightweight verifier and write it, with its held-out scores (folds keep users together)."""
    from .jobs import TrainVerifierConfig, train_verifier

    done = train_verifier(TrainVerifierConfig(**options), output, labels=label_file, attributes=attributes,
                          source=source, log=_log)
    if as_json:
        click.echo(json.dumps({"output": str(done.output), "held_out": done.scores, "trained_on": done.trained_on},
                              ensure_ascii=False, default=str))
        return
    s, b = done.scores, done.scores["bad_vs_ok"]
    click.echo(f"wrote {done.output}: held out ({s['folds']} folds by user, {s['n']} claims of {s['users']} users): "
               f"macro F1 {s['macro_f1']}, kappa {s['kappa']}, bad-vs-ok F1 {b['f1']}"
               + (f", AUC {s['auc_ovr']}" if "auc_ovr" in s else "")
               + " (study anchors on human labels: prompted LLM F1 0.63, fine-tuned RoBERTa 0.726)")


__all__ = ["verify"]
