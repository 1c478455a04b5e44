"""The container images install what their code imports, at the versions in uv.lock.

No Docker engine runs here, so the images are checked from their Dockerfiles: every third-party
module the service's code imports (lazily too) must come from a package the image pins, and
each pin must match the lock file the tests ran against.
"""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"protocol", "netguard", "app", "relay_server", "cloud_worker"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports(source: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def first_party_closure(package: str) -> set[str]:
    """The service's package and every first-party package it imports, transitively."""
    found, todo = {package}, [package]
    while todo:
        for source in (ROOT / todo.pop()).rglob("*.py"):
            for name in _imports(source):
                top = name.split(".")[0]
                if top in FIRST_PARTY and top not in found:
                    found.add(top)
                    todo.append(top)
    return found


def imported_distributions(package: str) -> set[str]:
    owners = packages_distributions()
    found: set[str] = set()
    for first_party in first_party_closure(package):
        for source in (ROOT / first_party).rglob("*.py"):
            for name in _imports(source):
                top = name.split(".")[0]
                if top in FIRST_PARTY or top in sys.stdlib_module_names:
                    continue
                found.update(canonical(d) for d in owners.get(top, [top]))
    return found


def pins(dockerfile: Path) -> dict[str, str]:
    text = dockerfile.read_text().replace("\\\n", " ")
    return {canonical(n): v for n, v in re.findall(r"([\w.-]+)==([\w.]+)", text)}


def locked() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {canonical(p["name"]): p["version"] for p in lock["package"] if "version" in p}


@pytest.mark.parametrize("service", ["relay_server", "cloud_worker"])
def test_image_installs_what_the_service_imports_at_the_locked_versions(service: str) -> None:
    image = pins(ROOT / service / "Dockerfile")
    missing = imported_distributions(service) - set(image)
    assert not missing, f"{service}/Dockerfile does not install {sorted(missing)}"
    lock = locked()
    drift = {name: (v, lock.get(name)) for name, v in image.items() if lock.get(name) != v}
    assert not drift, f"{service}/Dockerfile pins differ from uv.lock: {drift}"


@pytest.mark.parametrize("service", ["relay_server", "cloud_worker"])
def test_image_copies_every_first_party_package_the_service_imports(service: str) -> None:
    text = (ROOT / service / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY\s+(\w+)\s", text, flags=re.MULTILINE))
    missing = first_party_closure(service) - copied
    assert not missing, f"{service}/Dockerfile does not copy {sorted(missing)}"
