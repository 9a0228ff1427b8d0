"""Running a command as an unprivileged user, for tests of permissions (read-only catalogs).

The suite runs as root in CI; root can write anything, so a "read-only" catalog is only
read-only for another user. ``setpriv`` (util-linux) drops to that user for one command.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

UNPRIVILEGED = "nobody"


def why_not_unprivileged() -> str | None:
    """None when commands can run as UNPRIVILEGED here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root, to run commands as another user"
    if shutil.which("setpriv") is None:
        return "needs setpriv (util-linux)"
    try:
        pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        return f"needs a '{UNPRIVILEGED}' user"
    return None


def as_user(user: str, command: list[str]) -> list[str]:
    entry = pwd.getpwnam(user)
    return [
        "setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
        *command,
    ]  # fmt: skip


def shared_folder(prefix: str) -> Path:
    """A new folder any user can enter (pytest's tmp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def make_read_only(folder: Path) -> None:
    """Files 0444 and folders 0555, all the way down."""
    for path in sorted(folder.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    folder.chmod(0o555)


def make_writable(folder: Path) -> None:
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def read_only_copy(catalog: Path, prefix: str) -> tuple[Path, Path]:
    """(home, catalog): a copy of ``catalog`` no one but root may write, in a folder anyone
    may enter, and a home folder for the unprivileged user. Remove with ``remove``."""
    base = shared_folder(prefix)
    home = base / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    copy = base / "catalog"
    shutil.copytree(catalog, copy)
    make_read_only(copy)
    return home, copy


def remove(folder: Path) -> None:
    make_writable(folder)
    shutil.rmtree(folder, ignore_errors=True)
