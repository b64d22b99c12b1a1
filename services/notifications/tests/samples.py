"""Sample events of every type the service handles, built from the contract's own examples."""

from __future__ import annotations

from typing import Any, TypeVar

from relais_contracts.base import Message

M = TypeVar("M", bound=Message)


def example(model: type[M], index: int = 0, **changes: Any) -> M:
    extra: Any = model.model_config.get("json_schema_extra")
    return model.model_validate({**extra["examples"][index], **changes})
