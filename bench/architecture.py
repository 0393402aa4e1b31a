"""Architecture numbers, at any commit: how big the App contract is, what an app must
write, where each app's prediction I/O and preprocessing are defined, which imports run
up the layers or in circles, and which files outside its folder an app touches.

    python bench/architecture.py                 # the working tree
    python bench/architecture.py 63d3ce4 HEAD    # commits, side by side

Layers, bottom to top (an import may go down or sideways, never up):
    0 errors, io, config, registry, settings, runtime, runs, search_space, saved_model_format,
      layers, data, evaluation
    1 app (the contract), app_export (its export specification), tasks (what apps of one
      kind share)
    2 training
    3 export, optimization, serving, tuning, loading
    4 comparison
    5 apps (above the generic library; never each other)
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
RANK = {"errors": 0, "io": 0, "config": 0, "registry": 0, "runs": 0, "search_space": 0, "settings": 0,
        "runtime": 0, "saved_model_format": 0, "layers": 0, "data": 0, "evaluation": 0,
        "app": 1, "app_export": 1, "tasks": 1, "training": 2, "export": 3, "optimization": 3,
        "serving": 3, "tuning": 3, "loading": 3, "comparison": 4, "apps": 5, "api": 6, "cli": 7}


def registered_apps(root: Path) -> list[str]:
    """The app names in `kerasdl/registry.py`'s APPS (read, not imported: any commit)."""
    tree = ast.parse((root / "kerasdl" / "registry.py").read_text())
    for node in ast.walk(tree):
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and getattr(target, "id", "") == "APPS":
            return [k.value for k in node.value.keys]
    raise SystemExit("kerasdl/registry.py has no APPS")


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


def imports(root: Path) -> dict[str, set[str]]:
    """Module -> the kerasdl modules it imports anywhere in its code (functions included;
    not under TYPE_CHECKING)."""
    graph: dict[str, set[str]] = {}
    for path in sorted([*(root / "kerasdl").rglob("*.py"), *(root / "apps").rglob("*.py")]):
        module = _module(root, path)
        tree = ast.parse(path.read_text())
        skipped = _type_checking_lines(tree)
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", 0) in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "kerasdl":
                targets.update(f"kerasdl.{a.name}" for a in node.names)  # from kerasdl import api
            elif isinstance(node, ast.ImportFrom) and node.level and module.startswith("kerasdl.apps."):
                targets.add(".".join(module.split(".")[:3]) + (f".{node.module}" if node.module else ""))
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        graph[module.removesuffix(".__init__")] = {t for t in targets if t.startswith("kerasdl.")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def import_cycles(root: Path) -> list[str]:
    """Circles of imports between modules, and between the layers' parts (a folder such
    as export/, or a top module such as loading.py)."""
    graph = imports(root)
    circles = [" <-> ".join(c) for c in _cycles(graph)]

    def part(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:3]) if parts[1:2] == ["apps"] else ".".join(parts[:2])

    parts: dict[str, set[str]] = {}
    for module, targets in graph.items():
        parts.setdefault(part(module), set()).update(part(t) for t in targets if part(t) != part(module))
    modules = {" <-> ".join(c) for c in _cycles(graph)}
    circles += [f"{' <-> '.join(c)} (parts)" for c in _cycles(parts) if " <-> ".join(c) not in modules]
    return circles


def upward_imports(root: Path) -> list[str]:
    found = []
    for module, targets in imports(root).items():
        rank = _rank(module)
        if rank is None:
            continue
        for target in sorted(targets):
            if module.startswith("kerasdl.apps.") and target.startswith("kerasdl.apps."):
                if module.split(".")[2] != target.split(".")[2]:
                    found.append(f"{module} -> {target} (another app)")
                continue
            target_rank = _rank(target)
            if target_rank is not None and target_rank > rank:
                found.append(f"{module} -> {target}")
    return sorted(set(found))


def contract(root: Path) -> dict[str, object]:
    """kerasdl/app.py's size, App's methods and class variables, App's abstract methods
    (every app writes them) and the ones a classifier app must write after the shared
    ClassifierApp."""
    tree = ast.parse((root / "kerasdl" / "app.py").read_text())
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}

    def methods(name: str) -> list[ast.FunctionDef]:
        return [n for n in classes[name].body if isinstance(n, ast.FunctionDef)] if name in classes else []

    def abstract(name: str) -> set[str]:
        return {m.name for m in methods(name)
                if any("abstractmethod" in ast.unparse(d) for d in m.decorator_list)}

    variables = [n for n in classes["App"].body if isinstance(n, (ast.AnnAssign, ast.Assign))]
    concrete_in_classifier = {m.name for m in methods("ClassifierApp")}
    must = sorted((abstract("App") | abstract("SupervisedApp")) - concrete_in_classifier)
    return {"app_py_lines": len((root / "kerasdl" / "app.py").read_text().splitlines()),
            "app_methods": len(methods("App")), "app_variables": len(variables),
            "every_app": sorted(abstract("App")), "must_write": must}


def prediction_io_places(root: Path) -> dict[str, list[str]]:
    """Per app, the files that define how its inputs are read for prediction: its own
    code, or an edge codec named or keyed after the app (a codec of its task kind, shared
    by every app of that kind, is not the app's)."""
    places: dict[str, list[str]] = {}
    edge = root / "tflite" / "kerasdl_edge"
    for app in registered_apps(root):
        places[app] = []
        app_file = root / "apps" / app / "app.py"
        if app_file.is_file() and "def read_inputs" in app_file.read_text():
            places[app].append(f"apps/{app}/app.py")
        for path in sorted(edge.rglob("*.py")):
            text = path.read_text()
            if f'self.app == "{app}"' in text or (path.parent.name == "codecs" and path.stem == app):
                places[app].append(str(path.relative_to(root)))
    return places


