"""The import-direction rule (decisions §1, issue 7): the identity and workspace apps never import
the run engine's app, and ``config`` imports no domain app at module level. Read from the source
so the rule cannot rot as files are added."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = "apps_runtime"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _sources(app: str) -> list[Path]:
    return [p for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts]


@pytest.mark.parametrize("app", ["accounts", "workspaces", "oauth_device"])
def test_identity_apps_never_import_the_runtime(app):
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources(app)
        for line, module in _imports(path)
        if module == RUNTIME or module.startswith(RUNTIME + ".")
    ]
    assert offenders == []


def test_accounts_meets_workspaces_only_in_its_views():
    # Memberships point at accounts, so workspaces may import accounts; the other way round only
    # the views that answer with both (/account) compose them.
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources("accounts")
        if path.name != "views.py" and "tests" not in path.parts
        for line, module in _imports(path)
        if module == "workspaces" or module.startswith("workspaces.")
    ]
    assert offenders == []


def test_the_rule_sees_an_import_when_there_is_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from apps_runtime.models import App\n    return App\n")
    assert (2, "apps_runtime.models") in _imports(sample)


def test_every_app_is_checked():
    for app in ("accounts", "workspaces", "oauth_device"):
        assert len(_sources(app)) > 5


def test_the_run_layer_never_imports_the_forms():
    """Issue 17: forms → runs, one way; the run job reaches human input only through the hook
    in ``apps_runtime.runs.pausing``, and ``forms.services`` does not import ``forms.runflow``."""
    runs = [p for p in _sources(f"{RUNTIME}/runs") if "tests" not in p.parts]
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in runs
        for line, module in _imports(path)
        if module.startswith(f"{RUNTIME}.forms")
    ]
    services = ROOT / RUNTIME / "forms" / "services.py"
    tree = ast.parse(services.read_text(encoding="utf-8"))
    offenders += [
        f"forms/services.py:{node.lineno} imports runflow"
        for node in ast.walk(tree)
        if (
            isinstance(node, (ast.Import, ast.ImportFrom))
            and any("runflow" in alias.name for alias in node.names)
        )
        or (isinstance(node, ast.ImportFrom) and "runflow" in (node.module or ""))
    ]
    assert len(runs) > 10
    assert offenders == []
