"""tufup's Client with the one step it does unsafely replaced: unpacking the archive.

tufup verifies every download (python-tuf), then unpacks the release with a plain
`shutil.unpack_archive`, which writes wherever the members' names and links say. This
subclass keeps tufup's patch handling as it is and unpacks through unpack.py instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tufup.client import SUFFIX_FAILED, Client
from tufup.common import Patcher

from app.update.unpack import unpack_release

_LOGGER = logging.getLogger(__name__)


class SafeUnpackClient(Client):  # type: ignore[misc]  # tufup ships no type hints
    """A tufup Client whose archive is unpacked by `unpack_release` (refusals raise)."""

    def _apply_updates(
        self, install: Callable[..., Any], skip_confirmation: bool, **kwargs: Any
    ) -> None:
        # The archive, whole or rebuilt from patches: tufup's own steps (tufup 0.10).
        try:
            if next(iter(self.downloaded_target_files.keys())).is_archive:
                if len(self.downloaded_target_files) != 1:
                    raise ValueError("there should be only one downloaded *archive*")
                if not self.new_archive_local_path.exists():
                    raise FileNotFoundError("the new archive file does not exist")
            else:
                if not all(t.is_patch for t in self.downloaded_target_files):
                    raise ValueError("all downloaded targets must be patches")
                Patcher.patch_and_verify(
                    src_path=self.current_archive_local_path,
                    dst_path=self.new_archive_local_path,
                    patch_targets=self.downloaded_target_files,
                    binary_diff=self.binary_diff,
                )
        except Exception as err:
            # As tufup does: mark the failed targets so the next try takes the full archive.
            for path in self.downloaded_target_files.values():
                path.replace(path.with_suffix(path.suffix + SUFFIX_FAILED))
            _LOGGER.error("update aborted: %s", err)
            return
        extract_dir = Path(self.extract_dir)
        unpack_release(Path(self.new_archive_local_path), extract_dir)
        install(src_dir=extract_dir, dst_dir=self.app_install_dir, **kwargs)
