"""The landing zone (落地区): source files exactly as received, immutable and content-addressed.

``land(url, landing_dir, dataset)`` fetches one file, or every file a glob matches, into
``landing_dir/<dataset>/<sha256>.<ext>``. Files are streamed in chunks (never read whole), hashed
while they are copied to a temporary file beside the target, then renamed into place, so a
reader never sees half a file. Content that is already there is not rewritten: landing the same
bytes again is a no-op, changed bytes land beside the old file. A sidecar
``<sha256>.meta.json`` records where and when the content was first fetched. (Not
``<sha256>.json``: that would be the landed file itself for a JSON source.)

Local paths, ``file://`` and ``s3://`` go through fsspec (s3fs for S3; ``storage_options`` are
passed to it, e.g. ``{"key": …, "secret": …, "endpoint_url": "http://127.0.0.1:9000"}`` for a
local S3-compatible server, or ``{"anon": True}``). S3 objects are read in ranged requests pinned
to the ETag seen when the object was opened, so an object replaced mid-download fails the landing
instead of landing a mix of old and new bytes; S3 listings are never cached between calls, so a
long-running process sees new and changed objects. ``http(s)://`` is fetched with urllib,
because fsspec's HTTP filesystem needs aiohttp, which Mulu does not depend on.

Only complete files (``Readiness``): a local file is landed only when it has gone unchanged for
the spec's ``settle`` seconds (a younger one is watched that long) and its size, mtime and inode
are the same after the copy as before it, so the hash is of one version of the file; with
``ready: _SUCCESS`` it is landed once that marker exists beside it. Otherwise ``SourceNotReady``:
not an error, the load waits for the next run.

Sources contained (``LocalRoots``): given a workspace's roots, a relative local path is relative
to the workspace (not the shell's directory), and every local file, symlinks resolved, must lie
in one of the roots, else ``SourceRefused`` before a byte of it is read. ``land_source`` lands a
dataset spec's source with both.

On object storage (``storage_url: s3://…``, docs/deploy.md): ``land_source`` lands into a local
cache (``staging/.landed/<dataset>/``, what the load reads) as above, then puts each file and
its sidecar at ``<storage_url>/landing/<dataset>/<sha256>.<ext>`` unless that object exists
(one PUT: whole or absent); ``LandedFile.stored_url`` names it.

Nothing partial is left: a copy goes to ``.landing-<pid>-….part`` and is renamed into place only
when whole and verified; a failed landing deletes it, and temporaries of dead processes (kill -9)
are deleted by the next landing of the dataset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import http.client
import json
import os
import posixpath
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import fsspec
from fsspec.core import url_to_fs
from fsspec.spec import AbstractBufferedFile

from schemas.dataset_spec import DatasetSpec, Source
from schemas.entry import CATALOGUE_TZ
from schemas.errors import InvalidInput, Unavailable
from warehouse.objectstore import ObjectStore, is_object_url, join
from warehouse.settings import Settings
from warehouse.workspace import SOURCE_ROOTS_ENV, Workspace

CHUNK_SIZE = 4 << 20
HTTP_TIMEOUT_SECONDS = 60
DEFAULT_SETTLE_SECONDS = 5.0
SETTLE_ENV = "MULU_SOURCE_SETTLE"  # the settle time of specs that set none
_TEMP_PREFIX = ".landing-"
# Kept with the extension, so `x.csv.gz` lands as `<sha>.csv.gz`, not `<sha>.gz`.
_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".zip"}
_SAFE_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_OBJECT_STORE_SCHEMES = {"s3", "s3a"}


class LandingError(InvalidInput):
    """A source that cannot be landed; the message names the URL."""


class SourceRefused(LandingError):
    """A local source outside the folders sources may be read from; none of it was read."""


class SourceNotReady(Unavailable):
    """A source still being written, or whose ready marker is missing: not a failure, the
    load waits (status 'waiting') and the next run or sensor tick tries again."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason


