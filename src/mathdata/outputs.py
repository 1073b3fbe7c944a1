"""Where the commands write, and the rules that keep a user's files safe.

- A file output (`synth -o`, `--json`, `--html`) is checked before any work starts: it is not a folder,
  not one of the command's inputs (compared by the file itself, so `./a.jsonl`, a symlink or a hard
  link to it count), its folder is writable; it is then written to a temporary `.NAME.PID.*.part` file
  beside it and renamed into place (io.atomic_path). `.part` files of dead processes are removed.
- A build folder (`build -o DIR`) is replaced only if it is an earlier build: its manifest.json says
  `"tool": "mathdata"` with a `mathdata.build/` schema and lists every file the folder holds
  (manifest.json plus its `outputs`). Anything else in it, or no such manifest, and the build stops
  with exit 2 naming the folder and what it holds. The folder may not hold an input, nor be (or
  contain) the current directory (`-o .`).
- One build at a time per folder: an exclusive lock (`.DIR.lock` beside it, removed when done) is
  held from before the first stage until the new folder is in place; a second build into the same
  folder stops at once with exit 2 naming the holder's pid. While holding the lock, temporary
  folders of earlier builds into DIR that were killed (`.DIR.tmp-PID`, `.DIR.old-PID`) are removed,
  and a build interrupted between its two renames is completed from what it left.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
from pathlib import Path
from typing import Iterable

from .errors import MathDataError

MANIFEST = "manifest.json"
BUILD_SCHEMA_PREFIX = "mathdata.build/"


# --- paths ----------------------------------------------------------------------------------------

def resolve(path: Path | str, what: str) -> Path:
    """The absolute path with symlinks followed; a symlink loop is a one-line error."""
    try:
        return Path(os.path.abspath(path)).resolve()
    except (RuntimeError, OSError) as err:  # 3.11 raises RuntimeError on a loop, later versions OSError
        raise MathDataError(f"{path}: cannot resolve {what} ({_reason(err)})", "fix or remove the symlink") from None


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def input_paths(paths: Iterable[Path | str | None]) -> list[Path]:
    """The readable inputs among `paths` ('-' and missing files skipped), resolved."""
    out = []
    for p in paths:
        if p is None or str(p) == "-":
            continue
        with contextlib.suppress(MathDataError):
            r = resolve(p, "input")
            if r.exists():
                out.append(r)
    return out


def rules_files(rules_dir: Path | str | None) -> list[Path]:
    """The rule files a command reads (the --rules folder's, else the project's): inputs too."""
    from .rules import DEFAULT_RULES_DIR
    folder = Path(rules_dir) if rules_dir else DEFAULT_RULES_DIR
    try:
        return sorted(folder.glob("*.toml"))
    except OSError:
        return []


def _writable_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor must be a folder we may write into."""
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise MathDataError(f"{option} {path}: {parent} is a broken symlink", "fix the path")
        parent = parent.parent
    if not parent.is_dir():
        raise MathDataError(f"{option} {path}: {parent} is not a folder", "choose a path inside a folder")
    if not os.access(parent, os.W_OK | os.X_OK) or not _can_create_in(parent, path.name):
        raise MathDataError(f"{option} {path}: folder {parent} is not writable", "choose a writable location")


def _can_create_in(folder: Path, name: str) -> bool:
    """Really create (and remove) a file there: permission bits do not tell root, /proc or a
    read-only mount apart. (Named like a .part file of `name`, so a kill here leaves nothing the
    next run does not remove.)"""
    import tempfile
    try:
        fd, name = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".part", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True


def check_file_output(target: Path | str | None, inputs: Iterable[Path | str | None] = (),
                      option: str = "--output") -> Path | None:
    """Check a file output before any work: not a folder, not an input, in a writable folder.
    Returns the path to write (None or '-' are passed through as None)."""
    if target is None or str(target) == "-":
        return None
    raw = Path(target)
    if str(target) in ("", ".", "..") or str(target).endswith(os.sep):
        raise MathDataError(f"{option} {target!s}: is a folder", "give a file name, e.g. out.jsonl")
    check_name(raw, option)
    try:
        return _check_file_output(raw, target, inputs, option)
    except OSError as err:  # anything the checks above did not foresee: still one line
        raise MathDataError(f"{option} {target}: {_reason(err)}", "choose another location") from None


