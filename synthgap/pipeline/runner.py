"""`synthgap run`: personas -> template and LLM conversations -> compare -> report -> dataset card.

Each stage runs the synthgap command a user would type (recorded in run.json), so every step
of a run can be repeated or varied by hand, and each keeps its own resume logic and manifest.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Callable, Collection, Optional

import click

from ..errors import SynthgapError
from .config import RunConfig
from .stages import RunState, Stage, path_identity, pending, run_stages


def invoke(command: click.Command, args: list[str], name: str) -> None:
    """Run a synthgap click command in this process; its usage errors become one-line SynthgapErrors."""
    try:
        command.main(args=args, prog_name="synthgap", standalone_mode=False)
    except click.exceptions.Exit as exc:
        if exc.exit_code:
            raise SynthgapError(f"stage {name}: exited with code {exc.exit_code}") from None
    except click.ClickException as exc:
        raise SynthgapError(f"stage {name}: {exc.format_message()}") from None
    except click.exceptions.Abort:
        raise SynthgapError(f"stage {name}: aborted") from None


def _command_line(words: list[str]) -> str:
    return "synthgap " + shlex.join(words)


class Layout:
    """Where a run's files go inside RUN/."""

    def __init__(self, root: Path):
        self.root = root
        self.personas = root / "personas.jsonl"
        self.llm_personas = root / "personas.llm.jsonl"
        self.templates = root / "conversations" / "templates.jsonl"
        self.llm = root / "conversations" / "llm.jsonl"
        self.results = root / "results.json"
        self.manifest = root / "manifest.json"
        self.report = root / "report"
        self.card = root / "README.md"


def _flag_list(flag: str, values) -> list[str]:
    return [w for v in values for w in (flag, str(v))]


def plan(config: RunConfig, root: Path) -> list[Stage]:
    """The stages of a run of `config` into folder `root`, in order."""
    from ..comparators.cli import compare
    from ..generators.cli import generate
    from ..personas.cli import personas

    files = Layout(root)
    seed = str(config.seed)
    stages = []

    pc = config.personas
    p_args = ["sample", "-n", str(pc.n), "--seed", seed, *_flag_list("--locale", pc.locales),
              *_flag_list("--taxonomy", pc.taxonomy), *pc.extra_args, "-o", str(files.personas)]
    stages.append(Stage(
        "personas", {"config": pc.model_dump(), "seed": config.seed,
                     "inputs": [path_identity(f) for f in pc.taxonomy]},
        [files.personas], lambda fresh: invoke(personas, p_args + (["--restart"] if fresh else []), "personas"),
        commands=[_command_line(["personas", *p_args])]))

    synthetic = []
    tc = config.templates
    if tc.enabled:
        t_args = ["templates", "--personas", str(files.personas), "--per-persona", str(tc.per_persona),
                  "--turns", str(tc.turns), "--disclosure", tc.disclosure, "--realism", tc.realism,
                  "--seed", seed, *_flag_list("--templates", tc.templates), *_flag_list("--taxonomy", pc.taxonomy),
                  *tc.extra_args, "-o", str(files.templates)]
        stages.append(Stage(
            "templates", {"config": tc.model_dump(), "seed": config.seed,
                          "inputs": [path_identity(f) for f in tc.templates]},
            [files.templates], lambda fresh: invoke(generate, t_args + (["--restart"] if fresh else []), "templates"),
            after=("personas",), commands=[_command_line(["generate", *t_args])]))
        synthetic.append(("templates", files.templates))

    lc = config.llm
    if lc.enabled:
        l_args = ["llm", "--personas", str(files.llm_personas if lc.personas else files.personas),
                  "--per-persona", str(lc.per_persona), "--turns", str(lc.turns), "--backend", lc.backend,
                  "--model", lc.model, *(["--base-url", lc.base_url] if lc.base_url else []),
                  "--realism", lc.realism, "--user-max-tokens", str(lc.user_max_tokens),
                  "--assistant-max-tokens", str(lc.assistant_max_tokens), "--temperature", str(lc.temperature),
                  "--seed", seed, *_flag_list("--taxonomy", pc.taxonomy), *lc.extra_args, "-o", str(files.llm)]

        def run_llm(fresh: bool) -> None:
            if lc.personas:
                _head(files.personas, files.llm_personas, lc.personas)
            invoke(generate, l_args + (["--force"] if fresh else ["--resume"]), "llm")

        head = [f"head -n {lc.personas} {files.personas} > {files.llm_personas}"] if lc.personas else []
        stages.append(Stage("llm", {"config": lc.model_dump(), "seed": config.seed}, [files.llm], run_llm,
                            after=("personas",), commands=head + [_command_line(["generate", *l_args])]))
        synthetic.append(("llm", files.llm))

    if not synthetic:
        raise SynthgapError("nothing to compare: templates and llm are both disabled in the run config")
    cc, real = config.compare, config.real
    c_args = ["--real", f"{real.label}={real.source}", *[w for label, path in synthetic
                                                         for w in ("--synthetic", f"{label}={path}")],
              *_flag_list("--also-real", real.also_real), "--metrics", cc.metrics, "--unit", cc.unit,
              *(["--sample", str(cc.sample)] if cc.sample else []), "--seed", seed,
              "--bootstrap", str(cc.bootstrap), "--personas", str(files.personas)]
    if cc.extraction != "none":
        c_args += ["--extraction", cc.extraction, "--extraction-users", str(cc.extraction_users)]
    c_args += [*cc.extra_args, "--quiet", "-o", str(root)]
    real_inputs = [path_identity(real.source)] + [path_identity(s.partition("=")[2] or s) for s in real.also_real]
    stages.append(Stage("compare", {"config": cc.model_dump(), "real": real.model_dump(), "seed": config.seed,
                                    "inputs": real_inputs},
                        [files.results, files.manifest], lambda fresh: invoke(compare, c_args, "compare"),
                        after=tuple(name for name, _ in synthetic) + ("personas",),
                        commands=[_command_line(["compare", *c_args])]))

    def run_report(fresh: bool) -> None:
        from ..reports.cli import read_results
        from ..reports.files import write_report

        results, manifest = read_results(files.results)
        write_report(results, manifest, files.report, config.report.formats)

    report_outputs = {"md": files.report / "report.md", "html": files.report / "report.html"}
    stages.append(Stage("report", {"formats": sorted(config.report.formats)}, [
        report_outputs[f] for f in config.report.formats if f in report_outputs], run_report, after=("compare",),
        commands=[_command_line(["report", str(files.results), *_flag_list("--format", config.report.formats),
                                 "-o", str(files.report)])]))

    def run_card(fresh: bool) -> None:
        from ..records import AtomicWriter
        from ..reports.card import render_card

        with AtomicWriter(files.card) as fh:
            fh.write(render_card(root, config.model_dump(mode="json"), [name for name, _ in synthetic]))

    stages.append(Stage("card", {"card": config.card.model_dump()}, [files.card], run_card,
                        after=tuple(s.name for s in stages)))
    return stages


