"""Running jobs beyond one process: the executor choice (local or Ray), sharded outputs committed exactly
once, and the Ray pieces every layer shares (an actor pool over shards, the request cache served to
workers). Ray is an extra (`synthgap[ray]`), imported only when `--executor ray` asks for it; the names
below are imported on first use, so the CLI's options load nothing heavy."""

from importlib import import_module

_EXPORTS = {"ExecutorSpec": ".executor", "LOCAL": ".executor", "active": ".executor", "require_ray": ".executor",
            "using": ".executor", "ShardedOutput": ".shards", "merge_counts": ".shards", "plan_shards": ".shards"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synthgap.scale' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
