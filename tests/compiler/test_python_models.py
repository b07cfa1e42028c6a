"""Python model discovery through `ast`: never importing user code; requires; normalisation."""

from __future__ import annotations

import pytest

from flowforge_compiler.errors import ModuleLoadError, ProjectFileError
from flowforge_compiler.python_models import discover_python_models
from tests.compiler.helpers import compile_dir

HEADER = "from flowforge_compiler import model\n"


def test_discovery_does_not_import_user_code(tmp_path) -> None:
    path = tmp_path / "m.ff.py"
    path.write_text(HEADER + "raise SystemExit('imported!')\n@model(name='m', deps=['a.ff'])\ndef f(df):\n    return df\n")
    [decl] = discover_python_models(path, "models/m.ff.py")
    assert (decl.name, decl.function, decl.deps, decl.line) == ("m", "f", ("a.ff",), 4)


def test_aliases_bare_decorator_and_module_import(tmp_path) -> None:
    path = tmp_path / "m.ff.py"
    path.write_text(
        "import flowforge_compiler as ff\nfrom flowforge_compiler import model as mdl\n"
        "@ff.model(name='a')\ndef a():\n    pass\n"
        "@mdl\ndef b():\n    pass\n"
        "def not_a_model():\n    pass\n"
    )
    assert [d.name for d in discover_python_models(path, "m")] == ["a", "b"]


def test_positional_arguments_and_require_alias(tmp_path) -> None:
    path = tmp_path / "m.ff.py"
    path.write_text(HEADER + "@model('n', ['x.ff'], require=['b', 'a'])\ndef f(df):\n    return df\n")
    [decl] = discover_python_models(path, "m")
    assert (decl.name, decl.deps, decl.requires) == ("n", ("x.ff",), ["a", "b"])


def test_non_literal_arguments_are_an_error(tmp_path) -> None:
    path = tmp_path / "m.ff.py"
    path.write_text(HEADER + "DEPS = ['a']\n@model(name='m', deps=DEPS)\ndef f(df):\n    return df\n")
    with pytest.raises(ModuleLoadError, match="must be literals") as info:
        discover_python_models(path, "models/m.ff.py")
    assert info.value.render().startswith("models/m.ff.py:3")


def test_unknown_decorator_argument(tmp_path) -> None:
    path = tmp_path / "m.ff.py"
    path.write_text(HEADER + "@model(name='m', dependencies=['a'])\ndef f():\n    pass\n")
    with pytest.raises(ModuleLoadError, match="unknown @model argument 'dependencies'"):
        discover_python_models(path, "m")


def _fingerprint(make_project, body: str) -> str:
    root = make_project({"models/src.ff.sql": "select 1 as id", "models/m.ff.py": HEADER + body})
    return compile_dir(root).node("m").fingerprint


BASE = "HELPER = 2\n\n@model(name='m', deps=['src.ff'])\ndef f(df):\n    return df.assign(x=HELPER)\n"


def test_comments_and_docstrings_do_not_change_the_fingerprint(make_project) -> None:
    commented = (
        '"""Module docs."""\n# a comment\nHELPER = 2  # two\n\n@model(name=\'m\', deps=[\'src.ff\'])\n'
        'def f(df):\n    """Docstring."""\n    # explain\n    return df.assign(x=HELPER)\n'
    )
    assert _fingerprint(make_project, BASE) == _fingerprint(make_project, commented)


def test_code_and_used_helpers_change_the_fingerprint(make_project) -> None:
    base = _fingerprint(make_project, BASE)
    assert _fingerprint(make_project, BASE.replace("HELPER = 2", "HELPER = 3")) != base
    assert _fingerprint(make_project, BASE.replace("x=HELPER", "y=HELPER")) != base
    # an unrelated module-level change does not
    assert _fingerprint(make_project, BASE + "\nUNUSED = 1\n") == base


def test_requires_are_keyed_by_relation(make_project) -> None:
    plan = compile_dir(
        make_project(
            {
                "models/users.ff.sql": "select 1 as id",
                "models/o.ff.sql": "select 1 as oid",
                "models/m.ff.py": HEADER + "@model(name='m', deps=['users.ff', 'o'], requires={'users.ff': ['id'], 'o': {'oid'}})\n"
                "def f(frames):\n    return frames['users']\n",
                "models/one.ff.py": HEADER + "@model(name='one', deps=['users.ff'], requires=['id'])\ndef g(df):\n    return df\n",
            }
        )
    )
    assert plan.node("m").python.requires == {"o": ["oid"], "users": ["id"]}
    assert plan.node("one").python.requires == {"users": ["id"]}
    assert plan.node("m").depends_on == ["o.ff", "users.ff"]


def test_requires_must_name_a_dependency(make_project) -> None:
    root = make_project(
        {
            "models/users.ff.sql": "select 1 as id",
            "models/m.ff.py": HEADER + "@model(name='m', deps=['users.ff'], requires={'orders': ['id']})\ndef f(df):\n    return df\n",
        }
    )
    with pytest.raises(ProjectFileError, match="requires names 'orders', which is not one of its deps"):
        compile_dir(root)


def test_python_model_cannot_be_a_view(make_project) -> None:
    root = make_project(
        {
            "project.yml": "name: t\nversion: '1'\nmodels:\n  m: {materialized: view}\n",
            "models/m.ff.py": HEADER + "@model(name='m')\ndef f():\n    return None\n",
        }
    )
    with pytest.raises(ProjectFileError, match="cannot be materialized as 'view'"):
        compile_dir(root)


def test_project_local_helper_modules_are_part_of_the_fingerprint(make_project, tmp_path) -> None:
    root = make_project(
        {
            "models/src.ff.sql": "select 1 as id",
            "models/cleaning.py": '"""Helpers."""\ndef clean(df):\n    return df\n',
            "models/m.ff.py": HEADER + "from cleaning import clean\n@model(name='m', deps=['src.ff'])\ndef f(df):\n    return clean(df)\n",
        }
    )
    base = compile_dir(root).node("m").fingerprint
    (root / "models/cleaning.py").write_text('"""Other docs."""\n# a comment\ndef clean(df):\n    return df\n')
    assert compile_dir(root).node("m").fingerprint == base
    (root / "models/cleaning.py").write_text("def clean(df):\n    return df.dropna()\n")
    assert compile_dir(root).node("m").fingerprint != base
