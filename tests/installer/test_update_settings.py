"""The [updates] table: defaults, environment, and mistakes named by file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigError
from app.settings import load_settings


def _load(tmp_path: Path, text: str, **env: str):
    path = tmp_path / "profiles" / "private" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_settings(env={"ORA_HOME": str(tmp_path), **env})


def test_off_without_a_url_and_on_with_one(tmp_path: Path) -> None:
    assert not _load(tmp_path, "").updates.enabled
    on = _load(tmp_path, '[updates]\nurl = "https://u.example/ora"\nchannel = "beta"\n').updates
    assert on.enabled and on.channel == "beta" and on.check_interval_h == 24
    off = _load(tmp_path, '[updates]\nurl = "https://u.example/ora"\nenabled = false\n').updates
    assert not off.enabled
    env = _load(tmp_path, "", ORA_UPDATE_URL="http://127.0.0.1:1/", ORA_INSTALL_ROOT="/opt/ora")
    assert env.updates.enabled and env.updates.install_root == Path("/opt/ora")


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('node_name = "pc"\n[updates]\nchannel = "nightly"\n', "updates.channel", 3),
        ('[updates]\nurl = "ftp://x"\n', "updates.url", 2),
        ("[updates]\nenabled = true\n", "updates.enabled", 2),
        ('[updates]\nurl = "https://x"\ncheck_interval_h = 0\n', "updates.check_interval_h", 3),
        ('[updates]\nurl = "https://x"\nproxy = "y"\n', "updates.proxy", 3),
    ],
)
def test_mistakes_name_file_key_and_line(tmp_path: Path, text: str, key: str, line: int) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert f"'{key}'" in str(err.value) and f"line {line}" in str(err.value)
