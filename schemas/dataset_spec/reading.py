"""Reading a spec file: strict YAML (a key given twice is an error), then validation whose
errors name the file, the place (``columns[2] (id_card).pii``) and, for a mistyped key, the key
that was probably meant."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from schemas.dataset_spec.columns import Column
from schemas.dataset_spec.load import Load
from schemas.dataset_spec.source import Source
from schemas.dataset_spec.spec import DatasetSpec
from schemas.dataset_spec.volume import Volume
from schemas.errors import InvalidInput


class SpecError(InvalidInput):
    """A dataset spec file that cannot be read or is invalid; the message names file and key."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (PyYAML would keep the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# The nested models a key of the spec leads to, to suggest the keys they do have.
_NESTED: dict[str, type[BaseModel]] = {
    "source": Source,
    "columns": Column,
    "load": Load,
    "volume": Volume,
}


def load_spec(path: Path | str) -> DatasetSpec:
    """Read and validate a dataset spec; raise SpecError naming the file and every bad key."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:  # a handle, so YAML errors name the file
            data = yaml.load(handle, Loader=_StrictLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read dataset spec: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a dataset spec is a YAML mapping of keys (name, title, "
            f"entry_code, source, columns …), not {type(data).__name__}"
        )
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(error, data) for error in exc.errors())
        raise SpecError(f"{path}: invalid dataset spec: {problems}") from exc


def _describe(error: ErrorDetails, data: dict[str, Any]) -> str:
    """One validation error as ``columns[2] (id_card).pii: unknown pii 'x' …``."""
    where: list[str] = []
    node: Any = data
    for part in error["loc"]:
        if isinstance(part, int):
            label = f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                label += f" ({node['name']})"
            where.append(label)
        else:
            where.append(("." if where else "") + str(part))
            node = node.get(part) if isinstance(node, dict) else None
    location = "".join(where)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1])
        message = f"unknown key {key!r}"
        model = _model_at(error["loc"][:-1])
        if model is not None:
            close = difflib.get_close_matches(key, list(model.model_fields), n=1)
            message += (
                f" (did you mean {close[0]!r}?)"
                if close
                else (f"; expected one of {', '.join(model.model_fields)}")
            )
    return f"{location}: {message}" if location else message


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class at a location of the spec, to suggest keys it does have."""
    model: type[BaseModel] = DatasetSpec
    for part in loc:
        if isinstance(part, int):
            continue
        nested = _NESTED.get(str(part))
        if nested is None:
            return None
        model = nested
    return model
