"""`synthgap run`: personas -> template and LLM conversations -> compare -> report -> dataset card.

Each stage calls the library job of the command a user would type (the command line is recorded
in run.json, so every step can be repeated or varied by hand), and each job keeps its own resume
logic and manifest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Collection, Optional, Union

from ..errors import SynthgapError
from ..outputs import JobResult, Log, quiet
from .commands import command_line
from .config import RunConfig, parse_run_config
from .stages import RunState, Stage, path_identity, pending, run_stages


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


def plan(config: RunConfig, root: Path, log: Log = quiet) -> list[Stage]:
    """The stages of a run of `config` into folder `root`, in order (each calls its library job)."""
    from ..comparators.jobs import compare
    from ..generators.jobs import generate_llm, generate_templates
    from ..personas.jobs import sample_personas

    files = Layout(root)
    stages = []
    ex = config.executor  # where the stages run; never part of a stage's fingerprint (it changes no output)

    pj = config.personas_job()
    stages.append(Stage(
        "personas", {"config": pj.model_dump(mode="json"), "inputs": [path_identity(f) for f in pj.taxonomy]},
        [files.personas], lambda fresh: sample_personas(pj, files.personas, restart=fresh, log=log, executor=ex),
        commands=[command_line("personas sample", pj, output=files.personas, executor=ex)]))

    synthetic = []
    if config.templates.enabled:
        tj = config.templates_job()
        stages.append(Stage(
            "templates", {"config": tj.model_dump(mode="json"), "inputs": [path_identity(f) for f in tj.templates]},
            [files.templates],
            lambda fresh: generate_templates(tj, files.personas, files.templates, restart=fresh, log=log,
                                           executor=ex),
            after=("personas",),
            commands=[command_line("generate templates", tj, personas=files.personas, output=files.templates,
                                  executor=ex)]))
        synthetic.append(("templates", files.templates))

    if config.llm.enabled:
        lj, subset = config.llm_job(), config.llm.personas
        llm_personas = files.llm_personas if subset else files.personas

        def run_llm(fresh: bool) -> None:
            if subset:
                _head(files.personas, files.llm_personas, subset)
            generate_llm(lj, llm_personas, files.llm, resume=not fresh, force=fresh, log=log, executor=ex)

        head = [f"head -n {subset} {files.personas} > {files.llm_personas}"] if subset else []
        stages.append(Stage("llm", {"config": lj.model_dump(mode="json"), "personas": subset}, [files.llm], run_llm,
                            after=("personas",),
                            commands=head + [command_line("generate llm", lj, personas=llm_personas,
                                                          output=files.llm, executor=ex)]))
        synthetic.append(("llm", files.llm))

    if not synthetic:
        raise SynthgapError("nothing to compare: templates and llm are both disabled in the run config")
    cj, real = config.compare_job(), config.real
    real_spec = f"{real.label}={real.source}"
    synthetic_specs = [f"{label}={path}" for label, path in synthetic]
    real_inputs = [path_identity(real.source)] + [path_identity(s.partition("=")[2] or s) for s in real.also_real]
    stages.append(Stage(
        "compare", {"config": cj.model_dump(mode="json"), "real": real.model_dump(), "inputs": real_inputs},
        [files.results, files.manifest],
        lambda fresh: compare(cj, real_spec, synthetic_specs, root, also_real=real.also_real,
                              personas=[files.personas], log=log, executor=ex),
        after=tuple(name for name, _ in synthetic) + ("personas",),
        commands=[command_line("compare", cj, real=real_spec, synthetic=synthetic_specs, also_real=real.also_real,
                               personas=[files.personas], quiet=True, output=root, executor=ex)]))

    def run_report(fresh: bool) -> None:
        from ..reports.jobs import ReportJobConfig, report

        report(ReportJobConfig(formats=config.report.formats), files.results, files.report, log=log)

    report_outputs = {"md": files.report / "report.md", "html": files.report / "report.html"}
    stages.append(Stage("report", {"formats": sorted(config.report.formats)}, [
        report_outputs[f] for f in config.report.formats if f in report_outputs], run_report, after=("compare",),
        commands=["synthgap report " + " ".join([str(files.results), *[f"--format {f}" for f in config.report.formats],
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


def engines(config: RunConfig, stages: Optional[Collection[str]] = None) -> list[tuple[str, Optional[str]]]:
    """(backend kind, model) of every LLM engine a run of `config` loads, in stage order, without repeats;
    with `stages`, only the engines of those stages (the ones that will run). A model of None is the
    engine's built-in default."""
    found: list[tuple[str, Optional[str]]] = []
    lc = config.llm
    if lc.enabled and (stages is None or "llm" in stages):
        found.append((lc.engine.kind, lc.engine.model))
        if lc.assistant is not None:
            found.append((lc.assistant.kind, lc.assistant.model))
    cc = config.compare
    if cc.extraction == "llm" and (stages is None or "compare" in stages):
        engine = cc.extractor.engine
        found.append((engine.kind, engine.model) if engine is not None else ("llamacpp", None))
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


class RunResult(JobResult):
    """A finished run: its folder, what each stage did, and per synthetic corpus how many metrics are beyond
    the real-vs-real yardstick."""
    root: Path
    stages: list[dict]
    summary: dict


def run(config: Union[RunConfig, dict, None] = None, root="runs/default", *, log: Log = quiet,
        config_file: Optional[str] = None) -> RunResult:
    """Run (or reuse) every stage of `config` (a RunConfig, its mapping form, or None for the built-in
    default) into folder `root`. The whole config is checked first, then the LLM engines (`preflight`):
    nothing is written before both pass.
    """
    from ..outputs import fingerprint, versions

    if not isinstance(config, RunConfig):
        config = parse_run_config(config)
    root = Path(root)
    if config.executor.is_ray:  # a missing extra or an unreachable cluster: one line, nothing written
        from ..scale.executor import connect

        connect(config.executor)
    stages = plan(config, root, log)
    state = RunState(root)  # reads run.json, if any; nothing is written before the preflight passes
    preflight(config, pending(stages, state), log)
    root.mkdir(parents=True, exist_ok=True)
    state.data.update({"config": config.model_dump(mode="json"), "config_fingerprint": fingerprint(
        config.model_dump(mode="json")), "config_file": config_file, "versions": versions()})
    started = time.perf_counter()
    records = run_stages(stages, state, log)
    seconds = round(time.perf_counter() - started, 3)
    state.data["last_run"] = {"stages": records, "seconds": seconds}
    state.save()
    return RunResult(outputs=[root], seconds=seconds, root=root, stages=records, summary=summary(root))


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


__all__ = ["Layout", "RunResult", "engines", "plan", "preflight", "run", "summary"]
