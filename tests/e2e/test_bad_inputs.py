"""The bad-input sweep: every input a user (or an attacker) can get wrong, through the real CLI.

Each row is a project (the base below plus changes), a command line, the exit code the spec's
table asks for, and the words the message must hold (the file, key or flag, and what to do).
None may exit 99 or print a traceback; none may execute a second statement.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BASE = {
    "project.yml": "name: t\nversion: '1'\n",
    "seeds/users.csv": "id,email\n1,a@x.io\n2,b@x.io\n",
    "models/u.ff.sql": "select * from {{ ref('users') }}",
}
PY = "from flowforge_compiler import model\n"


@dataclass(frozen=True)
class Bad:
    id: str
    files: dict[str, str | None] = field(default_factory=dict)  # None removes a base file
    argv: tuple[str, ...] = ("run", "{p}")
    code: int = 1
    says: tuple[str, ...] = ()
    setup: str | None = None  # a name from SETUPS, run before the command


CASES = [
    # YAML files
    Bad("duplicate key in project.yml", {"project.yml": "name: t\nversion: '1'\nname: u\n"}, says=("project.yml:3", "duplicate key 'name'", "line 1")),
    Bad("duplicate key in profiles.yml", {"profiles.yml": "default:\n  engine: duckdb\n  engine: postgres\n"}, says=("profiles.yml:3", "duplicate key 'engine'")),
    Bad("duplicate key in sources.yml", {"sources.yml": "crm:\n  users: {identifier: a}\n  users: {identifier: b}\n"}, says=("sources.yml:3", "'users'")),
    Bad("duplicate key in seeds/schema.yml", {"seeds/schema.yml": "seeds:\n  users: {}\n  users: {}\n"}, says=("seeds/schema.yml:3", "'users'")),
    Bad("duplicate key in a unit test", {"tests/unit/u.yml": "model: u.ff\nmodel: u.ff\ncases: []\n"}, argv=("utest", "{p}"), says=("tests/unit/u.yml:2", "'model'")),
    Bad("duplicate key in --vars", argv=("run", "{p}", "--vars", "{a: 1, a: 2}"), says=("--vars", "duplicate key 'a'")),
    Bad("unknown project key", {"project.yml": "name: t\nversion: '1'\nvar: {}\n"}, says=("project.yml:3", "unknown key 'var'", "allowed keys")),
    Bad("YAML alias bomb", {"project.yml": "name: t\nversion: '1'\nvars:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n"}, says=("project.yml", "aliases (*name) expand it past 1,000,000 values")),
    Bad("YAML nested 10,000 deep", {"project.yml": "name: t\nversion: '1'\nvars: {v: " + "[" * 10_000 + "]" * 10_000 + "}\n"}, says=("project.yml", "nested too deeply to read")),
    Bad("dbt vars as a list", {"project.yml": None, "dbt_project.yml": "name: shop\nversion: '1'\nvars: [1]\n"}, says=("dbt_project.yml:3", "vars must be a mapping, not list")),
    Bad("dbt accepted_values without values", {"project.yml": None, "dbt_project.yml": "name: shop\nversion: '1'\n", "models/m.sql": "select 1 as x", "models/schema.yml": "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: x\n        data_tests: [accepted_values]\n"}, says=("models/schema.yml", "needs the argument 'values'")),
    Bad("dbt relationships without field", {"project.yml": None, "dbt_project.yml": "name: shop\nversion: '1'\n", "models/m.sql": "select 1 as x", "models/schema.yml": "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: x\n        data_tests: [{relationships: {to: ref('m')}}]\n"}, says=("models/schema.yml", "needs the argument 'field'")),
    Bad("invalid YAML", {"project.yml": "name: [t\n"}, says=("project.yml", "invalid YAML")),
    Bad("YAML not UTF-8", {"sources.yml": "\udcff"}, says=("sources.yml", "UTF-8")),
    # schedules
    Bad("invalid cron in project.yml", {"project.yml": "name: t\nversion: '1'\nschedule: '0 25 * * *'\n"}, says=("project.yml:3", "hour field '25'")),
    Bad("unknown preset", {"project.yml": "name: t\nversion: '1'\nschedule: '@dialy'\n"}, says=("project.yml:3", "'@dialy' is not a schedule preset")),
    Bad("invalid --schedule", argv=("compile", "{p}", "--target", "airflow", "--out", "{tmp}/dags", "--schedule", "every day"), says=("--schedule", "not a cron expression")),
    Bad("@once for Prefect", {"project.yml": "name: t\nversion: '1'\nschedule: '@once'\n"}, argv=("compile", "{p}", "--target", "prefect", "--out", "{tmp}/flows"), says=("'@once' has no cron form",)),
    # checks
    Bad("row_count_between min > max", {"project.yml": "name: t\nversion: '1'\ntests:\n  - {type: row_count_between, table: users, min: 5, max: 2}\n"}, says=("project.yml:4", "min (5) is greater than max (2)")),
    Bad("check on an unknown table", {"project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: userz, column: id}\n"}, says=("project.yml:4", "tests[0].table", "did you mean 'users'")),
    Bad("check where: closes a parenthesis", {"project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: users, column: id, where: \"1=1) as c; drop table users; --\"}\n"}, says=("project.yml:4", "tests[0].where", "closes a parenthesis")),
    Bad("check where: a statement", {"project.yml": "name: t\nversion: '1'\ntests:\n  - {type: not_null, table: users, column: id, where: 'drop table users'}\n"}, argv=("test", "{p}"), says=("tests[0].where", "one boolean expression")),
    Bad("relationships to nothing", {"project.yml": "name: t\nversion: '1'\ntests:\n  - {type: relationships, table: users, column: id, to: \"ref('nope')\"}\n"}, says=("tests[0].to", "'nope' is not a model or seed")),
    # templates reaching Python internals (the sandbox), in both front ends
    Bad("sandbox escape through a Jinja global", {"models/u.ff.sql": "select 1 as x -- {{ cycler.__init__.__globals__.os.system('id') }}"}, says=("models/u.ff.sql", "sandbox")),
    Bad("sandbox escape through a string's class", {"models/u.ff.sql": "select '{{ ''.__class__.__mro__[1].__subclasses__() }}' as x"}, says=("models/u.ff.sql", "sandbox")),
    Bad("sandbox escape in a dbt model", {"project.yml": None, "dbt_project.yml": "name: shop\nversion: '1'\n", "models/m.sql": "select 1 as x -- {{ modules.datetime.__class__.__subclasses__() }}"}, says=("models/m.sql", "sandbox")),
    # streams
    Bad("stream path outside the project", {"project.yml": "name: t\nversion: '1'\nstreams:\n  - name: s\n    source: {type: file_tail, path: /etc/passwd}\n    sessionize: {user_column: u, time_column: t, gap_minutes: 30}\n    into: x\n"}, argv=("stream", "{p}"), says=("project.yml:5", "leaves the project folder", "allow_outside")),
    Bad("stream allow_outside not a list", {"profiles.yml": "default:\n  engine: duckdb\n  allow_outside: /var/log\n"}, argv=("ls", "{p}"), says=("profiles.yml:3", "allow_outside must be a list of folders")),
    # compile-time refusals: what the engine cannot run is named before anything runs
    Bad("not portable: a DuckDB list function on PostgreSQL", {"profiles.yml": "default:\n  engine: postgres\n  postgres: {dsn: 'postgresql://u@h/db'}\n", "models/u.ff.sql": "select list_sum([1, 2]) as v"}, argv=("compile", "{p}"), says=("models/u.ff.sql", "list_sum")),
    Bad("not portable: regexp_extract of a group on PostgreSQL", {"profiles.yml": "default:\n  engine: postgres\n  postgres: {dsn: 'postgresql://u@h/db'}\n", "models/u.ff.sql": "select regexp_extract('ab', '(a)(b)', 2) as v"}, argv=("compile", "{p}"), says=("models/u.ff.sql", "regexp_extract", "config(transpile=false)")),
    # SQL models
    Bad("two models whose relations differ in case only", {"models/Users2.ff.sql": "select 1 as x", "models/users2.ff.sql": "select 2 as x"}, says=("models/", "would build one relation on the duckdb engine", "rename one of them")),
    Bad("a keyword where a table goes", {"models/u.ff.sql": "select email\nfrom from {{ ref('users') }}"}, says=("models/u.ff.sql:2:6", "SQL syntax error (duckdb): syntax error at or near \"from\"")),
    Bad("a join without its condition", {"models/u.ff.sql": "select 1 as x\nfrom {{ ref('users') }} join {{ ref('users') }}"}, says=("models/u.ff.sql:2:", "SQL syntax error (duckdb): syntax error")),
    Bad("two sort directions", {"models/u.ff.sql": "select id from {{ ref('users') }}\norder by id asc desc"}, says=("models/u.ff.sql:2:17", "syntax error at or near \"desc\"")),
    Bad("count(distinct) of nothing", {"models/u.ff.sql": "select count(distinct) as n from {{ ref('users') }}"}, says=("models/u.ff.sql", "SQL syntax error (duckdb): DISTINCT requires at least one argument")),
    Bad("two statements in a model", {"models/u.ff.sql": "select 1 as x;\ndrop table users"}, says=("models/u.ff.sql", "more than one SQL statement"), setup="seeded"),
    Bad("a var that makes two statements", {"models/u.ff.sql": "select * from {{ ref('users') }} where id = {{ var('id') }}"}, argv=("run", "{p}", "--vars", "{id: '1; drop table users'}"), says=("models/u.ff.sql", "more than one SQL statement"), setup="seeded"),
    Bad("a model that is not a query", {"models/u.ff.sql": "drop table users"}, says=("models/u.ff.sql", "is a DROP statement, not a query"), setup="seeded"),
    Bad("an incremental branch that is not a query", {"models/u.ff.sql": "{{ config(materialized='incremental') }}{% if is_incremental() %}delete from users{% else %}select 1 as x{% endif %}"}, says=("models/u.ff.sql", "DELETE statement"), setup="seeded"),
    Bad("a SQL seed that is not a query", {"seeds/more.sql": "insert into users values (3, 'c')"}, says=("seeds/more.sql", "INSERT statement"), setup="seeded"),
    Bad("unterminated string", {"models/u.ff.sql": "select 'abc as x"}, says=("models/u.ff.sql", "unterminated")),
    Bad("self ref", {"models/u.ff.sql": "select * from {{ ref('u') }}"}, says=("models/u.ff.sql", "refers to itself", "{{ this }}")),
    Bad("missing ref", {"models/u.ff.sql": "select * from {{ ref('userz') }}"}, says=("'userz'", "did you mean")),
    Bad("undefined var", {"models/u.ff.sql": "select {{ var('nope') }}"}, says=("models/u.ff.sql:1", "var('nope') is not defined")),
    Bad("Jinja syntax", {"models/u.ff.sql": "select {{ ref('users' }}"}, says=("models/u.ff.sql:1", "Jinja syntax error")),
    Bad("model not UTF-8", {"models/u.ff.sql": "select '\udcff'"}, says=("models/u.ff.sql", "cannot read")),
    # dbt projects
    Bad("dbt model-paths as a string", {"project.yml": None, "dbt_project.yml": "name: shop\nversion: '1'\nmodel-paths: models\n"}, says=("dbt_project.yml:3", "model-paths must be a list of folders", "model-paths: [models]")),
    Bad("dbt +enabled from an unset var", {"project.yml": None, "dbt_project.yml": "name: shop\nversion: '1'\nmodels:\n  shop:\n    +enabled: \"{{ var('undefined') }}\"\n"}, says=("dbt_project.yml", "var('undefined') is not set and has no default")),
    Bad("a macro defined twice", {"macros/a.sql": "{% macro cents(x) %}{{ x }} * 100{% endmacro %}", "macros/b.sql": "{% macro cents(x) %}{{ x }} / 100{% endmacro %}"}, says=("macros/b.sql", "the macro 'cents' is defined twice: in macros/a.sql and in macros/b.sql")),
    Bad("dbt macro defined twice", {"project.yml": None, "dbt_project.yml": "name: shop\nversion: '1'\n", "macros/a.sql": "{% macro cents(x) %}1{% endmacro %}", "macros/sub/b.sql": "{% macro cents(x) %}2{% endmacro %}"}, says=("macros/sub/b.sql", "defined twice: in macros/a.sql")),
    # Python models
    Bad("signature without argument for one dep", {"models/p.ff.py": PY + "@model(name='p', deps=['users'])\ndef f():\n    return None\n"}, says=("models/p.ff.py", "expected signature: def f(df)")),
    Bad("signature with two arguments for two deps", {"models/p.ff.py": PY + "@model(name='p', deps=['users', 'u.ff'])\ndef f(users, u):\n    return users\n"}, says=("models/p.ff.py", "expected signature: def f(inputs)")),
    Bad("signature with an argument and no deps", {"models/p.ff.py": PY + "@model(name='p')\ndef f(df):\n    return df\n"}, says=("models/p.ff.py", "expected signature: def f()")),
    Bad("Python model calls sys.exit(0)", {"models/p.ff.py": PY + "import sys\n@model(name='p')\ndef f():\n    sys.exit(0)\n"}, says=("models/p.ff.py:5", "called sys.exit(0)")),
    Bad("Python model file exits at import", {"models/p.ff.py": PY + "import sys\nsys.exit(0)\n@model(name='p')\ndef f():\n    return None\n"}, says=("models/p.ff.py", "SystemExit")),
    Bad("Python model lists itself", {"models/p.ff.py": PY + "@model(name='p', deps=['p'])\ndef f(df):\n    return df\n"}, says=("models/p.ff.py", "lists itself")),
    Bad("Python syntax error", {"models/p.ff.py": PY + "@model(name='p')\ndef f(:\n"}, says=("models/p.ff.py:3", "invalid Python")),
    Bad("non-literal decorator", {"models/p.ff.py": PY + "N = 'p'\n@model(name=N)\ndef f():\n    return None\n"}, says=("models/p.ff.py:3", "must be literals")),
    # profiles
    Bad("malformed DSN port", {"profiles.yml": "default:\n  engine: postgres\n  postgres: {dsn: 'postgresql://u:hunter2@h:port/db'}\n"}, says=("postgres.dsn", "port is not a number"), setup="no_secret_shown"),
    Bad("DSN that is not a URL", {"profiles.yml": "default:\n  engine: postgres\n  postgres: {dsn: 'host=h password=hunter2'}\n"}, says=("postgres.dsn", "not a URL"), setup="no_secret_shown"),
    Bad("unknown engine", {"profiles.yml": "default:\n  engine: oracle\n"}, says=("unknown engine 'oracle'", "use one of")),
    Bad("unknown profile", argv=("run", "{p}", "--env", "prod"), says=("profile 'prod' requested",)),
    Bad("DuckDB path is a folder", {"profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: blocker}\n"}, says=("duckdb.path", "is a folder"), setup="blocker_folder"),
    Bad("DuckDB path is not a DuckDB file", {"profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: notes.txt}\n", "notes.txt": "hello"}, says=("duckdb.path", "not a valid DuckDB database file")),
    Bad("DuckDB folder cannot be created", {"profiles.yml": "default:\n  engine: duckdb\n  duckdb: {path: notes.txt/w.duckdb}\n", "notes.txt": "hello"}, says=("duckdb.path", "cannot create its folder")),
    Bad("threads not a number", {"profiles.yml": "default:\n  engine: duckdb\n  duckdb: {threads: many}\n"}, says=("profiles.yml:3", "threads")),
    # seeds
    Bad("seed column type that is SQL", {"seeds/schema.yml": "seeds:\n  users: {column_types: {id: 'int) as id from users; drop table users; --'}}\n"}, says=("seeds/schema.yml", "is not a SQL data type")),
    Bad("ragged seed row", {"seeds/users.csv": "id,email\n1,a@x.io\n2\n"}, says=("seeds/users.csv:3", "row has 1 fields, the header has 2")),
    Bad("seed csv with a quote never closed", {"seeds/users.csv": "id,email\n1,\"a@x.io\n2,b@x.io\n"}, says=("seeds/users.csv:2", "a quoted value on line 2 is never closed")),
    Bad("duplicate seed header", {"seeds/users.csv": "id,id\n1,2\n"}, says=("seeds/users.csv:1", "'id' twice")),
    Bad("seed not UTF-8", {"seeds/users.csv": "id,email\n1,\udcff\n"}, says=("seeds/users.csv:2", "not UTF-8")),
    Bad("two seeds with one name", {"seeds/more/users.csv": "id\n3\n"}, says=("seeds/more/users.csv", "two seed files define the seed 'users'")),
    Bad("schema.yml for a missing seed", {"seeds/schema.yml": "seeds:\n  nope: {}\n"}, says=("seeds/schema.yml", "nope")),
    # the command line
    Bad("project path does not exist", argv=("run", "{tmp}/nowhere"), says=("does not exist",)),
    Bad("project path is a file", argv=("run", "{p}/project.yml"), says=("is a file, not a project folder",)),
    Bad("folder without project.yml", {"project.yml": None}, says=("has no project.yml",)),
    Bad("malformed selector", argv=("run", "{p}", "--select", "++users"), says=("--select '++users' is not a selector",)),
    Bad("--out is a file", argv=("compile", "{p}", "--target", "airflow", "--out", "{p}/project.yml"), says=("--out", "is a file, not a folder")),
    Bad("--dag-id with ..", argv=("compile", "{p}", "--target", "airflow", "--out", "{tmp}/dags", "--dag-id", ".."), says=("--dag-id '..' is not a valid id",)),
    Bad("--vars not a mapping", argv=("run", "{p}", "--vars", "[1, 2]"), says=("--vars must be a mapping",)),
    Bad("unknown flag", argv=("run", "{p}", "--no-such-flag"), says=("No such option",)),
    Bad("--target airflow without --out", argv=("compile", "{p}", "--target", "airflow"), says=("needs --out",)),
    # paths that leave the project
    Bad("model symlinked outside", setup="model_link", says=("models/outside.ff.sql", "outside the project folder")),
    Bad("macro symlinked outside", setup="macro_link", says=("macros/outside.sql", "outside the project folder")),
    Bad("seed symlinked outside", setup="seed_link", says=("seeds/outside.csv", "outside the project folder")),
    Bad("helper symlinked outside", setup="helper_link", says=("models/helper.py", "outside the project folder")),
    Bad("unit-test csv outside", {"tests/unit/u.yml": "model: u.ff\ncases:\n  - name: c\n    inputs: {users: {csv: ../../../outside.csv}}\n    expect: {rows: [{id: 1}]}\n"}, argv=("utest", "{p}"), setup="outside_csv", says=("tests/unit/u.yml", "outside the project folder")),
    # inputs that cost a backtracking pattern exponential time (bench/pathological_inputs.py times them)
    Bad("pathological: a comment then 40 blanks before a statement", {"models/u.ff.sql": "-- note\n" + " " * 40 + "drop table users"}, says=("models/u.ff.sql", "is a DROP statement, not a query")),
    Bad("pathological: blank lines and comments before a second statement", {"models/u.ff.sql": "/* a */\n" + "-- b\n \t\n" * 30 + "select 1 as x; select 2"}, says=("models/u.ff.sql", "more than one SQL statement")),
    Bad("pathological: 10,000 nested parentheses", {"models/u.ff.sql": "select " + "(" * 10_000 + "1" + ")" * 10_000 + " as x"}, says=("models/u.ff.sql", "nested too deeply to read")),
    Bad("unit-test csv missing", {"tests/unit/u.yml": "model: u.ff\ncases:\n  - name: c\n    inputs: {users: {csv: nope.csv}}\n    expect: {rows: [{id: 1}]}\n"}, argv=("utest", "{p}"), says=("tests/unit/u.yml", "looked at tests/unit/nope.csv and nope.csv")),
]

SECRET_OUTSIDE = "TOP-SECRET-OUTSIDE-THE-PROJECT"


def _setup(name: str | None, project: Path, outside: Path) -> None:
    outside.mkdir(exist_ok=True)
    secret_file = outside / "secret.txt"
    secret_file.write_text(SECRET_OUTSIDE)
    if name == "seeded":
        from flowforge.cli import main

        (project / "profiles.yml").write_text("default:\n  engine: duckdb\n  duckdb: {path: w.duckdb}\n")
        assert _run(main, ["seed", str(project), "-q"]) == 0
    elif name == "blocker_folder":
        (project / "blocker").mkdir()
    elif name == "model_link":
        (outside / "m.sql").write_text(f"select '{SECRET_OUTSIDE}' as s")
        (project / "models" / "outside.ff.sql").symlink_to(outside / "m.sql")
    elif name == "macro_link":
        (project / "macros").mkdir()
        (outside / "m.sql").write_text("{% macro x() %}" + SECRET_OUTSIDE + "{% endmacro %}")
        (project / "macros" / "outside.sql").symlink_to(outside / "m.sql")
    elif name == "seed_link":
        (outside / "s.csv").write_text(f"s\n{SECRET_OUTSIDE}\n")
        (project / "seeds" / "outside.csv").symlink_to(outside / "s.csv")
    elif name == "helper_link":
        (outside / "helper.py").write_text(f"SECRET = {SECRET_OUTSIDE!r}\n")
        (project / "models" / "helper.py").symlink_to(outside / "helper.py")
        (project / "models" / "p.ff.py").write_text(PY + "import helper\n@model(name='p')\ndef f():\n    return None\n")
    elif name == "outside_csv":
        (project.parent / "outside.csv").write_text(f"id\n{SECRET_OUTSIDE}\n")


def _write(project: Path, files: dict[str, str | None]) -> None:
    for relative, text in files.items():
        path = project / relative
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        # "\udcff" stands for a byte that is not UTF-8
        path.write_bytes(textwrap.dedent(text).encode("utf-8", "surrogateescape"))


def _run(main, argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_clear_error_with_the_right_exit_code(case: Bad, tmp_path: Path, capsys) -> None:
    from flowforge.cli import main

    project = tmp_path / "p"
    _write(project, BASE)
    _setup(case.setup, project, tmp_path / "outside")
    _write(project, case.files)
    capsys.readouterr()
    argv = [a.replace("{p}", str(project)).replace("{tmp}", str(tmp_path)) for a in case.argv]
    old_cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = _run(main, argv)
    finally:
        os.chdir(old_cwd)
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == case.code, text
    for words in case.says:
        assert words in text, f"{words!r} not in:\n{text}"
    assert "Traceback" not in text and "Unexpected error" not in text
    assert SECRET_OUTSIDE not in text and "hunter2" not in text
    if case.setup == "seeded":  # the second statement never ran
        import duckdb

        with duckdb.connect(str(project / "w.duckdb"), read_only=True) as con:
            assert con.execute("select count(*) from users").fetchone() == (2,)


def test_the_sweep_covers_every_family_of_bad_input() -> None:
    """Keeps the sweep honest when rows are edited: each family from the issue has cases."""
    ids = " ".join(c.id for c in CASES)
    for family in (
        "duplicate key", "cron", "min > max", "two statements", "self ref", "signature", "DSN", "DuckDB path", "selector", "--out",
        "symlinked outside", "csv", "project path", "pathological", "sandbox", "stream", "not portable", "alias bomb", "dbt",
    ):
        assert family in ids, family
