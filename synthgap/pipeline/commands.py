"""The command line equivalent to a job config, for run.json: what a user would type to repeat a stage.

Only settings that differ from the job's defaults are written (the command's option defaults are
the job config's defaults), plus the seed, the inputs and the output; a field is the option of the
same name (`per_persona` -> `--per-persona`) unless `FLAGS` names another.
"""

from __future__ import annotations

import shlex
from typing import Any, Optional

from pydantic import BaseModel

# fields whose option is not `--field-name`: a flag, or None for a setting the command takes another way
FLAGS: dict[str, dict[str, Optional[str]]] = {
    "personas sample": {"n": "-n", "locales": "--locale", "sampler_config": "--config", "mapping": "--map"},
    "generate templates": {"intents": "--intent"},
    "generate llm": {"intents": "--intent"},
    "compare": {"match": "--no-size-match", "sensitivity": "--no-sensitivity"},
}
# engine fields -> option suffix (with the prefix of the engine: "", "assistant-", "llm-")
ENGINE = {"kind": "backend", "model": "model", "base_url": "base-url", "api_key_env": "api-key-env",
          "concurrency": "concurrency", "timeout": "timeout", "n_ctx": "n-ctx", "threads": "threads",
          "max_model_len": "max-model-len"}
# what a second engine ("assistant-", "llm-") sets on the command line
PREFIXED = ("kind", "model", "base_url")
# the LLM extractor's settings inside compare: field -> option
EXTRACTOR = {"confidence_threshold": "--confidence-threshold", "merge_threshold": "--merge-threshold",
             "max_failure_rate": "--max-failure-rate", "prompts": "--prompts", "extract_batch": "--extract-batch"}


def _value(value: Any) -> str:
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}-{value[1]}" if value[0] != value[1] else str(value[0])
    return str(value)


def _engine_words(spec: Optional[BaseModel], prefix: str, default: Optional[BaseModel]) -> list[str]:
    if spec is None:
        return []
    words: list[str] = []
    base = default.model_dump() if default is not None else {}
    for key, value in spec.model_dump().items():
        if key == "engine_args" and not prefix:
            words += [w for k, v in value.items() for w in (f"--{prefix}engine-arg", f"{k}={v}")]
        elif key in ENGINE and value is not None and (value != base.get(key) or key in ("kind", "model")):
            if prefix and key not in PREFIXED:
                continue  # a second engine takes only these on the command line; the rest are the main one's
            words += [f"--{prefix}{ENGINE[key]}", str(value)]
    return words


def option_words(command: str, config: BaseModel) -> list[str]:
    """The options that set `config` on `command`'s command line (seed always, others when not default)."""
    from ..llm.factory import BackendSpec

    defaults = type(config)().model_dump()
    flags = FLAGS.get(command, {})
    words: list[str] = []
    for key, value in config.model_dump().items():
        if key == "engine":
            words += _engine_words(getattr(config, key), "llm-" if command == "compare" else "", BackendSpec())
            continue
        if key == "assistant":
            words += _engine_words(getattr(config, key), "assistant-", None)
            continue
        if key in ("extractor", "llm") and isinstance(getattr(config, key), BaseModel):
            sub = getattr(config, key)
            sub_defaults = type(sub)().model_dump()
            for k, v in sub.model_dump().items():
                if k == "engine":
                    words += _engine_words(sub.engine, "llm-", None)
                elif v != sub_defaults[k] and k in EXTRACTOR:
                    words += [w for item in (v if isinstance(v, list) else [v]) for w in (EXTRACTOR[k], str(item))]
            continue
        if value == defaults.get(key) and key != "seed":
            continue
        flag = flags.get(key, "--" + key.replace("_", "-"))
        if flag is None:
            continue
        if isinstance(value, bool):
            if flag.startswith("--no-") and not value or not flag.startswith("--no-") and value:
                words.append(flag)
        elif isinstance(value, list):
            words += [w for item in value for w in (flag, str(item))]
        elif value is not None:
            words += [flag, _value(value)]
    return words


def command_line(command: str, config: BaseModel, *, output, quiet: bool = False, executor=None,
                 **inputs: Any) -> str:
    """`synthgap <command> <inputs> <options> [--quiet] [--executor ray ...] -o <output>` as one shell-quoted line."""
    words = command.split()
    for name, value in inputs.items():
        flag = "--" + name.replace("_", "-")
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            words += [flag, str(item)]
    words += option_words(command, config)
    if quiet:
        words.append("--quiet")
    if executor is not None and executor.is_ray:
        words += ["--executor", "ray"]
        for flag, value in (("--ray-address", executor.address), ("--ray-workers", executor.workers),
                            ("--shard-size", executor.shard_size)):
            if value is not None:
                words += [flag, str(value)]
    words += ["-o", str(output)]
    return "synthgap " + shlex.join(words)


__all__ = ["command_line", "option_words"]
