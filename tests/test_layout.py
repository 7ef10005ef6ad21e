"""The package's floors, checked from its source: an import only points down, and no module-level import cycle.

Floors, bottom up: sandbox -> envs -> curricula -> runtime -> agents -> eval -> experiments -> cli (``io``,
``yaml_config`` and ``params`` sit at the bottom, beside ``sandbox``; the package's ``__init__``, which registers the
envs, on the envs' floor; ``__main__`` with ``cli``). Every ``import`` counts for the direction, those inside
functions too (deferred, they are still dependencies). Cycles: none among module-level imports (the ones that run
when a module is imported), and none at all, deferred imports included, between the modules of one package: two
modules that need each other are one job split wrongly.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "selfgym"
FLOORS = ["sandbox", "envs", "curricula", "runtime", "agents", "eval", "experiments", "cli"]
PLACES = {"io": "sandbox", "yaml_config": "sandbox", "params": "sandbox", "__main__": "cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> int:
    part = module.split(".")[1] if "." in module else "envs"  # the root registers the envs
    return FLOORS.index(PLACES.get(part, part))


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(every selfgym module ``path`` imports, those imported at module level)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found, eager = set(), set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            where = PACKAGE.parent / name.replace(".", "/")
            if name.startswith("selfgym") and (where.with_suffix(".py").exists() or (where / "__init__.py").exists()):
                found.add(name)
                if id(node) in top_level:
                    eager.add(name)
    return found, eager


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    every, eager = {}, {}
    for path in PACKAGE.rglob("*.py"):
        if "sites" in path.parts:  # the web sites run inside the sandbox, not as part of the package
            continue
        every[module_name(path)], eager[module_name(path)] = imports(path)
    return every, eager


def test_imports_only_point_down():
    every, _ = graph()
    upward = [f"{module} imports {target}" for module, targets in every.items() for target in targets
              if floor(target) > floor(module)]
    assert not upward, "\n".join(sorted(upward))


def cycles_of(edges: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first walk of ``edges`` meets (each as the modules around it)."""
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in edges.get(node, ()):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_module_level_import_cycle():
    _, eager = graph()
    # a module's eager imports of its own package's __init__ are the package being loaded, not a cycle
    edges = {m: {t for t in ts if t != m and not m.startswith(t + ".")} for m, ts in eager.items()}
    cycles = cycles_of(edges)
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_import_cycle_at_all():
    """Deferred imports too: a cycle hidden inside functions is still two modules that need each other. A
    package's ``__init__`` only gathers its modules' names, so an import of a package is not followed."""
    every, _ = graph()
    packages = {module_name(path) for path in PACKAGE.rglob("__init__.py")}
    edges = {m: {t for t in ts if t != m and t not in packages} for m, ts in every.items() if m not in packages}
    cycles = cycles_of(edges)
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_python_dash_m_selfgym_is_the_cli():
    result = subprocess.run([sys.executable, "-m", "selfgym", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "run" in result.stdout and "eval" in result.stdout, result.stderr


def test_envs_load_no_docker_sdk_until_a_sandbox_is_needed():
    """``gym.make`` of every env (and importing its module) leaves Docker's SDK unloaded: a sandbox env imports
    it when it first takes a sandbox, and Math-v0 without tools never does."""
    program = """
import sys
import gymnasium as gym
import selfgym.envs.shell_env, selfgym.envs.web_env, selfgym.envs.code_env, selfgym.envs.math_env
loaded = []
for env_id in ("selfgym/Shell-v0", "selfgym/Web-v0", "selfgym/Code-v0", "selfgym/Math-v0"):
    gym.make(env_id)
    loaded += [f"{env_id}: {name}" for name in ("docker", "paramiko", "requests") if name in sys.modules]
import selfgym.sandbox.sandbox, selfgym.sandbox.pool, selfgym.sandbox.images, selfgym.sandbox.reaper
loaded += [f"sandbox modules: {name}" for name in ("docker", "paramiko") if name in sys.modules]
print(repr(loaded))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
