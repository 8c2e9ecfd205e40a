"""The landing zone: real files, a real glob and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from landing_helpers import landed_names, sha

from warehouse import landing
from warehouse.landing import LandedFile, LandingError, SourceNotReady, land

ROSTER = "乡镇(街道),姓名,身份证号\n城关镇,张三,110101199003074514\n".encode("gb18030")


def test_a_local_file_lands_by_content_hash(tmp_path, landing_dir):
    source = tmp_path / "城乡低保对象_202610.csv"
    source.write_bytes(ROSTER)
    [landed] = land(str(source), landing_dir, "dibao")
    digest = sha(ROSTER)
    assert landed == LandedFile(
        path=landing_dir / "dibao" / f"{digest}.csv",
        sha256=digest,
        size=len(ROSTER),
        source_url=str(source),
        already_present=False,
    )
    assert landed.path.read_bytes() == ROSTER
    sidecar = json.loads((landing_dir / "dibao" / f"{digest}.meta.json").read_text("utf-8"))
    assert sidecar["source_url"] == str(source)
    assert sidecar["sha256"] == digest
    assert sidecar["size"] == len(ROSTER)
    assert sidecar["file_name"] == "城乡低保对象_202610.csv"
    assert sidecar["fetched_at"].endswith("+08:00")
    assert landed_names(landing_dir) == [f"{digest}.csv", f"{digest}.meta.json"]  # no temp left


def test_a_glob_lands_every_match(tmp_path, landing_dir):
    (tmp_path / "in" / "2026-10.csv").mkdir(parents=True)  # a directory matching the glob
    contents = {f"低保_{month}.csv": f"月份\n{month}\n".encode("gbk") for month in (9, 10, 11)}
    for name, data in contents.items():
        (tmp_path / "in" / name).write_bytes(data)
    (tmp_path / "in" / "说明.txt").write_text("not matched", encoding="utf-8")
    landed = land(str(tmp_path / "in" / "*.csv"), landing_dir, "dibao")
    assert [Path(f.source_url).name for f in landed] == sorted(contents)
    assert [f.sha256 for f in landed] == [sha(contents[n]) for n in sorted(contents)]
    assert all(f.path.read_bytes() == contents[Path(f.source_url).name] for f in landed)
    assert len(landed_names(landing_dir)) == 6  # three files, three sidecars


def test_a_file_name_with_brackets_is_not_a_pattern(tmp_path, landing_dir):
    source = tmp_path / "低保[2026年10月].csv"
    source.write_bytes(ROSTER)
    [landed] = land(str(source), landing_dir, "dibao")
    assert landed.source_url == str(source)
    assert landed.path.read_bytes() == ROSTER


def test_landing_the_same_content_again_changes_nothing(tmp_path, landing_dir):
    source = tmp_path / "a.csv"
    source.write_bytes(ROSTER)
    [first] = land(str(source), landing_dir, "dibao")
    sidecar = landing_dir / "dibao" / f"{first.sha256}.meta.json"
    before = (first.path.stat().st_mtime_ns, first.path.stat().st_ino, sidecar.read_bytes())
    copy = tmp_path / "copy-of-a.csv"
    copy.write_bytes(ROSTER)
    for url in (str(source), source.as_uri(), str(copy)):
        [again] = land(url, landing_dir, "dibao")
        assert again.already_present
        assert again.path == first.path
        assert again.sha256 == first.sha256
    after = (first.path.stat().st_mtime_ns, first.path.stat().st_ino, sidecar.read_bytes())
    assert after == before  # not rewritten; the sidecar still names the first fetch
    assert len(landed_names(landing_dir)) == 2


def test_changed_content_lands_beside_the_old(tmp_path, landing_dir):
    source = tmp_path / "a.csv"
    source.write_bytes(ROSTER)
    [old] = land(str(source), landing_dir, "dibao")
    source.write_bytes(ROSTER + "城关镇,李四,110101199003070000\n".encode("gb18030"))
    [new] = land(str(source), landing_dir, "dibao")
    assert new.sha256 != old.sha256
    assert not new.already_present
    assert old.path.read_bytes() == ROSTER  # the old file is kept as it was
    assert len(landed_names(landing_dir)) == 4


def test_a_json_source_does_not_collide_with_its_sidecar(tmp_path, landing_dir):
    source = tmp_path / "records.json"
    source.write_text('[{"姓名": "张三"}]', encoding="utf-8")
    [landed] = land(str(source), landing_dir, "dibao")
    assert landed.path.name == f"{landed.sha256}.json"
    assert landed.path.read_bytes() == source.read_bytes()


def test_files_larger_than_a_chunk_are_streamed_whole(tmp_path, landing_dir, monkeypatch):
    monkeypatch.setattr(landing, "CHUNK_SIZE", 4093)  # many small chunks, odd on purpose
    data = ROSTER * 5000
    source = tmp_path / "big.csv.gz"
    source.write_bytes(data)
    [landed] = land(str(source), landing_dir, "dibao")
    assert landed.sha256 == sha(data)
    assert landed.size == len(data)
    assert landed.path.name.endswith(".csv.gz")


def test_concurrent_landings_of_the_same_content_place_it_once(tmp_path, landing_dir):
    source = tmp_path / "a.csv"
    source.write_bytes(ROSTER * 1000)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: land(str(source), landing_dir, "dibao")[0], range(8)))
    assert sum(not r.already_present for r in results) == 1
    assert len(landed_names(landing_dir)) == 2


def test_missing_sources_name_the_url(tmp_path, landing_dir):
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(LandingError, match=f"source not found: {missing}"):
        land(missing, landing_dir, "dibao")
    with pytest.raises(LandingError, match="no files match .*nothing-\\*.csv"):
        land(str(tmp_path / "nothing-*.csv"), landing_dir, "dibao")
    with pytest.raises(LandingError, match="is a directory"):
        land(str(tmp_path), landing_dir, "dibao")
    with pytest.raises(LandingError, match="bad dataset name"):
        land(missing, landing_dir, "../elsewhere")


# --- HTTP ----------------------------------------------------------------------------------
class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder, plus /truncated (promises more bytes than it sends) and /secret
    (needs a token header)."""

    def do_GET(self):
        if self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(ROSTER) * 2))
            self.end_headers()
            self.wfile.write(ROSTER)
            self.close_connection = True
            return
        if self.path == "/secret.csv" and self.headers.get("X-Token") != "s3cret":
            self.send_error(403, "token needed")
            return
        super().do_GET()

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_root(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_sources_land_and_re_land_as_no_ops(http_root, landing_dir):
    root, base = http_root
    (root / "dibao.csv").write_bytes(ROSTER * 3000)  # several chunks
    url = f"{base}/dibao.csv?month=2026-10"
    [landed] = land(url, landing_dir, "dibao")
    assert landed.sha256 == sha(ROSTER * 3000)
    assert landed.source_url == url
    assert landed.path.name == f"{landed.sha256}.csv"
    assert not landed.already_present
    mtime = landed.path.stat().st_mtime_ns
    [again] = land(url, landing_dir, "dibao")
    assert again.already_present
    assert again.path.stat().st_mtime_ns == mtime


def test_http_errors_name_the_url(http_root, landing_dir):
    root, base = http_root
    with pytest.raises(LandingError, match=f"cannot fetch {base}/gone.csv: HTTP 404"):
        land(f"{base}/gone.csv", landing_dir, "dibao")
    with pytest.raises(LandingError, match=f"incomplete read of {base}/truncated"):
        land(f"{base}/truncated", landing_dir, "dibao")
    assert landed_names(landing_dir) == []  # nothing half-landed
    with pytest.raises(LandingError, match="cannot fetch http://127.0.0.1:9/x.csv"):
        land("http://127.0.0.1:9/x.csv", landing_dir, "dibao", storage_options={"timeout": 5})


def test_http_headers_come_from_storage_options(http_root, landing_dir):
    root, base = http_root
    (root / "secret.csv").write_bytes(ROSTER)
    with pytest.raises(LandingError, match="HTTP 403"):
        land(f"{base}/secret.csv", landing_dir, "dibao")
    [landed] = land(
        f"{base}/secret.csv",
        landing_dir,
        "dibao",
        storage_options={"headers": {"X-Token": "s3cret"}},
    )
    assert landed.path.read_bytes() == ROSTER
    with pytest.raises(LandingError, match="endpoint_url are not supported for http"):
        land(f"{base}/secret.csv", landing_dir, "dibao", storage_options={"endpoint_url": "x"})


# --- a failed landing leaves nothing behind --------------------------------------------------
def test_a_read_error_leaves_nothing_behind(landing_dir):
    # /proc/self/mem: a real file whose first read fails with EIO.
    with pytest.raises(LandingError, match="cannot read /proc/self/mem: OSError"):
        land("/proc/self/mem", landing_dir, "dibao")
    assert landed_names(landing_dir) == []


def test_a_source_that_vanishes_mid_copy_leaves_nothing_behind(tmp_path, landing_dir):
    # A named pipe, so the test decides when the copy is half done: then the source is deleted.
    source = tmp_path / "低保.csv"
    os.mkfifo(source)

    def writer():
        with source.open("wb") as pipe:
            pipe.write(ROSTER * 100)
            pipe.flush()
            source.unlink()  # gone while landing is still reading
            pipe.write(ROSTER * 100)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with pytest.raises(LandingError, match=f"source {source} disappeared while"):
            land(str(source), landing_dir, "dibao")
    finally:
        thread.join()
    assert landed_names(landing_dir) == []


def test_a_file_written_during_the_copy_is_not_landed(tmp_path, landing_dir, monkeypatch):
    monkeypatch.setattr(landing, "CHUNK_SIZE", 1 << 16)
    source = tmp_path / "低保.csv"
    source.write_bytes(ROSTER * 50_000)  # ~3 MB: about 50 chunks to copy
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "with open(sys.argv[1], 'ab', buffering=0) as f:\n"
            "    while True:\n"
            "        f.write(sys.argv[2].encode()); time.sleep(0.001)\n",
            str(source),
            "城关镇,李四,110101199003070000\n",
        ]
    )
    try:
        size = source.stat().st_size
        while source.stat().st_size == size:  # the writer is appending
            time.sleep(0.01)
        with pytest.raises(SourceNotReady, match="changed while it was being landed"):
            land(str(source), landing_dir, "dibao")
    finally:
        writer.kill()
        writer.wait()
    assert landed_names(landing_dir) == []  # neither a temporary nor the torn copy
    [landed] = land(str(source), landing_dir, "dibao")  # the writer is done: now it lands
    assert landed.path.read_bytes() == source.read_bytes()


