"""Too short or too long: counted in characters, an empty secret said plainly."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError
from writeback._problems import problems_from


class Settings(BaseModel):
    key: SecretStr = Field(min_length=1)
    pin: SecretStr = Field(default=SecretStr("1234"), min_length=4, max_length=8)
    label: str = Field(default="abc", min_length=1)


def sentences(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        Settings(**values)
    return problems_from(info.value, prefix="auth", secret_fields=("key", "pin"))


def test_an_empty_secret_must_not_be_empty() -> None:
    assert sentences(key="") == ["auth.key must not be empty."]


def test_secret_lengths_are_characters_and_the_secret_length_is_not_told() -> None:
    assert sentences(key="k", pin="12") == ["auth.pin must have at least 4 characters."]
    assert sentences(key="k", pin="123456789") == ["auth.pin must have at most 8 characters."]


def test_plain_strings_keep_pydantic_sentence() -> None:
    assert sentences(key="k", label="") == [
        "auth.label is '': string should have at least 1 character."
    ]
