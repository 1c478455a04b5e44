"""`make dist`'s app, built once per session into a temp folder, run from a clean directory."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.update.layout import InstallRoot
from app.version import __version__
from installer.build import build
from installer.release import ReleaseRepo
from tests.installer.conftest import StaticServer
from tests.support.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> ReleaseRepo:
    repo = ReleaseRepo(tmp_path_factory.mktemp("release"))
    repo.init()
    return repo


@pytest.fixture(scope="session")
def built_app(tmp_path_factory: pytest.TempPathFactory, release: ReleaseRepo) -> Path:
    out = tmp_path_factory.mktemp("dist")
    return build(out / "dist", out / "work", release.trusted_root, quiet=True)


def _clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    # Nothing from the developer's environment: no venv, no PYTHONPATH, a fresh home.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp / "home"), "ORA_HOME": str(tmp / "ora-home")}
    env["ORA_NO_LOCAL_DETECT"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def app_copy(built_app: Path, tmp_path: Path) -> Path:
    target = tmp_path / "elsewhere" / "ora"
    shutil.copytree(built_app, target, symlinks=True)
    return target


def test_built_app_runs_version_and_self_test_from_a_clean_directory(
    app_copy: Path, tmp_path: Path
) -> None:
    exe = app_copy / "ora"
    env = _clean_env(tmp_path)
    version = subprocess.run(
        [str(exe), "--version"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.strip() == f"ora {__version__}"
    test = subprocess.run(
        [str(exe), "self-test"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert test.returncode == 0, test.stderr
    assert json.loads(test.stdout.strip().splitlines()[-1]) == {
        "version": __version__,
        "core": True,
        "audit": True,
        "ok": True,
    }


async def test_built_app_chats_through_a_provider(app_copy: Path, tmp_path: Path) -> None:
    # The light OpenAI-compatible client and the streaming path made it into the bundle.
    fake = await FakeOpenAI().start()
    try:
        config = tmp_path / "ora-home" / "profiles" / "private" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\n'
            f'model = "{fake.model}"\nlocal = true\n'
        )
        proc = await asyncio.create_subprocess_exec(
            str(app_copy / "ora"),
            "chat",
            env=_clean_env(tmp_path),
            cwd=tmp_path,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            proc.communicate(b"hello from the bundle\n/quit\n"), timeout=120
        )
    finally:
        await fake.stop()
    assert proc.returncode == 0, err.decode()
    assert "hello from the bundle" in out.decode()
    assert fake.requests, "the model was asked"


async def test_built_app_reaches_a_litellm_provider(app_copy: Path, tmp_path: Path) -> None:
    # litellm, its data files and the Anthropic streaming path made it into the bundle, for
    # `kind = "litellm"` providers (OpenAI-compatible ones no longer go through it). It failed
    # with "Unknown encoding cl100k_base" until the spec shipped tiktoken's plugin and
    # litellm's tokenizer files (installer/litellm_bundle.py).
    from tests.support.fake_anthropic import FakeAnthropic

    fake = await FakeAnthropic().start()
    try:
        config = tmp_path / "ora-home" / "profiles" / "private" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(
            f'[[providers]]\nname = "claude"\nkind = "litellm"\nbase_url = "{fake.base_url}"\n'
            'model = "anthropic/claude-test"\nlocal = true\n'
        )
        proc = await asyncio.create_subprocess_exec(
            str(app_copy / "ora"),
            "chat",
            env=_clean_env(tmp_path),
            cwd=tmp_path,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            proc.communicate(b"hello through litellm\n/quit\n"), timeout=300
        )
    finally:
        await fake.stop()
    assert proc.returncode == 0, err.decode()
    assert "echo: hello through litellm" in out.decode()
    assert fake.requests[0]["model"] == "claude-test"


def test_built_app_installs_itself_then_starts_through_the_launcher_and_checks_for_updates(
    app_copy: Path, release: ReleaseRepo, tmp_path: Path
) -> None:
    release.add(app_copy, __version__, skip_patch=True)
    root = InstallRoot(tmp_path / "install")
    server = StaticServer(release.repository)
    try:
        env = _clean_env(tmp_path, ORA_UPDATE_URL=server.url)
        install = subprocess.run(
            [str(app_copy / "ora"), "update", "install", "--root", str(root.path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert install.returncode == 0, install.stderr
        shutil.rmtree(app_copy)  # the download can go: the installed copy stands alone
        version = subprocess.run(
            [str(root.stub), "--version"], env=env, capture_output=True, text=True, timeout=60
        )
        assert version.stdout.strip() == f"ora {__version__}", version.stderr
        check = subprocess.run(
            [str(root.stub), "update", "check"], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        server.close()
    assert check.returncode == 0, check.stderr
    assert f"ORA {__version__} is up to date" in check.stdout
    assert any(r.startswith("/metadata/timestamp.json") for r in server.requests)
    desktop = tmp_path / "home" / ".local" / "share" / "applications" / "ora.desktop"
    assert f'Exec="{root.stub}"' in desktop.read_text()


@pytest.fixture(scope="session")
def built_next(tmp_path_factory: pytest.TempPathFactory, release: ReleaseRepo) -> tuple[Path, str]:
    """The same source as a later version, built the same way (a real v2 for a real v1)."""
    src = tmp_path_factory.mktemp("next-src")
    repo = Path(__file__).resolve().parents[2]
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "dist", "build", "node_modules", "__pycache__", ".*_cache", "release"
    )
    shutil.copytree(repo, src, ignore=ignore, dirs_exist_ok=True)
    major, minor, patch = __version__.split(".")
    version = f"{major}.{minor}.{int(patch) + 1}"
    (src / "app" / "version.py").write_text(f'__version__ = "{version}"\n')
    out = tmp_path_factory.mktemp("next-dist")
    subprocess.run(
        [
            str(repo / ".venv" / "bin" / "python"),
            "-m",
            "installer.build",
            "--dist",
            str(out / "dist"),
            "--work",
            str(out / "work"),
            "--trusted-root",
            str(release.trusted_root),
            "--no-archive",
        ],
        cwd=src,
        check=True,
        capture_output=True,
    )
    return out / "dist" / "ora", version


def test_built_app_updates_itself_to_the_next_built_version(
    app_copy: Path, built_next: tuple[Path, str], release: ReleaseRepo, tmp_path: Path
) -> None:
    next_app, next_version = built_next
    root = InstallRoot(tmp_path / "install")
    server = StaticServer(release.repository)

    def ora(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = _clean_env(tmp_path, ORA_UPDATE_URL=server.url)
        return subprocess.run(
            [str(root.stub), *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        installed = subprocess.run(
            [str(app_copy / "ora"), "update", "install", "--root", str(root.path)],
            env=_clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert installed.returncode == 0, installed.stderr
        # Real archives are large; a binary patch between them is a release-time choice.
        release.add(next_app, next_version, skip_patch=True)
        applied = ora("update", "apply")
        assert applied.returncode == 0, applied.stderr
        assert f"installed {next_version}" in applied.stdout
        # A chat session opens the core (the health signal), then quits.
        chat = ora("chat", stdin="/quit\n")
        assert chat.returncode == 0, chat.stderr
        assert f"ORA {next_version}" in chat.stdout
    finally:
        server.close()
    assert ora("--version").stdout.strip() == f"ora {next_version}"
    state = json.loads(root.state_file.read_text())
    assert state["stable"] == next_version and state["previous"] == __version__