# room for the temporary name around the output's: `.NAME.PID.RANDOM.part`, `.NAME.tmp-PID`
TEMP_NAME_EXTRA = 32


def check_audit_outputs(json_out: str | None, html_out: Path | None, paths: Iterable[Path | str],
                        rules_dir: Path | str | None) -> None:
    """`audit --json FILE --html FILE`, before any work: each a safe file output (`check_file_output`;
    neither may be an input, a rule file or the other), and not both the same file."""
    inputs = [*paths, *rules_files(rules_dir)]
    check_file_output(json_out, inputs, "--json")
    check_file_output(html_out, [*inputs, json_out if json_out != "-" else None], "--html")
    if json_out and html_out and str(json_out) != "-" and Path(json_out).resolve() == Path(html_out).resolve():
        raise MathDataError(f"--json and --html are the same file ({html_out})", "give them different names")


def check_build_outputs(out_dir: Path, json_out: str | None, inputs: Iterable[Path | str],
                        rules_dir: Path | str | None) -> None:
    """`build -o DIR --json FILE`, before any work: DIR is a folder name (not `-`), FILE a safe file
    output that is neither DIR nor inside it (the folder holds only what the build writes)."""
    if str(out_dir) == "-":
        raise MathDataError("-o -: build writes a folder (train.jsonl, manifest.json, ...), not one stream to stdout",
                            "give a folder, e.g. -o build/; `mathdata synth -o -` is the command that writes to stdout")
    check_file_output(json_out, [*inputs, *rules_files(rules_dir)], "--json")
    if json_out and json_out != "-" and resolve(out_dir, "-o") == resolve(json_out, "--json"):
        raise MathDataError(f"--json {json_out}: is the build folder -o {out_dir}", "write the stats to a file beside it")
    if json_out and json_out != "-" and resolve(out_dir, "-o") in resolve(json_out, "--json").parents:
        raise MathDataError(f"--json {json_out}: is inside the build folder -o {out_dir}",
                            "write the stats beside the folder; the build folder holds only what the build writes")


def check_name(path: Path, option: str) -> None:
    """Every part of the path within the file system's name limit, the final one with room for the
    temporary names written beside it."""
    for i, part in enumerate(path.parts):
        limit = 255 - (TEMP_NAME_EXTRA if i == len(path.parts) - 1 else 0)
        if len(os.fsencode(part)) > limit:
            raise MathDataError(f"{option} {str(path)[:60]}...: name too long ({len(os.fsencode(part))} bytes, "
                                f"at most {limit} here)", "choose a shorter name")


def _check_file_output(raw: Path, target, inputs, option: str) -> Path:
    if is_stream(raw):
        return raw  # a pipe or a device (/dev/null, /dev/stdout, >(jq .)): written directly
    path = resolve(raw, option)
    if path.is_dir():
        raise MathDataError(f"{option} {target}: is a folder", "give a file name, e.g. out.jsonl")
    if path.exists() and not path.is_file():
        raise MathDataError(f"{option} {target}: is not a regular file", "give a file name, e.g. out.jsonl")
    for inp in input_paths(inputs):
        if inp == path or _same_file(inp, path):
            raise MathDataError(f"{option} {target}: is one of the inputs ({inp})",
                                "write the output to another file; inputs are never overwritten")
    if path.exists() and not os.access(path, os.W_OK):
        raise MathDataError(f"{option} {target}: file is not writable", "choose a writable location")
    _writable_parent(path, option)
    return path


