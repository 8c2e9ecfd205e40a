"""数据来源 (``source``): where a dataset's file comes from and how to read it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from schemas.dataset_spec.encodings import TEXT_ENCODINGS, normalise_encoding

Format = Literal["csv", "xlsx", "json", "ndjson", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "json", "ndjson", "parquet")
TEXT_FORMATS = ("csv", "json", "ndjson")
URL_SCHEMES = ("file", "http", "https", "s3")
_SUFFIX_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# Keys that only make sense for some formats: setting one for another format is an error.
_FORMAT_ONLY = {
    "sheet": ("xlsx",),
    "delimiter": ("csv",),
    "header_row": ("csv", "xlsx"),
    "skip_rows": ("csv", "xlsx"),
}


def infer_format(url: str) -> Format | None:
    """The format a URL's suffix implies (query strings ignored), None when it says nothing."""
    path = urlsplit(url).path if "://" in url else url
    return _SUFFIX_FORMATS.get(Path(path).suffix.lower())


class Source(BaseModel):
    """数据来源: where the file comes from and how to read it."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        title="来源地址",
        description="local path, file://, http(s):// or s3:// URL; local, file:// and s3:// may "
        "be globs (*.csv, **/*.xlsx) whose every match is loaded. A relative path is relative "
        "to the workspace; local files must lie in its sources/ or datasets/ or a folder "
        "MULU_SOURCE_ROOTS names (symlinks resolved)",
    )
    format: Format | None = Field(
        None, title="文件格式", description="inferred from the url's suffix when omitted"
    )
    encoding: Annotated[
        str, WithJsonSchema({"type": "string", "examples": list(TEXT_ENCODINGS)})
    ] = Field(
        "auto",
        title="字符编码",
        description="text formats only: auto (default: UTF-8 when the text is valid UTF-8, else "
        "GB18030), utf-8, utf-8-sig, gbk or gb18030 (gb2312 and cp936 read as gbk); a declared "
        "gbk/gb18030 file that is valid UTF-8 with non-ASCII text is refused; text is "
        "transcoded to UTF-8 before loading",
    )
    sheet: str | int | None = Field(
        None,
        title="工作表",
        description="xlsx only: sheet name or 0-based index; default the first",
    )
    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        title="分隔符",
        description="csv only: one character; default ',' (tab for .tsv)",
    )
    header_row: int = Field(
        1,
        ge=1,
        title="表头行",
        description="csv/xlsx: 1-based row holding the column names; "
        "rows above it (titles, notes) are skipped",
    )
    skip_rows: int = Field(
        0,
        ge=0,
        title="跳过行数",
        description="csv/xlsx: rows right below the header to skip (units, English names, 填报说明)",
    )
    settle: float | None = Field(
        None,
        ge=0,
        le=3600,
        title="静置时间",
        description="local sources: seconds a file must have gone unchanged (by its mtime) "
        "before it is loaded; a younger file is watched that long and, when it changes, the "
        "load waits for the next run. Default 5 (MULU_SOURCE_SETTLE sets another); 0: no wait. "
        "Not used when ready is set",
    )
    ready: str | None = Field(
        None,
        min_length=1,
        title="就绪标记",
        description="a file name, e.g. _SUCCESS: the source is loaded only once this file "
        "exists beside it (in every folder holding a file the url matches); until then the "
        "load waits. Local, file:// and s3:// sources",
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        title="存储选项",
        description="passed to fsspec, e.g. {endpoint_url: http://127.0.0.1:9000} or "
        "{anon: true} for s3; {headers: {...}} for http(s)",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        if "://" in value:
            scheme = value.split("://", 1)[0].lower()
            if scheme not in URL_SCHEMES:
                raise ValueError(
                    f"unsupported url scheme {scheme!r}: expected a local path or "
                    f"{', '.join(s + '://' for s in URL_SCHEMES)}"
                )
        return value

    @field_validator("ready")
    @classmethod
    def _ready(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value in ("", ".", "..") or any(c in value for c in "/\\*?[]"):
            raise ValueError(
                f"ready must be a file name beside the source, like _SUCCESS, not {value!r}"
            )
        return value

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding(cls, value: Any) -> str:
        return normalise_encoding(value)

    @model_validator(mode="after")
    def _fit_format(self) -> Source:
        if self.format is None:
            self.format = infer_format(self.url)
            if self.format is None:
                raise ValueError(
                    f"cannot tell the format from url {self.url!r} (known suffixes: "
                    f"{', '.join(_SUFFIX_FORMATS)}); set source.format"
                )
            if self.url.lower().endswith(".tsv") and self.delimiter is None:
                self.delimiter = "\t"
        given = self.model_fields_set
        for key, formats in _FORMAT_ONLY.items():
            if key in given and getattr(self, key) is not None and self.format not in formats:
                raise ValueError(f"{key} applies to {'/'.join(formats)} only, not {self.format}")
        scheme = self.url.split("://", 1)[0].lower() if "://" in self.url else ""
        if self.ready is not None and scheme in ("http", "https"):
            raise ValueError("ready applies to local, file:// and s3:// sources, not http(s)")
        if self.settle is not None and scheme not in ("", "file"):
            raise ValueError(
                f"settle applies to local and file:// sources, not {scheme}:// "
                f"(a remote object is whole once it can be read; ready works for s3://)"
            )
        if (
            "encoding" in given
            and self.encoding not in ("auto", "utf-8")
            and self.format not in TEXT_FORMATS
        ):
            raise ValueError(
                f"encoding applies to {'/'.join(TEXT_FORMATS)} only, not "
                f"{self.format} (binary formats carry their own encoding)"
            )
        return self
