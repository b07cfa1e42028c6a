"""Generate synthetic FlowForge projects for the benchmarks (deterministic for a given seed)."""

from __future__ import annotations

import random
from pathlib import Path

PY_MODEL = '''from flowforge_compiler import model


@model(name={name!r}, deps={deps!r})
def build(frames):
    frame = frames if not isinstance(frames, dict) else next(iter(frames.values()))
    return frame.assign(value=frame["value"] + {i})
'''

SLEEPY_PY_MODEL = '''import time

import pandas as pd

from flowforge_compiler import model


@model(name={name!r}, deps={deps!r})
def build(*_):
    time.sleep({seconds})
    return pd.DataFrame({{"id": [1], "value": [{seconds}]}})
'''


def generate(root: Path, models: int, *, python_share: float = 0.1, seed: int = 7, max_parents: int = 3) -> Path:
    """A project of `models` models over one seed; each reads 1..max_parents earlier nodes."""
    rng = random.Random(seed)
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "seeds").mkdir(exist_ok=True)
    (root / "project.yml").write_text(f"name: synthetic_{models}\nversion: '1'\n")
    (root / "seeds" / "base.csv").write_text("id,value\n" + "".join(f"{i},{i * 1.5}\n" for i in range(100)))
    names: list[str] = []
    for i in range(models):
        window = names[max(0, i - 50):]
        parents = rng.sample(window, k=min(len(window), rng.randint(1, max_parents))) if window else []
        is_python = rng.random() < python_share
        if is_python:
            name = f"p{i:05d}"
            deps = parents or ["base"]
            (root / "models" / f"{name}.ff.py").write_text(PY_MODEL.format(name=name, deps=deps, i=i))
        else:
            name = f"m{i:05d}.ff"
            refs = parents or ["base"]
            first = refs[0]
            sql = f"select t0.id, t0.value + {i} as value\nfrom {{{{ ref('{first}') }}}} as t0\n"
            for k, other in enumerate(refs[1:], start=1):
                sql += f"join {{{{ ref('{other}') }}}} as t{k} using (id)\n"
            (root / "models" / f"{name}.sql").write_text(sql)
        names.append(name)
    return root


def generate_uneven(root: Path, *, branches: int = 4, depth: int = 4, seed: int = 3) -> Path:
    """Independent chains whose steps take uneven time: where level barriers cost the most."""
    rng = random.Random(seed)
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "project.yml").write_text("name: uneven\nversion: '1'\n")
    for b in range(branches):
        previous: list[str] = []
        for d in range(depth):
            name = f"b{b}_s{d}"
            seconds = round(rng.choice([0.05, 0.1, 0.4, 0.8]), 2)
            (root / "models" / f"{name}.ff.py").write_text(
                SLEEPY_PY_MODEL.format(name=name, deps=previous, seconds=seconds)
            )
            previous = [name]
    return root


DBT_PROFILES = """{name}:
  target: dev
  outputs:
    dev: {{type: duckdb, path: warehouse.duckdb, threads: 4}}
"""


def generate_dbt(root: Path, models: int, *, seed: int = 7, max_parents: int = 3) -> Path:
    """A dbt project (dbt_project.yml, profiles.yml, a seed) of `models` SQL models in ten
    folders, staging ones as views; each reads 1..max_parents of the 50 models before it, and
    every tenth model has unique and not_null tests in its folder's schema.yml."""
    rng = random.Random(seed)
    name = f"dbt_synthetic_{models}"
    (root / "seeds").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        f"name: {name}\nversion: '1.0'\nconfig-version: 2\nprofile: {name}\n"
        f"models:\n  {name}:\n    +materialized: table\n    area_0:\n      +materialized: view\n"
    )
    (root / "profiles.yml").write_text(DBT_PROFILES.format(name=name))
    (root / "seeds" / "base.csv").write_text("id,value\n" + "".join(f"{i},{i * 1.5}\n" for i in range(100)))
    names: list[str] = []
    schema: dict[str, list[str]] = {}
    for i in range(models):
        window = names[max(0, i - 50):]
        refs = rng.sample(window, k=min(len(window), rng.randint(1, max_parents))) if window else ["base"]
        model_name, folder = f"model_{i:05d}", f"area_{i * 10 // models}"
        sql = f"select t0.id, t0.value + {i} as value\nfrom {{{{ ref('{refs[0]}') }}}} as t0\n"
        for k, other in enumerate(refs[1:], start=1):
            sql += f"join {{{{ ref('{other}') }}}} as t{k} using (id)\n"
        (root / "models" / folder).mkdir(parents=True, exist_ok=True)
        (root / "models" / folder / f"{model_name}.sql").write_text(sql)
        if i % 10 == 0:
            schema.setdefault(folder, []).append(model_name)
        names.append(model_name)
    for folder, tested in schema.items():
        entries = "".join(f"  - name: {m}\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n" for m in tested)
        (root / "models" / folder / "schema.yml").write_text("version: 2\nmodels:\n" + entries)
    return root
