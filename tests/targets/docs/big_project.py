"""A generated project of many SQL models (deterministic), for the docs' scale tests and bench."""

from __future__ import annotations

import random
from pathlib import Path


def generate(root: Path, models: int, *, seed: int = 11) -> Path:
    """`models` SQL models over one seed; each reads one to three of the 50 before it, every
    tenth is tagged `hourly`, every seventh is a view."""
    rng = random.Random(seed)
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "seeds").mkdir(exist_ok=True)
    (root / "seeds" / "base.csv").write_text("id,value\n" + "".join(f"{i},{i * 1.5}\n" for i in range(20)))
    names: list[str] = []
    config_lines: list[str] = []
    for i in range(models):
        name = f"m{i:05d}"
        window = names[max(0, i - 50) :]
        parents = rng.sample(window, k=min(len(window), rng.randint(1, 3))) if window else ["base"]
        sql = f"select t0.id, t0.value + {i} as value\nfrom {{{{ ref('{parents[0]}') }}}} as t0\n"
        for k, other in enumerate(parents[1:], start=1):
            sql += f"join {{{{ ref('{other}') }}}} as t{k} using (id)\n"
        (root / "models" / f"{name}.ff.sql").write_text(sql)
        settings = []
        if i % 10 == 0:
            settings.append("tags: [hourly]")
        if i % 7 == 3:
            settings.append("materialized: view")
        if settings:
            config_lines.append(f"  {name}.ff: {{{', '.join(settings)}}}")
        names.append(name)
    (root / "project.yml").write_text(f"name: big_{models}\nversion: '1'\nmodels:\n" + "\n".join(config_lines) + "\n")
    return root
