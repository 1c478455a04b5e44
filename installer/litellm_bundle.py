"""What the frozen app needs for `kind = "litellm"` providers, shared by the spec and its tests.

litellm reads its price list and tokenizer files at import. Its Anthropic path counts tokens
with tiktoken's cl100k_base, which litellm ships as tiktoken cache files named by a hash (no
extension, so a `*.json` pattern misses them) and which tiktoken finds through its
`tiktoken_ext.openai_public` plugin, a module discovered at run time (so PyInstaller's import
graph misses it). Without both, every litellm call in the bundle failed with "Unknown
encoding cl100k_base" before any request. The chat path's modules of litellm's proxy server
and its Rust bridge come in through the import graph; the proxy's web UI and OpenAPI files
(~25 MB of data) do not.
"""

from __future__ import annotations

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

TOKENIZERS = "litellm_core_utils/tokenizers"


def litellm_datas() -> list[tuple[str, str]]:
    """(source, destination folder) pairs: price list, prompt templates, tokenizer files."""
    return collect_data_files(
        "litellm",
        includes=["**/*.json", "**/*.txt", "**/*.jinja", f"{TOKENIZERS}/*"],
        excludes=["proxy/**", "rust_bridge/**", "**/tests/**"],
    )


def litellm_hiddenimports() -> list[str]:
    """Modules litellm's call path imports by name at run time."""
    return collect_submodules("tiktoken_ext")
