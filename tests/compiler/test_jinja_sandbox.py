"""Compiling an untrusted project runs none of its code: known Jinja escape payloads, in a
FlowForge model and in a dbt model, are refused with exit 1 naming the file, and none reaches
the interpreter (each would create a file if it did)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# A payload that escaped would run this: the test looks for the file it makes.
RUN = "system('touch pwned')"

# Payloads on the names both front ends give templates.
COMMON = [
    "{{ cycler.__init__.__globals__.os." + RUN + " }}",
    "{{ joiner.__init__.__globals__.os." + RUN + " }}",
    "{{ namespace.__init__.__globals__.os." + RUN + " }}",
    "{{ lipsum.__globals__['os']." + RUN + " }}",
    "{{ lipsum.__globals__.__builtins__.__import__('os')." + RUN + " }}",
    "{{ self.__init__.__globals__.__builtins__.__import__('os')." + RUN + " }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os." + RUN + " }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ {}.__class__.__base__.__subclasses__() }}",
    "{{ (1).__class__.__mro__[-1].__subclasses__() }}",
    "{{ ''|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ '{0.__class__.__base__.__subclasses__}'.format('') }}",
    "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "{{ '%s'|format(cycler.__init__.__globals__) }}",
    "{% set g = cycler.__init__.__globals__ %}{{ g.os." + RUN + " }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ range.__self__.__import__('os')." + RUN + " }}",
    "{{ ref.__globals__['os']." + RUN + " }}",
    "{{ var.__globals__['os']." + RUN + " }}",
    "{{ config.__globals__['os']." + RUN + " }}",
    "{{ env_var.__globals__['os']." + RUN + " }}",
    "{{ source.__code__.co_consts }}",
    "{{ is_incremental.__globals__['os']." + RUN + " }}",
    "{{ this.__class__.__init__.__globals__['os']." + RUN + " }}",
    "{{ this.__dict__ }}",
    "{{ target.__class__.__init__.__globals__['os']." + RUN + " }}",
    "{{ self.__dict__ }}",
]

# Payloads on dbt's own names (modules, exceptions, adapter, fromjson, ...).
DBT = [
    "{{ modules.datetime.sys.modules['os']." + RUN + " }}",
    "{{ modules.re.sre_compile }}{{ modules.re.functools.__globals__ }}",
    "{{ modules.re.compile.__globals__['os'] }}",
    "{{ modules.datetime.datetime.now.__self__.__init__ }}",
    "{{ modules.__dict__ }}",
    "{{ modules._functions['datetime'].sys.modules['os']." + RUN + " }}",
    "{{ exceptions._functions }}",
    "{{ exceptions.raise_compiler_error.__globals__['os']." + RUN + " }}",
    "{{ adapter.dispatch.__globals__['os']." + RUN + " }}",
    "{{ adapter.dispatch.__closure__ }}",
    "{{ fromjson.__globals__['os']." + RUN + " }}",
    "{{ fromyaml.__globals__['yaml'].unsafe_load('!!python/object/apply:os.system [touch pwned]') }}",
    "{{ run_query.__self__.__dict__ }}",
    "{{ zip.__class__.__subclasses__() }}",
    "{{ set.__subclasses__() }}",
    "{{ log.__globals__['os']." + RUN + " }}",
]


def _compile(project: Path) -> tuple[int, str]:
    from flowforge.cli import main

    old = os.getcwd()
    os.chdir(project)  # a payload that escaped would make `pwned` here
    try:
        main(["compile", str(project)])
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        os.chdir(old)
    return code, ""


def _assert_refused(project: Path, path: str, capsys) -> None:
    capsys.readouterr()
    code, _ = _compile(project)
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1, text
    assert path in text, text
    assert "Traceback" not in text
    assert not (project / "pwned").exists()


@pytest.mark.parametrize("payload", COMMON)
def test_a_flowforge_model_cannot_reach_the_interpreter(payload: str, make_project, capsys) -> None:
    root = make_project({"models/m.ff.sql": f"select 1 as x -- {payload}"})
    _assert_refused(root, "models/m.ff.sql", capsys)


@pytest.mark.parametrize("payload", COMMON + DBT)
def test_a_dbt_model_cannot_reach_the_interpreter(payload: str, make_project, capsys) -> None:
    root = make_project({
        "project.yml": None,
        "dbt_project.yml": "name: shop\nversion: '1'\nprofile: shop\n",
        "models/m.sql": f"select 1 as x -- {payload}",
    })
    _assert_refused(root, "models/m.sql", capsys)


@pytest.mark.parametrize("payload", DBT[:4])
def test_a_dbt_macro_cannot_reach_the_interpreter(payload: str, make_project, capsys) -> None:
    root = make_project({
        "project.yml": None,
        "dbt_project.yml": "name: shop\nversion: '1'\nprofile: shop\n",
        "macros/evil.sql": f"{{% macro evil() %}}{payload}{{% endmacro %}}",
        "models/m.sql": "select 1 as x -- {{ evil() }}",
    })
    _assert_refused(root, "macros/evil.sql", capsys)


def test_a_profile_template_cannot_reach_the_interpreter(make_project, capsys) -> None:
    root = make_project({
        "profiles.yml": "default:\n  engine: duckdb\n  duckdb:\n    path: \"{{ env_var.__globals__['os']." + RUN + " }}\"\n",
        "models/m.ff.sql": "select 1 as x",
    })
    capsys.readouterr()
    code, _ = _compile(root)
    text = "".join(capsys.readouterr())
    assert code != 0 and code != 99, text
    assert "profiles.yml" in text and "unsafe" in text, text
    assert not (root / "pwned").exists()


def test_dbts_documented_modules_still_work(make_project, capsys) -> None:
    """What dbt documents templates may use: datetime, re and itertools members."""
    body = (
        "select '{{ modules.datetime.date(2024, 1, 2).isoformat() }}' as d,"
        " '{{ modules.re.sub('[aeiou]', '', 'flowforge') }}' as r,"
        " '{{ modules.itertools.chain([1], [2]) | list | join('-') }}' as i,"
        " '{{ (modules.datetime.datetime(2024, 1, 2) + modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d') }}' as t"
    )
    root = make_project({
        "project.yml": None,
        "dbt_project.yml": "name: shop\nversion: '1'\nprofile: shop\n",
        "models/m.sql": body,
    })
    from tests.compiler.helpers import compile_dir

    sql = compile_dir(root).node("m").sql
    assert "'2024-01-02'" in sql and "'flwfrg'" in sql and "'1-2'" in sql and "'2024-01-03'" in sql


def test_no_module_is_reachable_through_an_attribute() -> None:
    """Beyond Jinja's sandbox: a module handed to a template by mistake still gives nothing (a
    module's `sys` would hand over the interpreter), and a SafeModule only its named members."""
    import datetime

    from jinja2 import UndefinedError
    from jinja2.sandbox import SecurityError

    from flowforge_compiler.jinja_sandbox import ProjectSandbox, SafeModule

    env = ProjectSandbox()
    with pytest.raises(SecurityError, match="'sys'"):
        env.from_string("{{ m.sys.modules }}").render(m=datetime)
    with pytest.raises(SecurityError, match="'date'"):
        env.from_string("{{ m.date(2024, 1, 1) }}").render(m=datetime)  # not even a harmless member
    holder = SafeModule(datetime, ["date"])
    assert env.from_string("{{ m.date(2024, 1, 1) }}").render(m=holder) == "2024-01-01"
    with pytest.raises(UndefinedError):  # only what was named
        env.from_string("{{ m.sys.modules }}").render(m=holder)
