"""Pins agree across requirements files and conda envs; the config documents every key."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# conda names that differ from the PyPI names
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
NOT_ON_PYPI = re.compile(r"^(python|r-.*|bioconductor-.*)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-r"):
            continue
        assert "==" in line, f"{path.name}: '{line}' is not pinned with =="
        name, version = line.split("==")
        pins[normalise(name)] = version
    return pins


def test_every_requirement_is_pinned_exactly():
    assert pip_pins(ROOT / "requirements.txt")
    assert pip_pins(ROOT / "requirements-dev.txt")


def test_conda_envs_pin_the_same_versions_as_requirements():
    pins = pip_pins(ROOT / "requirements.txt")
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        for dependency in spec["dependencies"]:
            assert isinstance(dependency, str), f"{env.name}: pip sections are not used"
            name, _, version = dependency.partition("=")
            assert version and not version.startswith("="), f"{env.name}: '{dependency}' not pinned"
            if NOT_ON_PYPI.match(name):
                continue
            pypi = normalise(CONDA_TO_PYPI.get(name, name))
            assert pypi in pins, f"{env.name}: {name} is not in requirements.txt"
            assert pins[pypi] == version, (
                f"{env.name}: {name}={version} but requirements.txt pins {pins[pypi]}"
            )


def test_every_rule_env_exists():
    for rules in (ROOT / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', rules.read_text()):
            assert (rules.parent / env).resolve().exists(), f"{rules.name}: {env} missing"


def flatten(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, sub in schema.get("properties", {}).items():
        keys.append(prefix + key)
        keys += flatten(sub, prefix + key + ".")
    return keys


def test_config_readme_describes_every_schema_key():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    readme = (ROOT / "config/README.md").read_text()
    missing = [key for key in flatten(schema) if f"`{key}`" not in readme]
    assert not missing, f"config/README.md does not describe: {missing}"
