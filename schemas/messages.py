"""Reasons (原因) a record or a value is refused or warned about, in Chinese and English.

A reason is a code and its parameters; its text is rendered in the reader's language when it is
shown (``Reason.text("zh" | "en")``), so the import report, the rejects file and the API can each
speak the user's language. Chinese is the default: the catalogue's users read Chinese.

Parsers in ``schemas`` raise ``ReasonError`` (a ``ValueError``, so pydantic reports it as a field
error and keeps the exception in the error's context); ``reason_of`` turns any pydantic error into
a ``Reason``, translating pydantic's own English messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# code -> (Chinese template, English template). Templates use str.format with the params.
MESSAGES: dict[str, tuple[str, str]] = {
    # a field
    "missing_field": ("缺少 {label}", "missing {label}"),
    "invalid_value": (
        "{label} 的值 '{value}' 无法读取：{detail}",
        "{label}: cannot read '{value}': {detail}",
    ),
    "too_long": ("{label} 超过 {limit} 个字符", "{label} is longer than {limit} characters"),
    "unknown_cycle": (
        "无法识别的更新周期 '{value}'（可用：实时、每日、每周、每月、每季度、每半年、每年、"
        "不定期、每N日 或 R/P1D 等 ISO 周期）",
        "unrecognised update cycle '{value}' (known: 实时, 每日, 每周, 每月, 每季度, 每半年, 每年, "
        "不定期, 每N日 or an ISO period such as R/P1D)",
    ),
    "unknown_share_type": (
        "无法识别的共享类型 '{value}'：应为 无条件共享、有条件共享 或 不予共享",
        "unknown 共享类型 (share type) '{value}': expected 无条件共享, 有条件共享 or 不予共享",
    ),
    "bad_date": ("无法识别的日期 '{value}'", "unrecognised date '{value}'"),
    "impossible_date": ("不存在的日期 '{value}'", "impossible date '{value}'"),
    "bad_precision": (
        "{label} 的值 '{value}' 无法识别：应为 year（年）、month（月）、day（日）、minute（分）或 second（秒）",
        "{label}: unrecognised '{value}': expected year, month, day, minute or second",
    ),
    "future_date": ("日期 '{value}' 晚于现在", "date '{value}' is in the future"),
    "bad_code": (
        "信息资源代码 '{value}' 格式不正确：{detail}",
        "malformed 信息资源代码 (resource code) '{value}': {detail}",
    ),
    "unreadable_optional": (
        "{label} 的值 '{value}' 无法读取，已留空（{detail}）",
        "{label}: '{value}' cannot be read and was left empty ({detail})",
    ),
    "interval_as_modified": (
        "最近更新时间 '{value}' 是重复周期而非日期，已用作更新周期",
        "modified '{value}' is a repeating interval, not a date; used as the update cycle",
    ),
    "interval_not_date": (
        "'{value}' 是重复周期而非日期",
        "'{value}' is a repeating interval, not a date",
    ),
    "older_update": (
        "来源的最近更新时间 {value} 早于已记录的 {current}，保留较新者",
        "the source's last update {value} is older than the recorded {current}; the newer is kept",
    ),
    # characters and bytes
    "bad_characters": (
        "{count} 个无效字符（孤立代理项或控制字符）已替换为 \ufffd",
        "{count} invalid characters (unpaired surrogates or control characters) replaced by \ufffd",
    ),
    "undecodable_bytes": (
        "含 {count} 个 {encoding} 无法解码的字节，已替换为 \ufffd",
        "{count} bytes that are not valid {encoding}, replaced by \ufffd",
    ),
    "field_too_large": (
        "字段大小 {size} 字节，超过上限 {limit} 字节",
        "field of {size} bytes exceeds the limit of {limit} bytes",
    ),
    # a record
    "extra_fields": (
        "多出 {count} 个字段（表头只有 {columns} 列）",
        "{count} extra fields (the header has {columns} columns)",
    ),
    "not_an_object": ("记录不是一个对象（{kind}）", "the record is not an object ({kind})"),
    "duplicate_record": (
        "与第 {first_row} 行完全相同，已合并为一个目录条目",
        "identical to row {first_row}; merged into one entry",
    ),
    "key_conflict": (
        "该来源记录已属于信息资源代码 {owner}，此处给出的代码 {code} 与之不同",
        "this source record already belongs to 信息资源代码 {owner}; its code here ({code}) differs",
    ),
    "unparseable_record": ("记录无法解析：{detail}", "the record cannot be parsed: {detail}"),
    # a whole file (readers' ReadError; "empty_file" is below)
    "no_such_file": ("{file}：文件不存在", "{file}: no such file"),
    "blank_file": ("{file}：文件只有空白，没有内容", "{file}: the file holds only blanks"),
    "unknown_file_type": (
        "{file}：无法识别的文件类型 '{suffix}'（应为 .csv、.xlsx、.json 或 .jsonl）",
        "{file}: unknown file type '{suffix}' (expected .csv, .xlsx, .json or .jsonl)",
    ),
    "unknown_format": (
        "{file}：无法识别的格式 '{format}'（可用：{formats}）",
        "{file}: unknown format '{format}' (known: {formats})",
    ),
    "unknown_encoding": (
        "{file}：文本编码无法识别（试过 {encodings}，均有大量无法解码的字节）",
        "{file}: the text is in no known encoding (tried {encodings}: many undecodable bytes)",
    ),
    "not_json": ("{file}：不是有效的 JSON：{detail}", "{file}: not valid JSON: {detail}"),
    "json_syntax": (
        "{file}：JSON 语法错误，位于第 {after} 条记录之后（已读到第 {offset} 字节）：{detail}",
        "{file}: JSON syntax error after record {after} (read up to byte {offset}): {detail}",
    ),
    "no_header": ("{file}：没有表头行", "{file}: no header row"),
    "repeated_column": ("{name}（第 {columns} 列）", "{name} (columns {columns})"),
    "repeated_header": (
        "{file}：表头中有重复的列名：{names}；请改名后再导入",
        "{file}: the header repeats column names: {names}; rename them and import again",
    ),
    "not_a_spreadsheet": (
        "{file}：无法作为电子表格读取：{detail}",
        "{file}: cannot be read as a spreadsheet: {detail}",
    ),
    # a whole file or an import (H3: importer)
    "mapping_columns_missing": (
        "{file}：映射 {mapping} 需要的列在文件中不存在：{missing}（文件的列：{columns}）",
        "{file}: mapping {mapping} needs columns the file does not have: {missing} "
        "(the file's columns: {columns})",
    ),
    "draft_incomplete": (
        "{file}：没有适用的内置映射，按表头起草的映射也找不到：{missing}（文件的列：{columns}）；"
        "请编写映射 YAML（docs/mappings.md）并用 --mapping 指定",
        "{file}: no shipped mapping fits and a mapping drafted from its headers cannot place: "
        "{missing} (the file's columns: {columns}); write a mapping YAML (docs/mappings.md) "
        "and pass --mapping FILE",
    ),
    "drafted_mapping": (
        "没有适用的内置映射，已按文件表头起草映射 {mapping} 导入；保存以便检查和修改：{command}",
        "no shipped mapping fits; imported with mapping {mapping} drafted from the file's "
        "headers; to check and keep it: {command}",
    ),
    "empty_file": ("{file}：文件为空（0 字节）", "{file}: the file is empty (0 bytes)"),
    "no_records": (
        "{file}：找不到记录（JSON 文件需要一个记录列表，或包含列表的对象）",
        "{file}: no records found (a JSON file needs a list of records, or an object holding one)",
    ),
    "import_failed": (
        "导入在第 {records} 条记录后失败：{error}",
        "the import failed after {records} records: {error}",
    ),
    # issue 12, importer and exports (H3)
    "import_broke_off": (
        "断开前的 {landed} 条记录已导入，文件随后中途断开（{where}）；请修复文件后重新导入，"
        "将从断开处继续",
        "{landed} records landed before the file broke off at {where}; "
        "fix the file and re-run to resume",
    ),
    "is_a_directory": (
        "{file}：是一个目录，不是文件；请指定要导入的文件",
        "{file}: is a directory, not a file; give the file to import",
    ),
    "header_only": (
        "{file}：文件只有表头，没有记录（表头：{columns}）",
        "{file}: the file has a header and no records (header: {columns})",
    ),
    "duplicate_code": (
        "信息资源代码 {code} 与第 {first_row} 行重复（内容不同）：同一文件中先出现的记录为准，"
        "本行未导入",
        "信息资源代码 (resource code) {code} repeats row {first_row} with different content: "
        "within one file the first record wins; this one is not imported",
    ),
    "ambiguous_key": (
        "与第 {first_row} 行的 {key} 相同而内容不同：按出现顺序区分（key#{n}）；"
        "文件顺序改变时条目可能互换",
        "same {key} as row {first_row} but different content: told apart by order (key#{n}); "
        "if the file's order changes, the entries may swap",
    ),
    "excel_cut": (
        "{label} 恰为 Excel 单元格上限 {limit} 个字符，且是已存内容的开头：是 Excel 截断的，"
        "已保留已存的完整内容",
        "{label} is exactly Excel's cell limit of {limit} characters and the beginning of the "
        "stored text: Excel cut it, so the stored full text is kept",
    ),
    "organisation_invalid": (
        "提供方第 {row} 行无法读取，未导入：{detail}",
        "organisation row {row} cannot be read and was not imported: {detail}",
    ),
}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a value or a record was refused or warned about: a code from ``MESSAGES`` and the
    values its templates name."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: Lang = "zh") -> str:
        templates = MESSAGES.get(self.code)
        if templates is None:
            return f"{self.code}: {dict(self.params)}"
        template = templates[0] if lang == "zh" else templates[1]
        try:
            return template.format(**{k: _shown(_in(v, lang)) for k, v in self.params.items()})
        except (KeyError, IndexError):
            return f"{template} {dict(self.params)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "params": {
                k: v.as_dict() if isinstance(v, Reason) else _shown(v)
                for k, v in self.params.items()
            },
        }

    def __str__(self) -> str:
        return self.text("zh")


class ReasonError(ValueError):
    """A ValueError carrying a ``Reason``; str() is the Chinese text."""

    def __init__(self, code: str, **params: Any) -> None:
        self.reason = Reason(code, params)
        super().__init__(self.reason.text("zh"))


_PYDANTIC_CODES = {
    "missing": "missing_field",
    "string_too_short": "missing_field",
    "too_short": "missing_field",
    "string_too_long": "too_long",
    "date_parsing": "bad_date",
    "date_from_datetime_parsing": "bad_date",
    "date_from_datetime_inexact": "bad_date",
    "datetime_parsing": "bad_date",
    "datetime_from_date_parsing": "bad_date",
    "date_type": "bad_date",
    "datetime_type": "bad_date",
}


def reason_of(error: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> Reason:
    """The ``Reason`` of one pydantic error dict (``ValidationError.errors()`` item).

    ``labels`` maps a field name to the label users know it by (the model's Chinese title)."""
    ctx = error.get("ctx") or {}
    original = ctx.get("error")
    if isinstance(original, ReasonError):
        return original.reason
    loc = [str(p) for p in error.get("loc", ())]
    name = loc[0] if loc else "record"
    label = (labels or {}).get(name, name)
    if len(loc) > 1:
        label = f"{label}.{'.'.join(loc[1:])}"
    value = error.get("input")
    code = _PYDANTIC_CODES.get(str(error.get("type")))
    if code == "missing_field":
        return Reason(code, {"label": label})
    if code == "too_long":
        return Reason(code, {"label": label, "limit": ctx.get("max_length", "?")})
    if code == "bad_date":
        return Reason(code, {"value": value})
    detail = str(error.get("msg", "")).removeprefix("Value error, ")
    return Reason("invalid_value", {"label": label, "value": value, "detail": detail})


@dataclass(frozen=True, slots=True)
class Joined:
    """A parameter listing several items, joined the way the reader's language lists them
    (``、`` in Chinese, ``, `` in English, or the separators given)."""

    items: tuple[Any, ...]
    zh: str = "、"
    en: str = ", "

    def text(self, lang: Lang = "zh") -> str:
        separator = self.zh if lang == "zh" else self.en
        return separator.join(str(_in(item, lang)) for item in self.items)


def _in(value: Any, lang: Lang) -> Any:
    """A parameter that is itself a Reason (the detail of another) or a Joined list speaks the
    same language."""
    return value.text(lang) if isinstance(value, Reason | Joined) else value


def _shown(value: Any, limit: int = 200) -> Any:
    """A parameter as it appears in a message: long text cut, so one line stays one line."""
    if isinstance(value, str):
        value = value.replace("\n", " ").replace("\r", " ")
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, list | dict):
        return _shown(str(value), limit)
    return value
