"""Fit the sampler's marginals (and optional joint tables) to a reference population.

Each reference category's share is spread over the taxonomy values mapped to it, in
proportion to their current weights; numbers get a smoothed per-year histogram. Because
consistency rules condition later attributes on earlier ones, the drawn marginals then drift
from the targets; a few rounds of raking (sample, compare, rescale weights) correct that.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

import numpy as np

from ..errors import SynthgapError
from .reference import Mapping, Population
from .sampler import Joint, PersonaSampler, SamplerConfig
from .taxonomy import Taxonomy


def _base_weights(taxonomy: Taxonomy, key: str, locales: Optional[list[str]]) -> dict[str, float]:
    """Current weight of each value, averaged over the locales in play."""
    attr = taxonomy[key]
    tables = [attr.values_for(loc) for loc in (locales or list(taxonomy.locales))]
    total: Counter = Counter()
    for table in tables:
        for name, value in table.items():
            total[name] += value.weight / max(1, len(tables))
    return dict(total)


def _spread(target: dict[str, float], mapping: Mapping, key: str, base: dict[str, float]) -> dict[str, float]:
    """Taxonomy-value weights whose mapped category shares equal `target`."""
    groups = mapping.groups(key)
    weights = {name: 0.0 for name in base}
    for category, share in target.items():
        members = [m for m in groups.get(category, []) if m in base]
        mass = sum(base[m] for m in members)
        for m in members:
            weights[m] += share * (base[m] / mass if mass > 0 else 1 / len(members))
    return weights


def _numeric_weights(values: list[float], low: int, high: int, width: int = 2) -> dict[str, float]:
    """A per-year histogram smoothed with a small triangular kernel, within the taxonomy's range."""
    counts = np.zeros(high - low + 1)
    for v in values:
        i = int(round(v)) - low
        if 0 <= i < len(counts):
            counts[i] += 1
    kernel = np.concatenate([np.arange(1, width + 2), np.arange(width, 0, -1)]).astype(float)
    smooth = np.convolve(counts, kernel / kernel.sum(), mode="same")
    return {str(low + i): float(w) for i, w in enumerate(smooth) if w > 0}


def fit_config(taxonomy: Taxonomy, reference: Population, mapping: Mapping, base: Optional[SamplerConfig] = None,
               *, joints: tuple[tuple[str, str], ...] = (), rounds: int = 3, sample: int = 3000,
               seed: int = 0) -> tuple[SamplerConfig, list[dict]]:
    """A SamplerConfig whose marginals match the reference; returns it and the raking log."""
    config = (base or SamplerConfig()).model_copy(deep=True)
    if mapping.locales:
        config.locales = {loc: 1.0 for loc in mapping.locales if loc in taxonomy.locales} or config.locales
    locales = list(config.locales) if config.locales else None
    targets: dict[str, dict[str, float]] = {}
    for key, spec in mapping.attributes.items():
        column = reference.column(key)
        if not column or key not in taxonomy:
            continue
        attr = taxonomy[key]
        if spec.kind == "numeric":
            config.weights[key] = _numeric_weights(column, *attr.range)
            continue
        counts = Counter(v for v in column if v in mapping.groups(key))
        if not counts:
            continue
        total = sum(counts.values())
        targets[key] = {c: n / total for c, n in counts.items()}
        config.weights[key] = _spread(targets[key], mapping, key, _base_weights(taxonomy, key, locales))
    for a, b in joints:
        config.joints.append(_joint(taxonomy, reference, mapping, a, b, config, locales))
    log = []
    for r in range(rounds):
        realised = _realised(taxonomy, config, mapping, targets, sample, seed + r)
        gap = {k: 0.5 * sum(abs(targets[k].get(c, 0) - realised[k].get(c, 0))
                            for c in set(targets[k]) | set(realised[k]))
               for k in targets if k in realised}
        log.append({"round": r, "tv_to_target": gap})
        for key, target in targets.items():
            got = realised.get(key)
            if not got:
                continue
            groups = mapping.groups(key)
            for category, share in target.items():
                have = got.get(category, 0.0)
                factor = min(4.0, share / have) if have > 0 else 2.0
                for member in groups.get(category, []):
                    if member in config.weights[key]:
                        config.weights[key][member] *= factor
    return config, log


def _realised(taxonomy: Taxonomy, config: SamplerConfig, mapping: Mapping, targets: dict, n: int,
              seed: int) -> dict[str, dict[str, float]]:
    """Category shares the config actually produces (after consistency rules)."""
    sampler = PersonaSampler(taxonomy, config)
    counts: dict[str, Counter] = {k: Counter() for k in targets}
    for i in range(n):
        _, _, profile, _ = sampler.profile(i, seed)
        for key in targets:
            if key in profile:
                category = mapping.category_of(key, profile[key])
                if category is not None:
                    counts[key][category] += 1
    return {k: {c: v / sum(cnt.values()) for c, v in cnt.items()} for k, cnt in counts.items() if cnt}


def _joint(taxonomy: Taxonomy, reference: Population, mapping: Mapping, a: str, b: str,
           config: SamplerConfig, locales) -> Joint:
    """A joint table for (a, b) from the reference's cross-tabulation, spread over taxonomy values."""
    for key in (a, b):
        if key not in mapping.attributes or mapping.attributes[key].kind != "categorical":
            raise SynthgapError(f"--fit-joint {a},{b}: {key!r} is not a categorical attribute of the mapping")
    cells = Counter((row[a], row[b]) for row in reference.rows if a in row and b in row)
    if not cells:
        raise SynthgapError(f"--fit-joint {a},{b}: no reference rows have both")
    total = sum(cells.values())
    base_a = config.weights.get(a) or _base_weights(taxonomy, a, locales)
    base_b = config.weights.get(b) or _base_weights(taxonomy, b, locales)
    table: dict[str, float] = {}
    for (ca, cb), n in cells.items():
        ma = [m for m in mapping.groups(a).get(ca, []) if base_a.get(m, 0) > 0]
        mb = [m for m in mapping.groups(b).get(cb, []) if base_b.get(m, 0) > 0]
        sa, sb = sum(base_a[m] for m in ma), sum(base_b[m] for m in mb)
        for x in ma:
            for y in mb:
                table[f"{x}|{y}"] = table.get(f"{x}|{y}", 0.0) + (n / total) * base_a[x] / sa * base_b[y] / sb
    return Joint(attributes=[a, b], table=table)