class _SlowHandler(SimpleHTTPRequestHandler):
    """Sends half of what it promises, then hangs: a landing in progress, to be killed."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(ROSTER) * 2000))
        self.end_headers()
        self.wfile.write(ROSTER * 1000)
        self.wfile.flush()
        time.sleep(30)

    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_a_landing_killed_mid_copy_is_cleaned_by_the_next(tmp_path, landing_dir):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slow.csv"
        killed = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from warehouse.landing import land\n"
                "land(sys.argv[1], Path(sys.argv[2]), 'dibao')",
                url,
                str(landing_dir),
            ]
        )
        deadline = time.monotonic() + 60
        part = landing_dir / "dibao" / f".landing-{killed.pid}-"
        folder = landing_dir / "dibao"
        while not (folder.is_dir() and list(folder.glob("*.part"))):  # the copy has begun
            assert time.monotonic() < deadline, "the landing never started"
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        [left] = (landing_dir / "dibao").glob("*.part")
        assert str(left).startswith(str(part))  # what kill -9 leaves: a named temporary
        source = tmp_path / "a.csv"
        source.write_bytes(ROSTER)
        [landed] = land(str(source), landing_dir, "dibao")
        assert landed_names(landing_dir) == [landed.path.name, f"{landed.sha256}.meta.json"]
    finally:
        server.shutdown()
        server.server_close()
