from __future__ import annotations

import pytest
from writeback import InvalidConnectorError
from writeback.plugin import validate_connector

from .conftest import row


def test_valid_row_gets_defaults(registry):
    v = validate_connector(row(), registry)
    assert v.row.crud_types == ("create", "update", "delete")
    assert v.row.enabled is True and v.variant == "local"
    assert v.secret_paths() == ("auth.password", "options.token")
    assert v.warnings == ()


def test_alias_is_accepted(registry):
    assert validate_connector(row(api_type="W"), registry).format_spec.name == "wire"


def test_transport_rules_out_auth_and_message_lists_allowed(registry):
    with pytest.raises(InvalidConnectorError) as info:
        validate_connector(row(api_type="pipe"), registry)
    message = info.value.message
    assert "auth.method 'key'" in message
    assert "type 'fake' (on-premises)" in message
    assert "api_type 'pipe'" in message
    assert message.endswith("allowed: none.")


def test_variant_decides_methods_and_warnings(registry):
    v = validate_connector(row(options={"deployment": "cloud"}), registry)
    assert v.variant == "cloud"
    assert v.warnings and "deprecated in the cloud" in v.warnings[0]
    with pytest.raises(InvalidConnectorError, match=r"\(online\).*allowed: key\."):
        validate_connector(row(options={"deployment": "cloud"}, auth={"method": "none"}), registry)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"crud_types": ["craete"]}, "crud_types[0]"),
        ({"crud_types": []}, "crud_types is empty"),
        ({"uri": "ftp://x"}, "uri 'ftp://x' is not an http"),
        ({"source_app": "X" * 31}, "source_app"),
        ({"colour": "red"}, "colour is not a known field"),
        ({"type": "sap"}, "type 'sap' is not a known connector type"),
        ({"api_type": "soap"}, "api_type 'soap' is not a known API format"),
        ({"auth": {"method": "key"}}, "auth.password is required"),
        (
            {"auth": {"method": "key", "password": "p", "user": "u"}},
            "auth.user is not a known field",
        ),
        ({"options": {"deployment": 3}}, "options.deployment"),
        ({"throttle": {"rate": "fast"}}, "'6000/300s'"),
        ({"retry": {"schedule": [-1]}}, "seconds from 0 to 86400"),
        ({"auth": {}}, "auth.method is required"),
    ],
)
def test_bad_rows_name_the_field(registry, overrides, expected):
    with pytest.raises(InvalidConnectorError) as info:
        validate_connector(row(**overrides), registry)
    assert expected in info.value.message
    assert "Traceback" not in info.value.message


def test_secret_values_are_never_quoted_in_errors(registry):
    with pytest.raises(InvalidConnectorError) as info:
        validate_connector(row(auth={"method": "key", "password": ["hunter2-secret"]}), registry)
    assert "hunter2-secret" not in info.value.message
    assert "auth.password" in info.value.message


def test_non_object_row(registry):
    with pytest.raises(InvalidConnectorError, match="must be an object"):
        validate_connector(["x"], registry)


def test_source_app_is_kept_exactly_and_name_is_trimmed(registry):
    v = validate_connector(row(source_app=" APP ", name="  f1 "), registry)
    assert v.row.source_app == " APP " and v.row.name == "f1"
