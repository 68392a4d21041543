"""The OpenAPI 3.1 document of the API, written by hand beside the routes it describes."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    said = {
        400: "Bad request: malformed JSON, an unknown query parameter, a bad cursor.",
        401: "No API key, or one that is unknown or revoked.",
        403: "The API key's scope does not allow this call.",
        404: "Not found.",
        413: "The body is larger than --max-body.",
        415: "The content type is not JSON.",
        422: "Invalid input: nothing was written; one sentence per problem.",
        503: "Not ready.",
    }
    return {str(s): _json(_ref("Error"), said[s]) for s in statuses}


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_READ = [{"apiKey": []}, {"basic": []}]


def _op(summary: str, ok: dict[str, Any], *errors: int, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "responses": {**ok, **_errors(401, 403, *errors)},
        "security": _READ,
        **extra,
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document served at ``/openapi.json``."""
    nullable_text = {"type": ["string", "null"]}
    delivery = {
        "type": "object",
        "required": ["id", "event_id", "connector", "action", "appointment", "status"],
        "properties": {
            "id": {"type": "string"},
            "event_id": {"type": "string"},
            "connector": {"type": "string"},
            "action": {"type": "string", "enum": ["create", "update", "delete"]},
            "appointment": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "delivered", "dead", "superseded"]},
            "attempts": {"type": "integer"},
            "last_error": nullable_text,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "next_attempt_at": nullable_text,
        },
    }
    attempt = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "started_at": {"type": "string", "format": "date-time"},
            "duration_ms": {"type": "number"},
            "status_code": {"type": ["integer", "null"]},
            "outcome": {"type": "string", "enum": ["delivered", "retry", "failed"]},
            "code": nullable_text,
            "error": nullable_text,
        },
    }
    schemas = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "pattern": "^WB-[0-9]{3}$"},
                        "message": {"type": "string"},
                        "problems": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
        },
        "Event": {
            "type": "object",
            "description": "An appointment event: {id?, action, occurred_at?, appointment}, "
            "or the planning application's nested PascalCase shape.",
            "additionalProperties": True,
        },
        "Submitted": {
            "type": "object",
            "properties": {
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "event_id": {"type": "string"},
                            "created": {"type": "boolean"},
                            "deliveries": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string"},
                                        "connector": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
        "Delivery": delivery,
        "DeliveryWithHistory": {
            "allOf": [
                _ref("Delivery"),
                {
                    "type": "object",
                    "properties": {"history": {"type": "array", "items": attempt}},
                },
            ]
        },
        "DeliveryPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("Delivery")},
                "next": nullable_text,
            },
        },
        "Connector": {
            "type": "object",
            "description": "A connector row; secrets as ***.",
            "additionalProperties": True,
        },
        "ProbeReport": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}, "message": {"type": "string"}},
        },
        "Stats": {"type": "object", "additionalProperties": True},
    }
    events_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [_ref("Event"), {"type": "array", "items": _ref("Event")}]}
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
    list_params = [
        {
            "name": "status",
            "in": "query",
            "schema": {"type": "string", "enum": ["pending", "delivered", "dead", "superseded"]},
        },
        {"name": "connector", "in": "query", "schema": {"type": "string"}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        },
        {"name": "after", "in": "query", "schema": {"type": "string"}},
    ]
    connector = _json(_ref("Connector"), "The connector row (secrets ***).")
    paths: dict[str, Any] = {
        "/v1/events": {
            "post": _op(
                "Submit events (scope ingest).",
                {"202": _json(_ref("Submitted"), "What became of each event.")},
                400,
                413,
                415,
                422,
                requestBody=events_body,
            )
        },
        "/v1/deliveries": {
            "get": _op(
                "A page of deliveries, oldest first (scope read).",
                {"200": _json(_ref("DeliveryPage"), "The page and the next cursor.")},
                400,
                parameters=list_params,
            )
        },
        "/v1/deliveries/{id}": {
            "get": _op(
                "One delivery with every attempt (scope read).",
                {"200": _json(_ref("DeliveryWithHistory"), "The delivery.")},
                404,
                parameters=[_ID],
            )
        },
        "/v1/deliveries/{id}/retry": {
            "post": _op(
                "Re-queue a delivery (scope admin).",
                {"200": _json(_ref("DeliveryWithHistory"), "The delivery, re-queued.")},
                404,
                parameters=[_ID],
            )
        },
        "/v1/connectors": {
            "get": _op(
                "Every connector (scope read).",
                {"200": _json({"type": "array", "items": _ref("Connector")}, "The rows.")},
            )
        },
        "/v1/connectors/{name}": {
            "get": _op("One connector (scope read).", {"200": connector}, 404, parameters=[_NAME]),
            "put": _op(
                "Validate and store a row under this name (scope admin).",
                {"200": connector},
                400,
                413,
                415,
                422,
                parameters=[_NAME],
                requestBody={"required": True, "content": {"application/json": {"schema": {}}}},
            ),
            "delete": _op(
                "Remove a connector (scope admin).",
                {"200": _json({"type": "object"}, "Removed.")},
                404,
                parameters=[_NAME],
            ),
        },
        "/v1/connectors/{name}/test": {
            "post": _op(
                "Reach the endpoint and authenticate, writing nothing (scope admin).",
                {"200": _json(_ref("ProbeReport"), "Whether it was reached.")},
                404,
                parameters=[_NAME],
            )
        },
        "/v1/connectors/{name}/pause": {
            "post": _op(
                "Pause a connector (scope admin).",
                {"200": connector},
                404,
                parameters=[
                    _NAME,
                    {"name": "reason", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/v1/connectors/{name}/resume": {
            "post": _op(
                "Resume a connector (scope admin).",
                {"200": connector},
                404,
                parameters=[_NAME],
            )
        },
        "/v1/stats": {
            "get": _op(
                "Deliveries by status per connector (scope read).",
                {"200": _json(_ref("Stats"), "As deliveries stats --json.")},
            )
        },
        "/healthz": {"get": _plain("The process runs.", {"200": {"description": "ok"}})},
        "/readyz": {
            "get": _plain(
                "The store answers and its schema is current.",
                {"200": {"description": "ready"}, **_errors(503)},
            )
        },
        "/metrics": {
            "get": _plain(
                "Prometheus metrics.",
                {"200": {"description": "text", "content": {"text/plain": {}}}},
            )
        },
        "/openapi.json": {"get": _plain("This document.", {"200": {"description": "OpenAPI"}})},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "writeback",
            "version": "1",
            "description": "Submit appointment events; read, replay and manage deliveries.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    }


def _plain(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, "security": []}