def _head(source: Path, target: Path, n: int) -> None:
    """The first n persona lines of `source` (a deterministic subset for the slower LLM stage)."""
    from ..records import AtomicWriter

    lines = []
    with open(source, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                lines.append(line if line.endswith("\n") else line + "\n")
                if len(lines) == n:
                    break
    with AtomicWriter(target) as fh:
        fh.write("".join(lines))


def _option(words: list[str], flag: str) -> Optional[str]:
    """The value of `flag` in extra_args words ('--flag value' or '--flag=value'), the last one winning."""
    value = None
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith(flag + "="):
            value = word.split("=", 1)[1]
    return value


def engines(config: RunConfig, stages: Optional[Collection[str]] = None) -> list[tuple[str, Optional[str]]]:
    """(backend kind, model) of every LLM engine a run of `config` loads, in stage order, without repeats;
    with `stages`, only the engines of those stages (the ones that will run)."""
    found: list[tuple[str, Optional[str]]] = []
    lc = config.llm
    if lc.enabled and (stages is None or "llm" in stages):
        found.append((_option(lc.extra_args, "--backend") or lc.backend, lc.model))
        assistant = _option(lc.extra_args, "--assistant-backend")
        if assistant:
            found.append((assistant, _option(lc.extra_args, "--assistant-model") or lc.model))
    cc = config.compare
    if cc.extraction == "llm" and (stages is None or "compare" in stages):
        found.append((_option(cc.extra_args, "--llm-backend") or "llamacpp", _option(cc.extra_args, "--llm-model")))
    return list(dict.fromkeys(found))


def preflight(config: RunConfig, stages: Optional[Collection[str]] = None,
              log: Callable[[str], None] = lambda m: None) -> None:
    """Check every engine the stages to run will load before any starts, so a build that cannot run
    here stops the run with one line and leaves the run folder as it was (a run whose LLM stages
    are all reused needs no engine, and is not stopped)."""
    from ..llm.preflight import require

    for kind, model in engines(config, stages):
        check = require(kind, model)
        if check is not None and not check.cached:
            log(f"checked {kind}: {check.detail} ({check.seconds:.1f} s)")


def run(config: RunConfig, root, log: Callable[[str], None] = lambda m: None,
        config_file: Optional[str] = None) -> list[dict]:
    """Run (or reuse) every stage of `config` into folder `root`; returns the per-stage records.

    The LLM engines are checked first (`preflight`): nothing is written before they pass.
    """
    from ..outputs import fingerprint, versions

    root = Path(root)
    stages = plan(config, root)
    state = RunState(root)  # reads run.json, if any; nothing is written before the preflight passes
    preflight(config, pending(stages, state), log)
    root.mkdir(parents=True, exist_ok=True)
    state.data.update({"config": config.model_dump(mode="json"), "config_fingerprint": fingerprint(
        config.model_dump(mode="json")), "config_file": config_file, "versions": versions()})
    started = time.perf_counter()
    records = run_stages(stages, state, log)
    state.data["last_run"] = {"stages": records, "seconds": round(time.perf_counter() - started, 3)}
    state.save()
    return records


def summary(root) -> dict:
    """Counts for the closing message: metrics per synthetic corpus and how many are beyond the yardstick."""
    results = json.loads((Path(root) / "results.json").read_text(encoding="utf-8"))
    out: dict = {}
    for m in results["metrics"]:
        item = out.setdefault(m["synthetic"], {"metrics": 0, "tested": 0, "beyond": 0})
        item["metrics"] += 1
        item["tested"] += m.get("beyond_baseline") is not None
        item["beyond"] += bool(m.get("beyond_baseline"))
    return out


__all__ = ["Layout", "engines", "invoke", "plan", "preflight", "run", "summary"]
