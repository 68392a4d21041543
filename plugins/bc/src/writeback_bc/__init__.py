"""writeback's ``bc`` connector type: appointment changes as Business Central staging rows.

:mod:`writeback_bc.staging` builds the row (also used by ``writeback-nav``).
"""

from __future__ import annotations

from ._connector import StagingConnector
from ._options import BcOptions, StagingOptions
from .staging import DATABASE_ACTIONS, PAGE_FIELDS, ROW_FIELDS, staging_row

__all__ = [
    "DATABASE_ACTIONS",
    "PAGE_FIELDS",
    "ROW_FIELDS",
    "BcOptions",
    "StagingConnector",
    "StagingOptions",
    "staging_row",
]
