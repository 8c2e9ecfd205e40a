"""Landing from S3: a real S3-compatible server (moto's) on 127.0.0.1, reached through s3fs."""

from __future__ import annotations

import hashlib
import json

import pytest
from landing_helpers import landed_names, sha
from s3_server import s3_bucket, s3_server  # noqa: F401 - pytest fixtures

from warehouse import landing
from warehouse.landing import LandingError, land

ROSTER = "乡镇(街道),姓名,身份证号\n城关镇,张三,110101199003074514\n".encode("gb18030")
MORE = "城关镇,李四,110101199003070000\n".encode("gb18030")


def test_an_object_lands_by_content_hash(s3_bucket, landing_dir, monkeypatch):  # noqa: F811
    monkeypatch.setattr(landing, "CHUNK_SIZE", 64 * 1024 + 3)  # several ranged reads
    data = ROSTER * 20_000
    key = "minzheng/城乡低保对象_202610.csv.gz"
    s3_bucket.put(key, data)
    [landed] = land(
        s3_bucket.url(key), landing_dir, "dibao", storage_options=s3_bucket.storage_options
    )
    assert landed.sha256 == sha(data)
    assert landed.size == len(data)
    assert landed.source_url == s3_bucket.url(key)
    assert not landed.already_present
    assert landed.path == landing_dir / "dibao" / f"{sha(data)}.csv.gz"
    assert landed.path.read_bytes() == data
    sidecar = json.loads((landing_dir / "dibao" / f"{sha(data)}.meta.json").read_text("utf-8"))
    assert sidecar["source_url"] == s3_bucket.url(key)
    assert sidecar["file_name"] == "城乡低保对象_202610.csv.gz"
    assert landed_names(landing_dir) == [landed.path.name, f"{sha(data)}.meta.json"]


def test_a_glob_lands_every_matching_object(s3_bucket, landing_dir):  # noqa: F811
    contents = {
        f"in/低保_{month:02d}.csv": f"月份\n{month}\n".encode("gbk") for month in (9, 10, 11)
    }
    for key, data in contents.items():
        s3_bucket.put(key, data)
    s3_bucket.put("in/说明.txt", b"not matched")
    s3_bucket.put("in/old/低保_08.csv", b"in a sub-prefix: not matched by *")
    landed = land(
        s3_bucket.url("in/*.csv"), landing_dir, "dibao", storage_options=s3_bucket.storage_options
    )
    assert [f.source_url for f in landed] == [s3_bucket.url(k) for k in sorted(contents)]
    assert [f.path.read_bytes() for f in landed] == [contents[k] for k in sorted(contents)]
    assert len(landed_names(landing_dir)) == 6
    deep = land(
        s3_bucket.url("in/**/*.csv"),
        landing_dir,
        "dibao",
        storage_options=s3_bucket.storage_options,
    )
    assert s3_bucket.url("in/old/低保_08.csv") in [f.source_url for f in deep]


def test_re_landing_an_unchanged_object_is_a_no_op(s3_bucket, landing_dir):  # noqa: F811
    s3_bucket.put("a.csv", ROSTER)
    [first] = land(
        s3_bucket.url("a.csv"), landing_dir, "dibao", storage_options=s3_bucket.storage_options
    )
    sidecar = landing_dir / "dibao" / f"{first.sha256}.meta.json"
    before = (first.path.stat().st_mtime_ns, first.path.stat().st_ino, sidecar.read_bytes())
    for url in (s3_bucket.url("a.csv"), s3_bucket.url("*.csv")):
        [again] = land(url, landing_dir, "dibao", storage_options=s3_bucket.storage_options)
        assert again.already_present
        assert again.path == first.path
    after = (first.path.stat().st_mtime_ns, first.path.stat().st_ino, sidecar.read_bytes())
    assert after == before
    assert len(landed_names(landing_dir)) == 2


def test_a_changed_object_lands_beside_the_old(s3_bucket, landing_dir):  # noqa: F811
    options = s3_bucket.storage_options
    s3_bucket.put("in/a.csv", ROSTER)
    [old] = land(s3_bucket.url("in/*.csv"), landing_dir, "dibao", storage_options=options)
    s3_bucket.put("in/a.csv", ROSTER + MORE)  # replaced under the same key
    [new] = land(s3_bucket.url("in/*.csv"), landing_dir, "dibao", storage_options=options)
    assert new.sha256 == sha(ROSTER + MORE)
    assert not new.already_present
    assert old.path.read_bytes() == ROSTER
    assert len(landed_names(landing_dir)) == 4
    # An object added after a listing is found: listings are not cached between landings.
    s3_bucket.put("in/b.csv", MORE)
    [added] = land(s3_bucket.url("in/b.csv"), landing_dir, "dibao", storage_options=options)
    assert added.path.read_bytes() == MORE


def test_an_object_replaced_while_it_is_read_is_not_landed(
    s3_bucket,  # noqa: F811 - a pytest fixture
    landing_dir,
    monkeypatch,
):
    monkeypatch.setattr(landing, "CHUNK_SIZE", 64 * 1024)
    s3_bucket.put("a.csv", ROSTER * 10_000)
    real_sha256 = hashlib.sha256

    class ReplacingAfterFirstChunk:
        def __init__(self):
            self.inner, self.chunks = real_sha256(), 0

        def update(self, chunk):
            self.chunks += 1
            if self.chunks == 1:
                s3_bucket.put("a.csv", MORE * 20_000)
            self.inner.update(chunk)

        def hexdigest(self):
            return self.inner.hexdigest()

    monkeypatch.setattr(landing.hashlib, "sha256", ReplacingAfterFirstChunk)
    with pytest.raises(LandingError, match=f"cannot read {s3_bucket.url('a.csv')}"):
        land(
            s3_bucket.url("a.csv"), landing_dir, "dibao", storage_options=s3_bucket.storage_options
        )
    assert landed_names(landing_dir) == []


def test_missing_objects_name_the_url(s3_bucket, s3_server, landing_dir):  # noqa: F811
    options = s3_bucket.storage_options
    missing = s3_bucket.url("nope/城乡低保对象.csv")
    with pytest.raises(LandingError, match=f"source not found: {missing}"):
        land(missing, landing_dir, "dibao", storage_options=options)
    with pytest.raises(LandingError, match="source not found: s3://no-such-bucket/a.csv"):
        land("s3://no-such-bucket/a.csv", landing_dir, "dibao", storage_options=options)
    with pytest.raises(LandingError, match=r"no files match s3://.*/in/\*\.xlsx"):
        land(s3_bucket.url("in/*.xlsx"), landing_dir, "dibao", storage_options=options)
    s3_bucket.put("in/a.csv", ROSTER)
    with pytest.raises(LandingError, match=r"s3://.*/in is a directory"):
        land(s3_bucket.url("in"), landing_dir, "dibao", storage_options=options)
    assert landed_names(landing_dir) == []


@pytest.mark.slow
def test_an_unreachable_endpoint_names_the_url(landing_dir):
    options = {
        "key": "k",
        "secret": "s",
        "endpoint_url": "http://127.0.0.1:9",
        "config_kwargs": {"connect_timeout": 2, "retries": {"max_attempts": 1}},
    }
    with pytest.raises(LandingError, match="cannot list s3://bucket/a.csv: .*Could not connect"):
        land("s3://bucket/a.csv", landing_dir, "dibao", storage_options=options)
    with pytest.raises(LandingError, match="cannot list s3://bucket/a.csv: TypeError"):
        land(
            "s3://bucket/a.csv",
            landing_dir,
            "dibao",
            storage_options={**options, "no_such_option": 1},
        )
