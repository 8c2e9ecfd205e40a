"""The JSON Schema of a dataset spec, for editors (yaml-language-server) and other tools."""

from __future__ import annotations

from typing import Any

from schemas.dataset_spec.spec import DatasetSpec


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of a dataset spec, for editors (yaml-language-server) and other tools."""
    schema = DatasetSpec.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
