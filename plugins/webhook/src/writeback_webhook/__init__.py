"""writeback's ``webhook`` connector type: appointment changes as signed JSON events.

Receivers can use :func:`verify_signature` to check what they get.
"""

from __future__ import annotations

from ._connector import WebhookConnector
from ._options import WebhookOptions
from ._signing import sign, verify_signature

__all__ = ["WebhookConnector", "WebhookOptions", "sign", "verify_signature"]