def is_stream(path: Path | str) -> bool:
    """An existing pipe, device or /dev, /proc entry (`/dev/stdout`, `/dev/null`, `>(jq .)`): written
    in place, never renamed onto -- renaming would replace the /dev/stdout link or the shell's file."""
    import stat
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return True
    places = (os.path.abspath(path), os.path.realpath(path))
    return any(p.startswith(("/dev/", "/proc/")) for p in places)


# --- stale temporaries -----------------------------------------------------------------------------

def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_parts(path: Path) -> list[Path]:
    """Remove `.NAME.PID.*.part` files beside `path` left by processes that no longer run."""
    removed = []
    # mkstemp's random part has no dots, so `.x.123.456.abc.part` (output x.123) is not output x's
    pattern = re.compile(r"^\." + re.escape(path.name) + r"\.(\d+)\.[a-z0-9_]+\.part$")
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            m = pattern.match(entry.name)
            if m and entry.is_file(follow_symlinks=False) and not pid_alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


# --- build folders --------------------------------------------------------------------------------

def read_build_manifest(folder: Path) -> dict | None:
    """The folder's manifest if it is a mathdata build's, else None."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != "mathdata":
        return None
    if not str(data.get("schema", "")).startswith(BUILD_SCHEMA_PREFIX) or not isinstance(data.get("outputs"), dict):
        return None
    return data


def build_files(manifest: dict) -> set[str]:
    return {MANIFEST, *(str(k) for k in manifest.get("outputs", {}))}


def check_replaceable(folder: Path, shown: Path | str | None = None) -> None:
    """A folder `build -o` may replace: absent, empty, or exactly an earlier build."""
    shown = shown or folder
    if not folder.exists():
        return
    if not folder.is_dir():
        raise MathDataError(f"-o {shown}: exists and is not a folder", "pass a folder path for -o")
    try:
        names = sorted(os.listdir(folder))
    except OSError as err:
        raise MathDataError(f"-o {shown}: cannot list the folder ({_reason(err)})", "choose another folder") from None
    if not names:
        return
    manifest = read_build_manifest(folder)
    if manifest is None:
        raise MathDataError(f"-o {shown}: folder is not empty and holds no earlier build (no mathdata manifest.json; "
                            f"holds {_listing(names)})",
                            "choose a new or empty folder; only a previous build's folder is replaced")
    extra = [n for n in names if n not in build_files(manifest)]
    if extra:
        raise MathDataError(f"-o {shown}: folder holds an earlier build and other files the build did not write "
                            f"({_listing(extra)})", "move those files out, or choose another folder")


def _listing(names: list[str], n: int = 5) -> str:
    shown = ", ".join(names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


class BuildFolder:
    """The output folder of one build: checks, the lock, stale clean-up and the final swap."""

    def __init__(self, out_dir: Path | str, inputs: Iterable[Path | str | None] = (), files: Iterable[str] = ()):
        self.shown = Path(out_dir)
        self.files = {MANIFEST, *files}   # every name a build writes (for cleaning its temporaries)
        if str(out_dir) in ("", "."):
            raise MathDataError(f"-o {out_dir!s}: is the current folder", "name a new folder for the build, e.g. -o build")
        check_name(self.shown, "-o")
        self._lock_fd: int | None = None
        try:
            self._check(out_dir, inputs)
        except OSError as err:  # anything not foreseen below: still one line
            raise MathDataError(f"-o {out_dir}: {_reason(err)}", "choose another folder") from None

    def _check(self, out_dir, inputs) -> None:
        self.path = resolve(out_dir, "-o")
        cwd = resolve(Path.cwd(), "the current folder")
        if self.path == cwd or self.path in cwd.parents:
            raise MathDataError(f"-o {out_dir}: is (or contains) the current folder",
                                "name a new folder for the build, e.g. -o build")
        if self.path.parent == self.path:
            raise MathDataError(f"-o {out_dir}: is the root folder", "name a new folder for the build")
        for inp in input_paths(inputs):
            if inp == self.path or self.path in inp.parents:
                raise MathDataError(f"-o {out_dir}: holds an input ({inp})",
                                    "write the build to another folder; inputs are never replaced")
        _writable_parent(self.path, "-o")
        check_replaceable(self.path, self.shown)
        self.lock_path = self.path.parent / f".{self.path.name}.lock"

    # the lock -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self):
        created = [p for p in [self.path.parent, *self.path.parent.parents] if not p.exists()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._acquire()
        except OSError as err:
            raise MathDataError(f"-o {self.shown}: cannot write in {self.path.parent} ({_reason(err)})",
                                "choose a writable location") from None
        try:
            self.clean_stale()
            check_replaceable(self.path, self.shown)  # again: another build may have finished meanwhile
            yield self
        finally:
            self._release()
            if not self.path.exists():  # the build stopped: remove the (empty) folders made for it
                for folder in created:
                    with contextlib.suppress(OSError):
                        folder.rmdir()

    def _acquire(self) -> None:
        for _ in range(50):
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = _read_pid(self.lock_path)
                raise MathDataError(f"-o {self.shown}: another build is writing this folder"
                                    + (f" (pid {holder})" if holder else ""),
                                    "wait for it to finish, or choose another folder") from None
            # the holder before us may have removed the file after we opened it: lock the current one
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._lock_fd = fd
                return
            os.close(fd)
        raise MathDataError(f"-o {self.shown}: could not lock the folder", "retry")

    def _release(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.lock_path)
        os.close(self._lock_fd)
        self._lock_fd = None

    # stale temporaries ----------------------------------------------------------------------------
    def _temps(self, kind: str) -> list[tuple[Path, int]]:
        pattern = re.compile(r"^\." + re.escape(self.path.name) + r"\." + kind + r"-(\d+)$")
        found = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.path.parent):
                m = pattern.match(entry.name)
                if m and entry.is_dir(follow_symlinks=False):
                    found.append((Path(entry.path), int(m.group(1))))
        return sorted(found)

    def clean_stale(self) -> list[Path]:
        """Under the lock: finish an interrupted swap, then remove dead builds' temporaries. Only
        folders that hold nothing but build files are touched."""
        removed = remove_stale_parts(self.path)
        olds = [(p, pid) for p, pid in self._temps("old") if p != self._own("old") and not pid_alive(pid)]
        if not self.path.exists() and olds:
            # killed between the two renames: the previous build sits in .old-PID; put it back
            os.replace(olds[-1][0], self.path)
            olds = olds[:-1]
        for p, pid in olds + [(p, pid) for p, pid in self._temps("tmp") if p != self._own("tmp") and not pid_alive(pid)]:
            if _only_build_files(p, self.files):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        return removed

    def _own(self, kind: str) -> Path:
        return self.path.parent / f".{self.path.name}.{kind}-{os.getpid()}"

    # the swap -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def staging(self):
        """A temporary folder beside the output; on success it replaces the output (two renames)."""
        tmp = self._own("tmp")
        if tmp.exists() and _only_build_files(tmp, self.files):
            shutil.rmtree(tmp)
        try:
            tmp.mkdir()
        except OSError as err:
            raise MathDataError(f"-o {self.shown}: cannot write in {self.path.parent} ({_reason(err)})",
                                "choose a writable location") from None
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = self._own("old")
        try:
            if self.path.exists():
                os.replace(self.path, old)
            os.replace(tmp, self.path)
        except OSError as err:
            if old.exists() and not self.path.exists():
                os.replace(old, self.path)
            shutil.rmtree(tmp, ignore_errors=True)
            raise MathDataError(f"-o {self.shown}: cannot put the build in place ({_reason(err)})",
                                "check the folder's permissions") from None
        shutil.rmtree(old, ignore_errors=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _only_build_files(folder: Path, files: set[str]) -> bool:
    try:
        names = set(os.listdir(folder))
    except OSError:
        return False
    manifest = read_build_manifest(folder)
    return names <= (files | (build_files(manifest) if manifest else set()))