@dataclass(frozen=True)
class LocalRoots:
    """Where local sources may be: relative paths are relative to ``base``; a file, symlinks
    resolved, must lie in one of ``roots`` (themselves resolved)."""

    base: Path
    roots: tuple[Path, ...]

    @classmethod
    def of(cls, workspace: Workspace, environ: Mapping[str, str] | None = None) -> LocalRoots:
        return cls(base=workspace.root, roots=tuple(workspace.source_roots(environ)))

    def resolve(self, url: str) -> str:
        """A local ``url`` (a path or ``file://``) as an absolute path; other URLs as given."""
        scheme = _scheme(url)
        if scheme == "file":
            url = unquote(urlsplit(url).path)
        elif scheme:
            return url
        return os.path.join(self.base, url)

    def check(self, path: str, given: str) -> str:
        """``path`` with symlinks resolved, when that lies in a root; else SourceRefused."""
        real = os.path.realpath(path)
        if any(Path(real).is_relative_to(root) for root in self.roots):
            return real
        shown = "" if real == given else f" (it resolves to {real})"
        raise SourceRefused(
            f"source {given} is outside the folders local sources may be read from{shown}: "
            f"{', '.join(str(r) for r in self.roots)}; move it into the workspace's sources/ "
            f"or name its folder in {SOURCE_ROOTS_ENV}"
        )

    def check_pattern(self, path: str, given: str) -> None:
        """Refuse a glob whose fixed part (the folders before the first wildcard) is outside
        the roots, before anything is listed there."""
        fixed: list[str] = []
        for part in PurePosixPath(path).parts:
            if _GLOB_CHARS.search(part):
                break
            fixed.append(part)
        self.check(str(PurePosixPath(*fixed)) if fixed else "/", given)


@dataclass(frozen=True)
class Readiness:
    """When a source is whole: local files unchanged for ``settle`` seconds, or the ``ready``
    marker beside every file (then no settle wait)."""

    settle: float = 0.0
    ready: str | None = None

    @classmethod
    def of(cls, source: Source, environ: Mapping[str, str] | None = None) -> Readiness:
        settle = source.settle if source.settle is not None else default_settle(environ)
        return cls(settle=settle, ready=source.ready)


def default_settle(environ: Mapping[str, str] | None = None) -> float:
    """The settle time of specs that set none: ``MULU_SOURCE_SETTLE`` or 5 seconds."""
    value = (os.environ if environ is None else environ).get(SETTLE_ENV, "").strip()
    if not value:
        return DEFAULT_SETTLE_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise InvalidInput(f"{SETTLE_ENV}={value!r}: expected seconds from 0 to 3600")
    return seconds


@dataclass(frozen=True)
class LandedFile:
    """One landed file. ``already_present``: the same content had been landed before."""

    path: Path
    sha256: str
    size: int
    source_url: str
    already_present: bool
    # The landed copy on object storage (``storage_url``), when landing is there; ``path`` is
    # then this machine's local copy of it, which the load reads.
    stored_url: str | None = None


def land(
    url: str,
    landing_dir: Path,
    dataset: str,
    *,
    storage_options: dict[str, Any] | None = None,
    roots: LocalRoots | None = None,
    readiness: Readiness | None = None,
    remote: RemoteLanding | None = None,
) -> list[LandedFile]:
    """Land the file at ``url`` (or every file a glob matches) under ``landing_dir/dataset``.

    ``remote``: the landing zone is on object storage; ``landing_dir`` is then this machine's
    cache of it (the files the load reads), and each file is uploaded to
    ``remote.url/<dataset>/<sha256>.<ext>`` (with its sidecar) unless that object exists.

    Returns one LandedFile per source file, in sorted source order. Raises LandingError when
    the source is missing, a glob matches nothing, or a download is cut short; SourceRefused
    when a local file is outside ``roots`` (if given); SourceNotReady when ``readiness`` says
    a file is not whole yet. Files landed before one of these stay (each is whole); no partial
    file does.
    """
    if not _SAFE_DATASET.match(dataset):
        raise LandingError(
            f"bad dataset name {dataset!r}: one path component of letters, digits, '_', '.' and '-'"
        )
    target_dir = Path(landing_dir) / dataset
    # Sources are found, checked and waited for before landing/<dataset> is touched.
    pending = _sources(url, dict(storage_options or {}), roots, readiness or Readiness())
    target_dir.mkdir(parents=True, exist_ok=True)
    _remove_dead_temporaries(target_dir)
    landed = [_land_one(one, target_dir) for one in pending]
    if remote is None:
        return landed
    stored = [remote.upload(file, dataset) for file in landed]
    # The cache keeps only this landing's files (the caller holds the dataset's lock).
    keep = {f.path.name for f in landed} | {f"{f.sha256}.meta.json" for f in landed}
    for old in target_dir.iterdir():
        if old.is_file() and old.name not in keep and not old.name.startswith(_TEMP_PREFIX):
            old.unlink(missing_ok=True)
    return stored


