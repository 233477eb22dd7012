"""The package's shape: no import cycle among its modules (imports inside functions and
``importlib`` calls included), and a search core that imports neither RecBole nor the rest
of the plugin."""

import ast
import os

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "recbole_automl")


def _modules():
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                modules[module.removesuffix(".__init__")] = path
    return modules


def _imports(path, module, is_package):
    """Every module name ``path`` imports, at any depth of its code."""
    names = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(parts + ([node.module] if node.module else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant):
                names.append(node.args[0].value)
    return names


def _graph():
    modules = _modules()

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for module, path in modules.items():
        found = _imports(path, module, path.endswith("__init__.py"))
        graph[module] = {resolve(n) for n in found if n.startswith("recbole_automl")} - {
            module,
            "",
            "recbole_automl",
        }
    return graph, {m: _imports(p, m, p.endswith("__init__.py")) for m, p in modules.items()}


def test_no_import_cycle_among_the_modules():
    graph, _ = _graph()
    state = {}

    def visit(module, path):
        state[module] = "open"
        for dep in sorted(graph[module]):
            assert state.get(dep) != "open", " -> ".join(path + [dep])
            if dep not in state:
                visit(dep, path + [dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_search_core_imports_neither_recbole_nor_the_rest_of_the_plugin():
    _, imports = _graph()
    for module, names in imports.items():
        if module.startswith("recbole_automl.search"):
            for name in names:
                assert not (name == "recbole" or name.startswith("recbole.")), (module, name)
                if name.startswith("recbole_automl"):
                    assert name.startswith("recbole_automl.search"), (module, name)


def test_every_property_file_ships_in_the_package():
    """setup.py's package_data covers every YAML under properties/ (a wheel without a space
    file could not search that model)."""
    import fnmatch
    import re

    globs = re.findall(r'"(properties/[^"]+)"', open(os.path.join(ROOT, "setup.py")).read())
    for folder, _, files in os.walk(os.path.join(PACKAGE, "properties")):
        for name in files:
            path = os.path.relpath(os.path.join(folder, name), PACKAGE).replace(os.sep, "/")
            assert any(fnmatch.fnmatch(path, g) and g.count("/") == path.count("/")
                       for g in globs), path  # fmt: skip
