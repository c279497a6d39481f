"""The package's layers, as its imports draw them: no circle, and the
command line on top, imported by nothing but `__main__`.

Every `import` counts, those inside functions too (a lazy import is still
a dependency), and so do the names a package loads on first use (its
`_SUBMODULES` or `_NAMES`). Parsed with `ast`: nothing is imported.
"""

import ast
import pathlib

import keras_simple_diffusion

PACKAGE = "keras_simple_diffusion"
ROOT = pathlib.Path(keras_simple_diffusion.__file__).parent
# The tables of PEP 562 packages: the names they load on first use.
LAZY_TABLES = ("_SUBMODULES", "_NAMES")


def module_files():
    """`{module name: path}` of every module of the package."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _lazy_targets(tree, package):
    """The modules a package's `__getattr__` tables name."""
    targets = set()
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        name = getattr(node.targets[0], "id", None)
        if name not in LAZY_TABLES:
            continue
        table = ast.literal_eval(node.value)
        homes = table.values() if isinstance(table, dict) else table
        targets.update(f"{package}.{home}" for home in homes)
    return targets


def import_graph():
    """`{module: set of the package's modules it imports}`."""
    modules = module_files()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        imported = _lazy_targets(tree, name) if is_package else set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    # `from package import submodule` imports the submodule.
                    submodule = f"{base}.{alias.name}"
                    imported.add(submodule if submodule in modules else base)
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def find_cycle(graph):
    """One import circle as a list of modules (first = last), or None."""
    done, path = set(), []

    def visit(node):
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_the_package_imports_in_no_circle():
    graph = import_graph()
    assert f"{PACKAGE}.training.distill" in graph  # the graph covers the subpackages
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_only_main_imports_the_command_line():
    importers = {name for name, targets in import_graph().items() if f"{PACKAGE}.cli" in targets}
    assert importers == {f"{PACKAGE}.__main__"}


def test_the_cycle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
