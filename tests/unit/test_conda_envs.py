"""The conda route (`snakemake --sdm conda`): every rule has an env, and every package
its script imports, directly or through the msc_response library, is in that env.

This machine reaches no conda channel, so the envs cannot be built here; the imports
are read from the source (ast) instead of run.
"""

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "workflow" / "rules"
SCRIPTS = ROOT / "workflow" / "scripts"
LIBRARY = "msc_response"
# import name -> conda package, where they differ
CONDA_NAME = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "matplotlib": "matplotlib-base",
    "PIL": "pillow",
    "jinja2": "jinja2",
    "markupsafe": "markupsafe",
    "bs4": "beautifulsoup4",
    "skimage": "scikit-image",
}
# Rules that run no job of their own.
NO_JOB = {"all"}
# Imported by library functions that only the Snakefile calls, when the run is planned
# (in Snakemake's own environment, which has them): package -> that function.
PARSE_TIME_ONLY = {"jsonschema": "check_config"}

RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)


def directive(body: str, name: str) -> str | None:
    found = re.search(rf'^    {name}:\n\s+"([^"]+)"', body, re.MULTILINE)
    return found.group(1) if found else None


def rules() -> dict[str, tuple[Path, str]]:
    """Rule name -> (its .smk file, its body), for every rule of the workflow."""
    found = {}
    for smk in sorted([ROOT / "Snakefile", *RULES.glob("*.smk")]):
        for name, body in RULE.findall(smk.read_text()):
            found[name] = (smk, body)
    return found


def module_file(module: str) -> Path | None:
    """The source file of an msc_response module (None for other packages)."""
    parts = module.split(".")
    if parts[0] != LIBRARY:
        return None
    base = SCRIPTS.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _optional_imports(tree: ast.AST) -> set[int]:
    """ids of the import statements inside a ``try:`` that catches ImportError: the
    code runs without that package (e.g. float_text without numba), so an env need
    not list it."""
    optional = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for handler in node.handlers:
            kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught.update(kind.id for kind in kinds if isinstance(kind, ast.Name))
        if caught & {"ImportError", "ModuleNotFoundError"}:
            optional.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return optional


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a file imports, anywhere in it (lazy imports too),
    except optional ones (see `_optional_imports`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    optional = _optional_imports(tree)
    package = None
    if path.is_relative_to(SCRIPTS / LIBRARY):
        package = ".".join(path.relative_to(SCRIPTS).with_suffix("").parts)
        if path.name != "__init__.py":
            package = package.rsplit(".", 1)[0]
        else:
            package = package.removesuffix(".__init__")
    names = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names.add(module)
                # `from . import io` imports a module of the package
                names.update(f"{module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
                if node.module == LIBRARY:
                    names.update(f"{LIBRARY}.{alias.name}" for alias in node.names)
    return names


@lru_cache(maxsize=None)
def third_party_imports(path: Path) -> frozenset[str]:
    """Top-level third-party packages imported by `path` and, transitively, by the
    msc_response modules it imports."""
    seen, todo, packages = set(), [path], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for module in imported_modules(current):
            top = module.split(".")[0]
            if top == LIBRARY:
                source = module_file(module)
                if source is not None:
                    todo.append(source)
                # every enclosing package (msc_response.x.y -> x, x.y) loads its __init__
                parts = module.split(".")
                for depth in range(1, len(parts)):
                    parent = module_file(".".join(parts[:depth]))
                    if parent is not None:
                        todo.append(parent)
            elif top not in sys.stdlib_module_names and top not in ("__future__", *PARSE_TIME_ONLY):
                packages.add(top)
    return frozenset(packages)


def env_packages(env: Path) -> set[str]:
    spec = yaml.safe_load(env.read_text())
    return {re.split(r"[=<>! ]", dep)[0].lower() for dep in spec["dependencies"] if isinstance(dep, str)}


RULE_BODIES = rules()
JOB_RULES = sorted(name for name in RULE_BODIES if name not in NO_JOB)


def test_rules_are_found():
    assert {"check_inputs", "normalise", "provenance"} <= set(JOB_RULES)


@pytest.mark.parametrize("rule", JOB_RULES)
def test_rule_has_a_conda_env_covering_its_script_imports(rule):
    smk, body = RULE_BODIES[rule]
    env = directive(body, "conda")
    assert env, f"rule {rule} ({smk.name}) has no conda: directive"
    env_path = (smk.parent / env).resolve()
    assert env_path.is_relative_to(ROOT / "envs") and env_path.exists(), (
        f"rule {rule}: conda env {env} is not a file in envs/"
    )
    assert not re.search(r"^    run:", body, re.MULTILINE), (
        f"rule {rule} uses run:, which ignores its conda env; use script:"
    )
    script = directive(body, "script")
    if script is None:
        return  # shell: rules call tools from the env directly
    script_path = (smk.parent / script).resolve()
    assert script_path.exists(), f"rule {rule}: script {script} missing"
    needed = {CONDA_NAME.get(name, name).lower() for name in third_party_imports(script_path)}
    missing = sorted(needed - env_packages(env_path))
    assert not missing, (
        f"rule {rule}: {script_path.name} imports {missing} (directly or through "
        f"msc_response), but {env_path.name} does not list them"
    )


@pytest.mark.parametrize("package,function", sorted(PARSE_TIME_ONLY.items()))
def test_parse_time_imports_stay_out_of_jobs(package, function):
    """What PARSE_TIME_ONLY leaves out is used by no job: its function is called only
    from the rules' parse-time code."""
    callers = [
        path.relative_to(ROOT)
        for path in sorted(SCRIPTS.rglob("*.py"))
        if re.search(rf"\b{function}\(", path.read_text())
        and not re.search(rf"^def {function}\(", path.read_text(), re.MULTILINE)
    ]
    assert not callers, f"{callers} call {function}, which imports {package}: add it to the envs"
    assert f"{function}(" in (RULES / "common.smk").read_text()


def test_import_scan_follows_the_library():
    """The scan is not vacuous: the DE script reaches PyDESeq2 and numba through the
    library, and sees relative imports."""
    deseq = third_party_imports(SCRIPTS / "normalise.py")
    assert {"pydeseq2", "numba", "anndata", "pandas"} <= deseq
    assert "pandas" in third_party_imports(SCRIPTS / LIBRARY / "common" / "provenance.py")
    # float_text's numba is optional (Python formats without it), the DE engine's not
    assert "numba" not in third_party_imports(SCRIPTS / LIBRARY / "common" / "float_text.py")
    assert "numba" in third_party_imports(SCRIPTS / LIBRARY / "de" / "engine" / "inference.py")


def test_readme_names_what_the_snakefile_itself_imports():
    """With --sdm conda the Snakefile is parsed in the user's environment, not in an
    env from envs/: the README's conda section must name what that needs."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### With conda instead of pip"):readme.index("## On a SLURM cluster")]
    needed = set()
    for smk in [ROOT / "Snakefile", *RULES.glob("*.smk")]:
        for module in re.findall(r"^from (msc_response(?:\.\w+)+) import", smk.read_text(), re.MULTILINE):
            needed |= third_party_imports(module_file(module))
    # Snakemake brings PyYAML and jsonschema itself.
    missing = sorted(name for name in needed if f"`{name}`" not in section and name != "yaml")
    assert not missing, f"README's conda section does not name {missing}"
