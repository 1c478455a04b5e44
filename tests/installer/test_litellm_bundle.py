"""The spec's litellm inputs, checked without a build (the one build is in test_dist.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from installer.litellm_bundle import TOKENIZERS, litellm_datas, litellm_hiddenimports

CL100K = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def test_the_bundle_carries_cl100k_where_litellm_points_tiktoken() -> None:
    # litellm sets TIKTOKEN_CACHE_DIR to its tokenizers folder; tiktoken looks there for a
    # file named by the SHA-1 of the encoding's URL, and downloads it when it is missing
    # (which an offline PC, or a test with no network, cannot).
    cached = hashlib.sha1(CL100K.encode()).hexdigest()
    shipped = {(Path(src).name, dest.replace("\\", "/")) for src, dest in litellm_datas()}
    assert (cached, f"litellm/{TOKENIZERS}") in shipped
    assert ("model_prices_and_context_window_backup.json", "litellm") in shipped


def test_tiktokens_encoding_plugin_is_bundled() -> None:
    # tiktoken finds its encodings by scanning the tiktoken_ext namespace at run time, which
    # PyInstaller's import graph cannot see ("Unknown encoding cl100k_base. Plugins found: []").
    assert "tiktoken_ext.openai_public" in litellm_hiddenimports()


def test_the_proxy_web_ui_stays_out() -> None:
    assert not [d for _, d in litellm_datas() if "/proxy" in d.replace("\\", "/")]