@dataclass(frozen=True)
class RemoteLanding:
    """The landing zone on object storage: ``url`` (s3://bucket/prefix/landing) and the store."""

    url: str
    store: ObjectStore

    def upload(self, file: LandedFile, dataset: str) -> LandedFile:
        """Put the landed file and its sidecar under ``url/<dataset>/`` unless there already
        (objects are written whole by one PUT: a reader never sees half of one; content
        addressed, so a race between two machines writes the same bytes)."""
        fs = self.store.filesystem()
        target = join(self.url, dataset, file.path.name)
        sidecar = file.path.with_name(f"{file.sha256}.meta.json")
        with _source_errors_named(target, "cannot store"):
            present = bool(fs.exists(target))
            if not present:
                fs.put_file(str(file.path), target)
            meta = join(self.url, dataset, sidecar.name)
            if sidecar.exists() and not fs.exists(meta):
                fs.put_file(str(sidecar), meta)
        return dataclasses.replace(file, stored_url=target, already_present=present)


def landing_place(workspace: Workspace) -> tuple[Path, RemoteLanding | None]:
    """Where ``land_source`` lands: the workspace's landing/, or, with ``storage_url`` set to
    s3://…, ``<storage_url>/landing`` with a local cache in ``staging/.landed/``."""
    settings = Settings.load(workspace)
    if not is_object_url(settings.storage_url):
        return workspace.landing_dir, None
    assert settings.storage_url is not None
    remote = RemoteLanding(join(settings.storage_url, "landing"), ObjectStore.of(settings))
    return workspace.staging_dir / ".landed", remote


def land_source(workspace: Workspace, spec: DatasetSpec) -> list[LandedFile]:
    """Land ``spec``'s source into the workspace's landing zone (or the object store's, by
    ``storage_url``), contained to the workspace's source roots and only when whole (the
    spec's ``settle`` / ``ready``)."""
    landing_dir, remote = landing_place(workspace)
    return land(
        spec.source.url,
        landing_dir,
        spec.name,
        storage_options=spec.source.storage_options or None,
        roots=LocalRoots.of(workspace),
        readiness=Readiness.of(spec.source),
        remote=remote,
    )


def local_source_files(
    url: str, *, storage_options: dict[str, Any] | None = None, roots: LocalRoots | None = None
) -> list[tuple[str, Path]] | None:
    """(url as ``land`` reports it, path to read) of every file a local source names, in
    ``land``'s order; None for a remote source. Raises LandingError (SourceRefused) as ``land``
    would; the paths are the checked, resolved ones when ``roots`` is given."""
    if _scheme(url) not in ("", "file"):
        return None
    return _local_files(url, dict(storage_options or {}), roots)


def missing_marker(files: list[tuple[str, Path]], ready: str | None) -> str | None:
    """The first ready marker that is missing beside the local ``files`` (url, path), if any."""
    if ready is None:
        return None
    named = (unquote(urlsplit(url).path) if _scheme(url) == "file" else url for url, _ in files)
    for folder in dict.fromkeys(posixpath.dirname(name) for name in named):
        marker = posixpath.join(folder, ready)
        if not os.path.exists(marker):
            return marker
    return None


def source_state(
    url: str,
    *,
    storage_options: dict[str, Any] | None = None,
    roots: LocalRoots | None = None,
    ready: str | None = None,
) -> list[list[Any]]:
    """What changes when a source changes, without reading it: each file's name, size and
    modification stamp (ETag for S3), and whether its ready marker exists. A missing source is
    an empty list; a local one outside ``roots`` raises SourceRefused."""
    options = dict(storage_options or {})
    if _scheme(url) in _OBJECT_STORE_SCHEMES:
        options.setdefault("use_listings_cache", False)
    given = url
    if roots is not None and _scheme(url) in ("", "file"):
        url = roots.resolve(url)
        roots.check_pattern(url, given)
    fs, path = url_to_fs(url, **options)
    try:
        files = _matching_files(fs, url, path)
    except LandingError:
        return []  # nothing there (yet)
    state: list[list[Any]] = []
    for name in files:
        if roots is not None and _scheme(url) in ("", "file"):
            roots.check(name, name if _GLOB_CHARS.search(given) else given)
        try:
            info = fs.info(name)
        except FileNotFoundError:
            continue
        stamp = info.get("mtime") or info.get("LastModified") or info.get("ETag") or ""
        state.append([name, info.get("size"), str(stamp)])
    if ready is not None:
        for folder in sorted({posixpath.dirname(name) for name in files}):
            state.append([posixpath.join(folder, ready), fs.exists(posixpath.join(folder, ready))])
    return state