# What defines an app's preprocessing: the model's input layers, the edge metadata, the
# task input a mobile runtime hands the model, and the modules that hold them.
PREPROCESSING_HOOKS = {"preprocessing_metadata", "task_input", "image_input", "scale_pixels", "token_input",
                       "waveform_input", "metadata"}


def _defines_preprocessing(path: Path) -> bool:
    """Whether `path` defines preprocessing: a module called preprocessing.py, a
    `*Preprocessor` class, or a preprocessing hook that does more than hand the work to
    a preprocessing module or object (`return preprocessing.metadata(self.info)`)."""
    if path.stem == "preprocessing":
        return True
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith("Preprocessor"):
            return True
        if isinstance(node, ast.FunctionDef) and node.name in PREPROCESSING_HOOKS:
            body = [b for b in node.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
            delegates = (len(body) == 1 and isinstance(body[0], ast.Return) and isinstance(body[0].value, ast.Call)
                         and "preprocess" in ast.unparse(body[0].value.func))
            if not delegates:
                return True
    return False


def preprocessing_places(root: Path) -> dict[str, list[str]]:
    """Per app, the files that define its preprocessing (`_defines_preprocessing`): its
    own folder's, and the shared task module its app class comes from (kerasdl/tasks/).
    The TensorFlow decoders in kerasdl/data/ and their numpy twins in the edge package
    serve every app of a kind and are not counted."""
    places: dict[str, list[str]] = {}
    for app in registered_apps(root):
        folder = root / "apps" / app
        found = [str(p.relative_to(root)) for p in sorted(folder.glob("*.py")) if _defines_preprocessing(p)]
        app_text = (folder / "app.py").read_text() if (folder / "app.py").is_file() else ""
        for task in sorted((root / "kerasdl" / "tasks").glob("*.py")):
            if f"kerasdl.tasks.{task.stem} import" in app_text and _defines_preprocessing(task):
                found.append(str(task.relative_to(root)))
        places[app] = found
    return places


def files_to_add_an_app(root: Path) -> list[str]:
    """The files outside its folder that a new app must edit: the registry line, and
    any file that lists the apps by hand (a package list, a codec table keyed by app
    name, tests or benchmarks with the app names written out)."""
    apps = registered_apps(root)
    needed = ["kerasdl/registry.py"]
    pyproject = (root / "pyproject.toml").read_text()
    if any(f'"kerasdl.apps.{app}"' in pyproject for app in apps):
        needed.append("pyproject.toml (package list or package data)")
    codecs = root / "tflite" / "kerasdl_edge" / "codecs" / "__init__.py"
    if codecs.is_file() and any(f'"{app}": "kerasdl_edge' in codecs.read_text() for app in apps):
        needed.append(str(codecs.relative_to(root)) + " (a codec keyed by app name)")
    for path in sorted([*(root / "tests").glob("*.py"), *(root / "bench").glob("*.py")]):
        for line in path.read_text().splitlines():
            if sum(f'"{app}"' in line for app in apps) >= len(apps) - 1:
                needed.append(str(path.relative_to(root)) + " (the app names written out)")
                break
        else:
            if all(f"apps/{app}/README" in path.read_text() for app in apps):
                needed.append(str(path.relative_to(root)) + " (each app's guide written out)")
    return needed


def measure(root: Path) -> dict[str, object]:
    places = prediction_io_places(root)
    preprocessing = preprocessing_places(root)
    return {**contract(root), "io_places": max(len(v) for v in places.values()), "io_files": places,
            "preprocessing_places": max(len(v) for v in preprocessing.values()),
            "preprocessing_files": preprocessing, "upward": upward_imports(root),
            "cycles": import_cycles(root), "to_add": files_to_add_an_app(root)}


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
        ("class variables of App", lambda m: m["app_variables"]),
        ("abstract methods of App (every app writes them)", lambda m: len(m["every_app"])),
        ("methods a classifier app writes (after ClassifierApp)", lambda m: len(m["must_write"])),
        ("places each app's prediction I/O is defined (most of any app)", lambda m: m["io_places"]),
        ("files defining an app's preprocessing (most of any app)", lambda m: m["preprocessing_places"]),
        ("upward imports", lambda m: len(m["upward"])),
        ("import cycles", lambda m: len(m["cycles"])),
        ("files outside its folder a new app edits", lambda m: len(m["to_add"])),
    ]
    lines = ["| measure | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(str(get(m)) for m in columns.values()) + " |" for label, get in rows]
    for rev, m in columns.items():
        lines += ["", f"{rev}: every app writes {', '.join(m['every_app'])}; a classifier app "
                      f"{', '.join(m['must_write'])}."]
        lines += [f"- upward: {u}" for u in m["upward"]] or ["- no upward import"]
        lines += [f"- cycle: {c}" for c in m["cycles"]] or ["- no import cycle"]
        lines += [f"- preprocessing of {app}: {', '.join(files) or 'none of its own'}"
                  for app, files in m["preprocessing_files"].items()]
        lines += ["- a new app edits: " + "; ".join(m["to_add"])]
    write_result("architecture", "Architecture numbers", "\n".join(lines),
                 "python bench/architecture.py " + " ".join(args.revisions))


if __name__ == "__main__":
    main()
