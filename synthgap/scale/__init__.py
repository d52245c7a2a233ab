"""Running jobs beyond one process: the executor choice (local or Ray), sharded outputs committed exactly
once, and the Ray pieces every layer shares (an actor pool over shards, the request cache served to
workers). Ray is an extra (`synthgap[ray]`), imported only when `--executor ray` asks for it."""

from .executor import ExecutorSpec, LOCAL, active, require_ray, using
from .shards import ShardedOutput, merge_counts, plan_shards

__all__ = ["ExecutorSpec", "LOCAL", "ShardedOutput", "active", "merge_counts", "plan_shards", "require_ray", "using"]