# --- sources -------------------------------------------------------------------------------
# Opens one source: (binary stream, expected size or None). Called only when it is landed.
Opener = Callable[[], tuple[IO[bytes], int | None]]


@dataclass
class _Pending:
    """One source file to land: ``verify`` (local files) runs after the copy, before the copy
    is placed, and raises when the file changed meanwhile."""

    url: str
    open: Opener
    verify: Callable[[], None] | None = None


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _sources(
    url: str, options: dict[str, Any], roots: LocalRoots | None, readiness: Readiness
) -> list[_Pending]:
    """Every file ``url`` names, ready to open; globs are expanded here, files opened later."""
    scheme = _scheme(url)
    if scheme in ("http", "https"):
        return [_Pending(url, lambda: _open_http(url, options))]
    if scheme in ("", "file"):
        return _ready_local(_local_files(url, options, roots), readiness)
    if scheme in _OBJECT_STORE_SCHEMES:
        # A cached listing would hide objects added or replaced since an earlier call.
        options.setdefault("use_listings_cache", False)
    try:
        fs, path = url_to_fs(url, **options)
    except ImportError as exc:
        raise LandingError(
            f"cannot land {url}: {scheme}:// needs a package that is not installed ({exc})"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise LandingError(f"cannot land {url}: {exc}") from exc
    # The first request is where bad credentials, endpoints or options show up.
    with _source_errors_named(url, "cannot list", also=(TypeError, ValueError)):
        files = _matching_files(fs, url, path)
        if readiness.ready is not None:
            for folder in sorted({posixpath.dirname(name) for name in files}):
                marker = posixpath.join(folder, readiness.ready)
                if not fs.exists(marker):
                    raise SourceNotReady(
                        url, f"waiting for the ready marker {fs.unstrip_protocol(marker)}"
                    )
    return [_Pending(_url_for(fs, url, name), _fs_opener(fs, name)) for name in files]


def _local_files(
    url: str, options: dict[str, Any], roots: LocalRoots | None
) -> list[tuple[str, Path]]:
    """(url as reported, path to open) of every local file ``url`` names; with ``roots``,
    relative to the workspace and contained, checked before anything is listed or read."""
    given = url
    if roots is not None:
        url = roots.resolve(url)
        roots.check_pattern(url, given)
    try:
        fs, path = url_to_fs(url, **options)
    except (ValueError, TypeError) as exc:
        raise LandingError(f"cannot land {given}: {exc}") from exc
    with _source_errors_named(url, "cannot list", also=(TypeError, ValueError)):
        files = _matching_files(fs, url, path)
    # A glob's refused match is named itself (a symlink among the matches, say).
    named = (lambda name: name) if _GLOB_CHARS.search(given) else (lambda name: given)
    return [
        (_url_for(fs, url, name), Path(roots.check(name, named(name)) if roots else name))
        for name in files
    ]


FileState = tuple[int, int, int]  # size, mtime (ns), inode


def _state(path: Path) -> FileState:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _ready_local(files: list[tuple[str, Path]], readiness: Readiness) -> list[_Pending]:
    """The local files, once whole: the ready marker beside each, or none changed during the
    settle time (a file younger than that is watched until it is that old)."""
    if not files:
        return []
    marker = missing_marker(files, readiness.ready)
    if marker is not None:
        raise SourceNotReady(files[0][0], f"waiting for the ready marker {marker}")
    if readiness.ready is None and readiness.settle > 0:
        with _source_errors_named(files[0][0], "cannot read"):
            before = [_state(path) for _, path in files]
            age = time.time() - max(state[1] for state in before) / 1e9
            if age < readiness.settle:
                time.sleep(min(readiness.settle - age, readiness.settle))
                for (url, path), state in zip(files, before, strict=True):
                    if _state(path) != state:
                        raise SourceNotReady(
                            url,
                            f"still being written: it changed within the last "
                            f"{readiness.settle:g} s (the settle time)",
                        )
    return [_local_pending(url, path) for url, path in files]


def _local_pending(url: str, path: Path) -> _Pending:
    seen: list[FileState] = []

    def opener() -> tuple[IO[bytes], int | None]:
        seen.append(_state(path))
        return path.open("rb"), None  # verify() tells a changed file by more than its size

    def verify() -> None:
        try:
            after = _state(path)
        except FileNotFoundError:
            raise LandingError(f"source {url} disappeared while it was being landed") from None
        if after != seen[0]:
            size, _, inode = seen[0]
            change = (
                "it was replaced"
                if after[2] != inode
                else f"size {size:,} → {after[0]:,} bytes"
                if after[0] != size
                else "it was modified"
            )
            raise SourceNotReady(url, f"changed while it was being landed ({change})")

    return _Pending(url, opener, verify)


def _matching_files(fs: fsspec.AbstractFileSystem, url: str, path: str) -> list[str]:
    # A name like "低保[2026].csv" is a file, not a pattern, when it exists as written.
    if _GLOB_CHARS.search(path) and not fs.isfile(path):
        found = fs.glob(path, detail=True)
        # fsspec lists a local symlink as type "other": followed like a file named directly
        # (and, for local sources, checked where it leads).
        files = sorted(
            name
            for name, info in found.items()
            if info.get("type") == "file" or (info.get("islink") and fs.isfile(name))
        )
        if not files:
            raise LandingError(f"no files match {url}")
        return files
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise LandingError(f"source not found: {url}") from None
    if info.get("type") == "directory":
        raise LandingError(
            f"{url} is a directory: give a file or a glob such as {url.rstrip('/')}/*.csv"
        )
    return [path]


@contextlib.contextmanager
def _source_errors_named(
    url: str, doing: str, also: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """Turn what a source can raise (OS, HTTP, S3 client errors) into a LandingError."""
    try:
        yield
    except LandingError:
        raise
    except FileNotFoundError:
        raise LandingError(f"source not found: {url}") from None
    except Exception as exc:
        if not isinstance(exc, _source_errors() + also):
            raise
        raise LandingError(f"{doing} {url}: {type(exc).__name__}: {exc}") from exc


def _source_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [OSError, http.client.HTTPException]
    with contextlib.suppress(ImportError):  # botocore comes with s3fs
        from botocore.exceptions import BotoCoreError, ClientError

        errors += [BotoCoreError, ClientError]
    return tuple(errors)


def _url_for(fs: fsspec.AbstractFileSystem, url: str, path: str) -> str:
    """The URL of one matched file, in the style the caller gave (local path stays a path)."""
    if "://" not in url:
        return path
    return str(fs.unstrip_protocol(path))


def _fs_opener(fs: fsspec.AbstractFileSystem, path: str) -> Opener:
    def opener() -> tuple[IO[bytes], int | None]:
        source = fs.open(path, "rb", block_size=CHUNK_SIZE)
        # A buffered remote file (S3) knows the size of the very version it reads.
        size = source.size if isinstance(source, AbstractBufferedFile) else None
        if size is None:
            size = fs.info(path).get("size")
        return source, size

    return opener


def _open_http(url: str, options: dict[str, Any]) -> tuple[IO[bytes], int | None]:
    unknown = set(options) - {"headers", "timeout"}
    if unknown:
        raise LandingError(
            f"cannot land {url}: storage_options {', '.join(sorted(unknown))} "
            f"are not supported for http(s) (only headers, timeout)"
        )
    request = urllib.request.Request(url, headers=dict(options.get("headers") or {}))
    try:
        response = urllib.request.urlopen(  # the scheme is checked above
            request, timeout=options.get("timeout", HTTP_TIMEOUT_SECONDS)
        )
    except urllib.error.HTTPError as exc:
        raise LandingError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise LandingError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from exc
    # Content-Length (of the raw bytes, which is what urllib returns and we land) lets a
    # truncated download be told from a complete one.
    length = response.headers.get("Content-Length")
    return response, (int(length) if length and length.isdigit() else None)


# --- landing one file ----------------------------------------------------------------------
def _land_one(pending: _Pending, target_dir: Path) -> LandedFile:
    source_url = pending.url
    ext = _extension(source_url)
    with _temporary(target_dir) as temp_path:
        sha256, size = _copy_hashing(source_url, pending.open, temp_path)
        if pending.verify is not None:
            pending.verify()
        target = target_dir / f"{sha256}{ext}"
        placed = _place(temp_path, target)
    # Also when the content was there already: a process killed between the two left none.
    if not (target_dir / f"{sha256}.meta.json").exists():
        _write_sidecar(
            target_dir / f"{sha256}.meta.json",
            {
                "source_url": source_url,
                "size": size,
                "sha256": sha256,
                "file_name": PurePosixPath(urlsplit(source_url).path).name or None,
                "fetched_at": dt.datetime.now(CATALOGUE_TZ).isoformat(timespec="seconds"),
            },
        )
    return LandedFile(
        path=target, sha256=sha256, size=size, source_url=source_url, already_present=not placed
    )


def _extension(source_url: str) -> str:
    """``.csv`` for ``…/a.CSV?x=1``, ``.csv.gz`` for ``a.csv.gz``, "" when there is none."""
    path = urlsplit(source_url).path if "://" in source_url else source_url
    suffixes = [s.lower() for s in PurePosixPath(path.replace("\\", "/")).suffixes]
    suffixes = [s for s in suffixes if re.fullmatch(r"\.[a-z0-9]{1,8}", s)]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSION_SUFFIXES:
        return "".join(suffixes[-2:])
    return suffixes[-1] if suffixes else ""


@contextlib.contextmanager
def _temporary(target_dir: Path) -> Iterator[Path]:
    """A temporary file in the target's directory (same filesystem, so renames are atomic)."""
    handle, name = tempfile.mkstemp(
        dir=target_dir, prefix=f"{_TEMP_PREFIX}{os.getpid()}-", suffix=".part"
    )
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _remove_dead_temporaries(target_dir: Path) -> None:
    """Delete temporaries a killed process left: ``.landing-<pid>-….part`` whose process is
    gone (or, named the old way without a pid, older than a day)."""
    for temp in target_dir.glob(f"{_TEMP_PREFIX}*.part"):
        pid = temp.name.removeprefix(_TEMP_PREFIX).split("-", 1)[0]
        with contextlib.suppress(OSError):
            if pid.isdigit():
                if int(pid) == os.getpid() or _alive(int(pid)):
                    continue
            elif time.time() - temp.stat().st_mtime < 86400:
                continue
            temp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _copy_hashing(source_url: str, opener: Opener, temp_path: Path) -> tuple[str, int]:
    """Copy while hashing. Each chunk is written on a second thread while this one hashes it
    (both release the GIL), so landing costs about the slower of the two, not their sum; at
    most two chunks are in memory."""
    digest, size = hashlib.sha256(), 0
    with _source_errors_named(source_url, "cannot open"):
        source, expected = opener()
    with (
        _source_errors_named(source_url, "cannot read"),
        source,
        temp_path.open("wb") as out,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-write") as writer,
    ):
        pending = None
        while chunk := source.read(CHUNK_SIZE):
            written = writer.submit(out.write, chunk)
            digest.update(chunk)
            if pending is not None:
                pending.result()
            pending = written
            size += len(chunk)
        if pending is not None:
            pending.result()
        out.flush()
        os.fsync(out.fileno())
    if expected is not None and size != expected:
        raise LandingError(f"incomplete read of {source_url}: got {size} of {expected} bytes")
    return digest.hexdigest(), size


def _place(temp_path: Path, target: Path) -> bool:
    """Move the temp file to ``target`` unless it exists; True when it was placed.

    ``os.link`` creates the name only if it is absent, atomically, so two processes landing the
    same content never replace each other's file (a rename would, changing its mtime).
    """
    temp_path.chmod(0o444)  # landed files are read-only: nothing edits them in place
    try:
        os.link(temp_path, target)
        return True
    except FileExistsError:
        return False
    except OSError:
        # Filesystems without hard links: check, then rename (a race rewrites identical bytes).
        if target.exists():
            return False
        temp_path.replace(target)
        return True


def _write_sidecar(path: Path, record: dict[str, Any]) -> None:
    if path.exists():  # the same content landed before under another extension
        return
    with _temporary(path.parent) as temp_path:
        temp_path.write_text(
            json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        _place(temp_path, path)
