"""Prompt templates: the built-in Jinja2 files in `synthgap/templates/prompts/`, overridable per file.

A directory passed by the user is searched first, so a file of the same name replaces the
built-in one. Templates render in Jinja2's sandbox with StrictUndefined: a misspelt variable is
an error naming the file and line, not an empty string in a prompt.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Iterable, Union

from ..errors import SynthgapError


def builtin_prompts() -> Path:
    return Path(str(resources.files("synthgap.templates") / "prompts"))


class PromptError(SynthgapError):
    """A prompt template that is missing, does not compile, or fails to render."""


class PromptLibrary:
    """Named prompt templates (`user_turn`, `assistant_system`, `enrich_persona`, ...)."""

    def __init__(self, extra_dirs: Iterable[Union[str, Path]] = ()):
        import jinja2
        from jinja2.sandbox import SandboxedEnvironment

        self.dirs = [Path(d) for d in extra_dirs]
        for d in self.dirs:
            if not d.is_dir():
                raise PromptError(f"{d}: prompt directory not found")
        self.dirs.append(builtin_prompts())
        self.env = SandboxedEnvironment(loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]),
                                        undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                                        lstrip_blocks=True, keep_trailing_newline=False)
        self._compiled: dict = {}

    def path(self, name: str) -> Path:
        for d in self.dirs:
            candidate = d / f"{name}.j2"
            if candidate.is_file():
                return candidate
        raise PromptError(f"prompt template {name}.j2 not found in {', '.join(map(str, self.dirs))}")

    def template(self, name: str):
        if name not in self._compiled:
            import jinja2

            path = self.path(name)
            try:
                self._compiled[name] = self.env.get_template(f"{name}.j2")
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(f"{path}: line {exc.lineno}: {exc.message}") from None
        return self._compiled[name]

    def render(self, template: str, /, **variables) -> str:
        import jinja2

        name = template
        try:
            text = self.template(name).render(**variables)
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{self.path(name)}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise PromptError(f"{self.path(name)}: {exc}") from None
        return text.strip()

    def identity(self, names: Iterable[str]) -> dict[str, str]:
        """A hash of each named template's text: part of a run's fingerprint, so an edited prompt is a new run."""
        return {n: hashlib.sha256(self.path(n).read_bytes()).hexdigest()[:16] for n in names}


__all__ = ["PromptError", "PromptLibrary", "builtin_prompts"]
