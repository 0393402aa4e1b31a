"""Architecture numbers, at any commit: how big the App contract is, what an app must
write, where each app's prediction I/O is defined, and which imports run up the layers.

    python bench/architecture.py                 # the working tree
    python bench/architecture.py 63d3ce4 HEAD    # commits, side by side

Layers, bottom to top (an import may go down or sideways, never up):
    0 errors, io, config, registry, runs, search_space, layers, data, evaluation
    1 app (the contract)
    2 training
    3 export, optimization, serving, tuning, loading
    4 comparison
    5 apps (the five apps, above the generic library; never each other)
    6 api
    7 cli
Imports under `if TYPE_CHECKING:` do not count (they run no code).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RANK = {"errors": 0, "io": 0, "config": 0, "registry": 0, "runs": 0, "search_space": 0, "layers": 0,
        "data": 0, "evaluation": 0, "app": 1, "training": 2, "export": 3, "optimization": 3,
        "serving": 3, "tuning": 3, "loading": 3, "comparison": 4, "apps": 5, "api": 6, "cli": 7}
APPS = ("vision", "sentiment", "speech", "forecast", "dcgan")


def _module(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    if rel.parts[0] == "apps":
        return "kerasdl.apps." + ".".join(rel.parts[1:])
    return ".".join(rel.parts)


def _rank(module: str) -> float | None:
    parts = module.split(".")
    return RANK.get(parts[1]) if parts[0] == "kerasdl" and len(parts) > 1 else None


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def upward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted([*(root / "kerasdl").rglob("*.py"), *(root / "apps").rglob("*.py")]):
        module = _module(root, path)
        rank = _rank(module)
        if rank is None:
            continue
        tree = ast.parse(path.read_text())
        skipped = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", 0) in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "kerasdl":
                targets = [f"kerasdl.{a.name}" for a in node.names]  # from kerasdl import api
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                if module.startswith("kerasdl.apps.") and target.startswith("kerasdl.apps."):
                    if module.split(".")[2] != target.split(".")[2]:
                        found.append(f"{module} -> {target} (another app)")
                    continue
                target_rank = _rank(target)
                if target_rank is not None and target_rank > rank:
                    found.append(f"{module} -> {target}")
    return sorted(set(found))


def contract(root: Path) -> tuple[int, int, list[str], list[str]]:
    """(lines of kerasdl/app.py, App's methods, App's abstract methods (every app writes
    them), the ones a classifier app must write after the shared ClassifierApp)."""
    tree = ast.parse((root / "kerasdl" / "app.py").read_text())
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}

    def methods(name: str) -> list[ast.FunctionDef]:
        return [n for n in classes[name].body if isinstance(n, ast.FunctionDef)] if name in classes else []

    def abstract(name: str) -> set[str]:
        return {m.name for m in methods(name)
                if any("abstractmethod" in ast.unparse(d) for d in m.decorator_list)}

    concrete_in_classifier = {m.name for m in methods("ClassifierApp")}
    must = sorted((abstract("App") | abstract("SupervisedApp")) - concrete_in_classifier)
    lines = len((root / "kerasdl" / "app.py").read_text().splitlines())
    return lines, len(methods("App")), sorted(abstract("App")), must


def prediction_io_places(root: Path) -> dict[str, list[str]]:
    """Per app, the files that define how its inputs are read for prediction."""
    places: dict[str, list[str]] = {app: [] for app in APPS}
    edge = root / "tflite" / "kerasdl_edge"
    for app in APPS:
        app_file = root / "apps" / app / "app.py"
        if app_file.is_file() and "def read_inputs" in app_file.read_text():
            places[app].append(f"apps/{app}/app.py")
        for path in sorted(edge.rglob("*.py")):
            text = path.read_text()
            if f'self.app == "{app}"' in text or (path.parent.name == "codecs" and path.stem == app):
                places[app].append(str(path.relative_to(root)))
    return places


def measure(root: Path) -> dict[str, object]:
    lines, app_methods, every_app, must = contract(root)
    places = prediction_io_places(root)
    return {"app_py_lines": lines, "app_methods": app_methods, "every_app": every_app, "must_write": must,
            "io_places": max(len(v) for v in places.values()), "io_files": places,
            "upward": upward_imports(root)}


def _checkout(rev: str) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="kerasdl-arch-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="*", help="commits (default: the working tree)")
    args = parser.parse_args()
    columns = {rev: measure(_checkout(rev)) for rev in args.revisions} or {"working tree": measure(ROOT)}
    rows = [
        ("lines in kerasdl/app.py", lambda m: m["app_py_lines"]),
        ("methods of App", lambda m: m["app_methods"]),
        ("abstract methods of App (every app writes them)", lambda m: len(m["every_app"])),
        ("methods a classifier app writes (after ClassifierApp)", lambda m: len(m["must_write"])),
        ("places each app's prediction I/O is defined", lambda m: m["io_places"]),
        ("upward imports", lambda m: len(m["upward"])),
    ]
    lines = ["| measure | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(str(get(m)) for m in columns.values()) + " |" for label, get in rows]
    for rev, m in columns.items():
        lines += ["", f"{rev}: every app writes {', '.join(m['every_app'])}; a classifier app "
                      f"{', '.join(m['must_write'])}."]
        lines += [f"- upward: {u}" for u in m["upward"]] or ["- no upward import"]
    write_result("architecture", "Architecture numbers", "\n".join(lines),
                 "python bench/architecture.py " + " ".join(args.revisions))


if __name__ == "__main__":
    main()
