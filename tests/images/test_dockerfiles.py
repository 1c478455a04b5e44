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
FIRST_PARTY = {"protocol", "app", "relay_server", "cloud_worker"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions(package: str) -> set[str]:
    owners = packages_distributions()
    found: set[str] = set()
    for source in [*(ROOT / package).rglob("*.py"), *(ROOT / "protocol").rglob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
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
