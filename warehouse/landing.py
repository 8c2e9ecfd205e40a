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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

import fsspec
from fsspec.core import url_to_fs
from fsspec.spec import AbstractBufferedFile

from schemas.entry import CATALOGUE_TZ
from schemas.errors import InvalidInput

CHUNK_SIZE = 4 << 20
HTTP_TIMEOUT_SECONDS = 60
# Kept with the extension, so `x.csv.gz` lands as `<sha>.csv.gz`, not `<sha>.gz`.
_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".zip"}
_SAFE_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_OBJECT_STORE_SCHEMES = {"s3", "s3a"}


class LandingError(InvalidInput):
    """A source that cannot be landed; the message names the URL."""


@dataclass(frozen=True)
class LandedFile:
    """One landed file. ``already_present``: the same content had been landed before."""

    path: Path
    sha256: str
    size: int
    source_url: str
    already_present: bool


def land(
    url: str, landing_dir: Path, dataset: str, *, storage_options: dict[str, Any] | None = None
) -> list[LandedFile]:
    """Land the file at ``url`` (or every file a glob matches) under ``landing_dir/dataset``.

    Returns one LandedFile per source file, in sorted source order. Raises LandingError when
    the source is missing, a glob matches nothing, or a download is cut short.
    """
    if not _SAFE_DATASET.match(dataset):
        raise LandingError(
            f"bad dataset name {dataset!r}: one path component of letters, digits, '_', '.' and '-'"
        )
    target_dir = Path(landing_dir) / dataset
    target_dir.mkdir(parents=True, exist_ok=True)
    options = dict(storage_options or {})
    return [
        _land_one(source_url, opener, target_dir) for source_url, opener in _sources(url, options)
    ]


def local_source_files(
    url: str, *, storage_options: dict[str, Any] | None = None
) -> list[tuple[str, Path]] | None:
    """(url as ``land`` reports it, path) of every file a local source names, in ``land``'s
    order; None for a remote source. Raises LandingError as ``land`` would."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("", "file"):
        return None
    try:
        fs, path = url_to_fs(url, **dict(storage_options or {}))
    except (ValueError, TypeError) as exc:
        raise LandingError(f"cannot land {url}: {exc}") from exc
    with _source_errors_named(url, "cannot list", also=(TypeError, ValueError)):
        files = _matching_files(fs, url, path)
    return [(_url_for(fs, url, name), Path(name)) for name in files]


# --- sources -------------------------------------------------------------------------------
# Opens one source: (binary stream, expected size or None). Called only when it is landed.
Opener = Callable[[], tuple[IO[bytes], int | None]]


def _sources(url: str, options: dict[str, Any]) -> list[tuple[str, Opener]]:
    """(url, opener) for every file ``url`` names; globs are expanded here, files opened later."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        return [(url, lambda: _open_http(url, options))]
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
    return [(_url_for(fs, url, name), _fs_opener(fs, name)) for name in files]


def _matching_files(fs: fsspec.AbstractFileSystem, url: str, path: str) -> list[str]:
    # A name like "低保[2026].csv" is a file, not a pattern, when it exists as written.
    if _GLOB_CHARS.search(path) and not fs.isfile(path):
        found = fs.glob(path, detail=True)
        files = sorted(name for name, info in found.items() if info.get("type") == "file")
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
def _land_one(source_url: str, opener: Opener, target_dir: Path) -> LandedFile:
    ext = _extension(source_url)
    with _temporary(target_dir) as temp_path:
        sha256, size = _copy_hashing(source_url, opener, temp_path)
        target = target_dir / f"{sha256}{ext}"
        placed = _place(temp_path, target)
    if placed:
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
    handle, name = tempfile.mkstemp(dir=target_dir, prefix=".landing-", suffix=".part")
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


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
