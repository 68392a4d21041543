"""writeback's ``nav`` connector type: appointment changes as staging rows over NAV's SOAP page.

The row is the one Business Central receives (:mod:`writeback_bc.staging`).
"""

from __future__ import annotations

from writeback_bc import StagingOptions as NavOptions

__all__ = ["NavOptions"]
