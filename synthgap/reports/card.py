"""README.md of a generated dataset in the Hugging Face dataset card format: a YAML header, then how
it was generated (personas, templates, models, seeds) and its measured gaps to the real corpus.

Rendered from the run folder's own records (run config, generation manifests, results.json), so
the card says what was actually done.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .summary import (CARD_KEYS, coverage_text, explained_cells, explained_entry, explained_metrics, extractor,
                      gold_provenance, matched_text, pairs, rows, topic_corpora, topic_method_text, verifier_text)

HEADLINE = ("kid", "c2st_auc", "mauve", "prdc_recall", "length_tokens", "topic_mix_jsd", "extraction_f1",
            "extraction_overgeneralization_rate")  # extraction ones only where the extraction table below is absent


def _read(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def header(config: dict, root: Path, parts: list[tuple[str, Path]], total: int) -> str:
    """The YAML metadata block (the fields the Hub reads: licence, language, tags, sizes, data files)."""
    import yaml

    name = config.get("card", {}).get("pretty_name") or f"synthgap synthetic conversations ({root.name})"
    meta = {"pretty_name": name, "license": config.get("card", {}).get("license", "unknown"), "language": ["en"],
            "task_categories": ["text-generation"], "tags": ["synthetic", "personalization", "conversations",
                                                             "synthgap"],
            "size_categories": [_size_category(total)],
            "configs": [{"config_name": label, "data_files": str(path.relative_to(root))} for label, path in parts]}
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _generation(config: dict, root: Path, parts: dict[str, Path]) -> list[str]:
    seed = config.get("seed")
    pc = config.get("personas", {})
    lines = ["## How it was generated", "",
             f"Everything was made by `synthgap run` with seed {seed}; the full config and the command line of "
             "every stage are in `run.json`, and each file has a `.manifest.json` beside it (package versions, "
             "config fingerprint, input hashes, timings). The same config and seed give the same bytes.", ""]
    pm = _read(root / "personas.jsonl.manifest.json") or {}
    lines.append(f"- **Personas** (`personas.jsonl`, {pm.get('counts', {}).get('personas', '?')}): drawn with "
                 f"Faker from synthgap's attribute taxonomy (locales: {', '.join(pc.get('locales') or []) or 'all'}"
                 f"; taxonomy: {', '.join(pm.get('config', {}).get('taxonomy', ['builtin']))}), each consistent by "
                 "construction (age, occupation, family and location rules).")
    if "templates" in parts:
        tm = _read(parts["templates"].with_name(parts["templates"].name + ".manifest.json")) or {}
        tc = tm.get("config", {}).get("config", {})
        lines.append(f"- **Template conversations** (`{parts['templates'].relative_to(root)}`, "
                     f"{tm.get('counts', {}).get('conversations', '?')}): Jinja2 intent templates "
                     f"({len(tm.get('config', {}).get('templates', {}))} intents), "
                     f"{tc.get('per_persona')} per persona, "
                     f"{tc.get('turns')} user turns, disclosure {tc.get('disclosure')}, realism knobs "
                     f"{json.dumps(tc.get('realism'))}. Disclosures record exactly where each persona attribute "
                     "appears in the text.")
    if "llm" in parts:
        lm = _read(parts["llm"].with_name(parts["llm"].name + ".manifest.json")) or {}
        cfg = lm.get("config", {})
        lc = cfg.get("config", {})
        user, assistant = cfg.get("user", {}), cfg.get("assistant", {})
        lines.append(f"- **LLM conversations** (`{parts['llm'].relative_to(root)}`, "
                     f"{lm.get('counts', {}).get('conversations', '?')}): the user played by "
                     f"{user.get('kind')} `{user.get('model')}` ({user.get('identity')}), the assistant by "
                     f"{assistant.get('kind')} `{assistant.get('model')}`; {lc.get('turns')} user turns, "
                     f"temperature {lc.get('temperature')}, top-p {lc.get('top_p')}, seed {lc.get('seed')}, "
                     f"realism {lc.get('realism')}; {lm.get('counts', {}).get('failed', 0)} conversations failed "
                     f"(see the failures file).")
    return lines


def _gaps(results: dict) -> list[str]:
    real = results.get("real", {})
    lines = ["## Measured gaps to the real corpus", "",
             f"Against **{real.get('label')}** ({real.get('source')}), each gap beside the same metric between two "
             "halves of the real corpus (the yardstick), with bootstrap 95% intervals. The full report is "
             "`report/report.md` (also `report/report.html`, LaTeX tables in `report/tables/`, figures in "
             "`report/figures/`).", ""]
    all_rows = rows(results)
    v = results.get("verdicts") or {}
    lines.append(f"Verdicts test the paired difference (real-vs-synthetic minus real-vs-real on the same bootstrap "
                 f"draws) with {str(v.get('correction', 'holm')).title()}'s correction across all "
                 f"{v.get('tests', '?')} tested metrics of the report (alpha {v.get('alpha', 0.05)}); metrics with "
                 f"too few items give no verdict. m: items per side; authors: real half A / half B / synthetic.")
    found = pairs(results, keys=CARD_KEYS)
    headline = [r for r in all_rows if r.name in HEADLINE and not (found and r.name.startswith("extraction_"))]
    if headline:
        lines += ["", "| corpus | metric | m | authors | real vs synthetic | 95% CI | real vs real | difference | "
                      "p (Holm) | verdict |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in headline:
        lines.append(f"| {r.synthetic} | {r.name} | {r.m} | {r.authors} | {r.value} | {r.ci} | {r.baseline} | "
                     f"{r.difference} | {r.p} | {r.verdict} |")
    if found:
        lines += ["", _extraction(results, found)]
    if results.get("topics"):
        lines += ["", _topics(results)]
    return lines


def _topics(results: dict) -> str:
    """The topic decomposition in brief: how the topics were made, per corpus the share of the headline gaps the
    topic mix explains (n/a with the reason), coverage and the residual mix; the tables and figures are in the
    report."""
    metrics = explained_metrics(results)
    if len(metrics) > 6:  # the headline ones; the report has every metric
        metrics = [(m, f) for m, f in metrics if f == "embedding" or m in HEADLINE] or metrics[:3]
    lines = ["### Topic decomposition", "", topic_method_text(results) + " The report's \"Topic decomposition\" "
             "section has the topic mix, the topic-mix and within-topic metrics, the share of every gap the topic mix "
             "explains and the gaps per topic; figures `topic_mix` and `topic_gaps`."]
    for c in topic_corpora(results):
        shares = ", ".join(f"{m} {explained_cells(explained_entry(c, m))[0]}" for m, _ in metrics)
        text = f"- {c.title}: share of the gap the topic mix explains: {shares or 'n/a — no explained share'}; "
        lines.append(text + coverage_text(results, c, named=False))
    return "\n".join(lines[:3] + [""] + lines[3:])


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _extraction(results: dict, found: list) -> str:
    """Real vs each synthetic corpus: supported share, overgeneralization rate (also on matched history sizes)
    and recall and F1 against gold, each with its interval, the sample sizes and the verdict; n/a with the reason
    where a corpus lacks the figure; then the gold's provenance per corpus."""
    section = results["extraction"]
    lines = ["### Attribute extraction, judged by a verifier", "",
             f"The {extractor(section)} extractor on every corpus, each extracted attribute judged by a verifier "
             "(see Limitations). The supported share is the verifier's estimate of precision where a corpus has no "
             "gold; recall and F1 need gold (as the source gives it, and as the verifier finds "
             "it stated in the users' turns). Values with bootstrap 95% intervals over users; the verdict tests "
             "real minus synthetic against real half A minus half B. n/a: no figure, with the reason."]
    for p in found:
        lines += ["", f"**{p.title}**", "",
                  f"| statistic | {_cell(p.header[2])} | {_cell(p.header[3])} | real − synthetic [95% CI] | "
                  "p (Holm) | verdict |", "| --- | --- | --- | --- | --- | --- |"]
        for r in p.rows:
            lines.append("| " + " | ".join(_cell(c) for c in (r.label, r.real, r.synthetic, r.gap, r.p, r.verdict))
                         + " |")
        lines += ["", matched_text(results, p.synthetic)]
    provenance = gold_provenance(section, (results.get("real") or {}).get("label"))
    by_corpus: dict = {}
    for label, source, gold, stated, share in provenance.body:
        by_corpus.setdefault(label, []).append(source if gold == "n/a" else f"{source}: {gold} gold, {stated} "
                                                                              f"stated ({share})")
    lines += ["", "Gold per corpus (gold attributes, and those stated in the users' turns): " +
              "; ".join(f"{label}: {', '.join(items)}" for label, items in by_corpus.items()) + "."]
    return "\n".join(lines)


