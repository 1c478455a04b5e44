"""Bad configuration gets a message naming the file, the key and the line; nothing is overwritten."""

import re
from pathlib import Path

import pytest

from app.cli import main
from app.errors import ConfigError
from app.policy.gate import Verdict
from app.settings import load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles" / "private" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('node_name = "pc"\nlocale = "fr"\n', "locale", 2),
        ('node_name = "pc"\n\n[local_server]\nport = "eighty"\n', "local_server.port", 4),
        ("[local_server]\nexpose_lan = 1\n", "local_server.expose_lan", 2),
        (
            '[[providers]]\nname = "x"\nbase_url = "ftp://x"\nmodel = "m"\n',
            "providers[0].base_url",
            3,
        ),
        ('[[providers]]\nname = "x"\nmodel = "m"\n', "providers[0]", 1),
        ('[policy.overrides]\nshell = "always"\n', "policy.overrides.shell", 2),
        ('node_name = "pc"\ncolour = "blue"\n', "colour", 2),
        (
            '[[providers]]\nname = "x"\nbase_url = "http://x"\nmodel = "m"\nroles = ["boss"]\n',
            "providers[0].roles",
            5,
        ),
    ],
)
def test_bad_values_name_file_key_and_line(tmp_path: Path, text: str, key: str, line: int) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(env={"ORA_HOME": str(tmp_path)})
    message = str(err.value)
    assert str(path) in message and f"'{key}'" in message and f"line {line}" in message
    assert path.read_text() == text, "the user's file must be left exactly as it was"


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, 'node_name = "pc"\nrelay_url = \n')
    with pytest.raises(ConfigError, match=r"line 2") as err:
        load_settings(env={"ORA_HOME": str(tmp_path)})
    assert str(path) in str(err.value)


def test_cli_reports_bad_config_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, 'locale = "xx"\n')
    monkeypatch.setenv("ORA_HOME", str(tmp_path))
    assert main(["providers"]) == 2
    assert "locale" in capsys.readouterr().err


def test_good_config_and_environment(tmp_path: Path) -> None:
    _write(
        tmp_path,
        'node_name = "Desk"\n[[providers]]\nname = "o"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
        'key_ref = "o"\nroles = ["chat"]\n[policy.overrides]\nweb_fetch = "deny"\n[tools.files]\nroots = ["/tmp"]\n',
    )
    s = load_settings(env={"ORA_HOME": str(tmp_path), "ORA_RELAY_URL": "http://relay.test"})
    assert s.node_name == "Desk" and s.relay_url == "http://relay.test"
    assert s.providers[0].roles == ("chat",) and s.policy_overrides == {"web_fetch": Verdict.DENY}
    assert s.tools["files"]["roots"] == ["/tmp"]


def test_unknown_profile_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="private"):
        load_settings("work", env={"ORA_HOME": str(tmp_path)})


def test_provider_kinds_time_limits_and_prices(tmp_path: Path) -> None:
    _write(
        tmp_path,
        '[[providers]]\nname = "o"\nbase_url = "https://api.example/v1"\nmodel = "vendor/m"\n'
        "timeout_s = 5\nprice_in_per_mtok = 0.5\nprice_out_per_mtok = 1.5\n"
        '[[providers]]\nname = "c"\nkind = "litellm"\nmodel = "anthropic/claude-x"\nkey_ref = "a"\n',
    )
    first, second = load_settings(env={"ORA_HOME": str(tmp_path)}).providers
    assert (first.kind, first.model, first.timeout_s) == ("openai", "vendor/m", 5.0)
    assert (first.price_in_per_mtok, first.price_out_per_mtok) == (0.5, 1.5)
    assert (second.kind, second.base_url, second.model) == ("litellm", "", "anthropic/claude-x")


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ('kind = "grpc"\nbase_url = "http://x"\n', "providers[0].kind"),
        ('base_url = "http://x"\ntimeout_s = 0\n', "providers[0].timeout_s"),
        ('base_url = "http://x"\nprice_in_per_mtok = -1\n', "providers[0].price_in_per_mtok"),
        ('kind = "litellm"\nbase_url = "ftp://x"\n', "providers[0].base_url"),
    ],
)
def test_bad_provider_settings_are_named(tmp_path: Path, entry: str, key: str) -> None:
    _write(tmp_path, f'[[providers]]\nname = "x"\nmodel = "m"\n{entry}')
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        load_settings(env={"ORA_HOME": str(tmp_path)})
