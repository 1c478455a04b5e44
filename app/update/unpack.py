"""Unpack a verified release archive into its staging folder, and nowhere else.

A valid signature says who built an archive, not that its members are harmless: a bad build or
a stolen release key could ship `../` members, absolute paths or links pointing outside, and
a plain unpack writes wherever they say (over the stable version that rollback needs). So:

1. every member is checked first, by name, before anything is written: regular files,
   folders and links only; no absolute path, drive or `..` step; a link's target must stay
   inside the folder too (a symlink is resolved from the folder it sits in, a hard link from
   the archive's root);
2. then tarfile's `data` filter unpacks it (PEP 706), which refuses the same things again and
   drops set-uid bits: two independent locks on one door.

A refusal names the member; a disk error names the folder; neither leaves a half-unpacked
folder behind.
"""

from __future__ import annotations

import posixpath
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from app.update.errors import UNTOUCHED, InstallFailed, UnsafeArchive


def unpack_release(archive: Path, dest: Path) -> None:
    """Unpack `archive` (.tar.gz) into the empty folder `dest`; raise UnsafeArchive or InstallFailed."""
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check(member)
            dest.mkdir(parents=True, exist_ok=True)
            tar.extractall(dest, members=members, filter="data")
    except UnsafeArchive:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except tarfile.FilterError as err:
        shutil.rmtree(dest, ignore_errors=True)
        name = err.tarinfo.name if err.tarinfo is not None else "?"
        raise UnsafeArchive(
            f"the release archive's member {name!r} would be written outside its folder "
            f"({err}); refused. {UNTOUCHED}"
        ) from None
    except (tarfile.TarError, EOFError) as err:
        shutil.rmtree(dest, ignore_errors=True)
        raise InstallFailed(f"the release archive could not be read ({err}). {UNTOUCHED}") from None
    except OSError as err:
        shutil.rmtree(dest, ignore_errors=True)
        raise InstallFailed(
            f"could not unpack the update into {dest} ({err.strerror or err}); is the disk "
            f"full? Free some space and try again. {UNTOUCHED}"
        ) from None


def _outside(path: str) -> bool:
    """Whether an archive path leaves the folder it is unpacked into."""
    if not path or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return True
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return posixpath.normpath("/".join(parts)).startswith("..") or ".." in parts


def _check(member: tarfile.TarInfo) -> None:
    name = member.name
    if _outside(name):
        raise UnsafeArchive(
            f"the release archive's member {name!r} has an absolute path or climbs out of its "
            f"folder ('..'); refused. {UNTOUCHED}"
        )
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchive(
            f"the release archive's member {name!r} is a device or special file; refused. "
            f"{UNTOUCHED}"
        )
    if member.issym():
        # Relative links inside a bundle are normal (a macOS .app has `../Frameworks/...`);
        # where they land, resolved from the link's own folder, is what must stay inside.
        base = posixpath.dirname(posixpath.normpath(name))
        target = member.linkname
        landing = posixpath.normpath(posixpath.join(base, target))
        absolute = target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":")
        if absolute or landing == ".." or landing.startswith("../"):
            raise UnsafeArchive(
                f"the release archive's link {name!r} points outside its folder ({target!r}); "
                f"refused. {UNTOUCHED}"
            )
    if member.islnk() and _outside(member.linkname):
        raise UnsafeArchive(
            f"the release archive's hard link {name!r} points outside its folder "
            f"({member.linkname!r}); refused. {UNTOUCHED}"
        )