def render_card(root, config: dict, labels: list[str]) -> str:
    """The card of run folder `root` made with `config`, whose synthetic corpora are `labels`."""
    root = Path(root)
    files = {"templates": root / "conversations" / "templates.jsonl", "llm": root / "conversations" / "llm.jsonl"}
    parts = {label: files[label] for label in labels if label in files and files[label].exists()}
    counts = {label: _count_lines(p) for label, p in parts.items()}
    data_files = [*parts.items(), ("personas", root / "personas.jsonl")]
    name = config.get("card", {}).get("pretty_name") or f"synthgap synthetic conversations ({root.name})"
    lines = [header(config, root, data_files, sum(counts.values())), f"# {name}", "",
             "Synthetic users and user–assistant conversations generated by "
             "synthgap (`synthgap run`), with ground truth for what each conversation "
             "discloses about its user, and measured against a real conversation corpus.", "",
             "## Contents", "", "| file | records | what |", "| --- | --- | --- |"]
    for label, path in parts.items():
        lines.append(f"| `{path.relative_to(root)}` | {counts[label]} | {label} conversations: one "
                     "`Conversation` per line (turns, persona_id, disclosures with turn, span and style) |")
    lines.append(f"| `personas.jsonl` | {_count_lines(root / 'personas.jsonl')} | one `Persona` per line "
                 "(attributes with statement, category, value, stability) |")
    lines += ["", "JSON schemas of the records: `docs/schema/` in the synthgap repository.", ""]
    lines += _generation(config, root, parts)
    results = _read(root / "results.json")
    if results:
        lines += [""] + _gaps(results)
    lines += ["", "## Limitations", "",
              "- The personas are sampled, not real people; their attribute mix follows synthgap's taxonomy "
              "weights unless fitted to a reference population.",
              "- Template conversations are fluent and disclose attributes on cue; the gaps above say how far "
              "that is from real users. Small local models (such as SmolLM2-135M) repeat themselves and drift "
              "off persona: use a stronger model for anything beyond a pipeline check.",
              "- A gap within real-vs-real variation is not proof of realism: it is what the chosen metrics and "
              "sample size can tell apart."]
    if results and (results.get("extraction") or {}).get("corpora"):
        lines.append(f"- Extraction figures rest on the {verifier_text(results['extraction'])}: it reads each "
                     "extracted attribute against the user's own turns (supported, overgeneralized or unsupported) "
                     "and never sees which extractor made a claim; it has its own errors, so compare real with "
                     "synthetic through it rather than read its rates as exact.")
    return "\n".join(lines) + "\n"


__all__ = ["HEADLINE", "header", "render_card"]
