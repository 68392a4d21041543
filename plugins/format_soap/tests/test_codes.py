"""The soap format's verdicts carry their code as data, beside the text."""

from __future__ import annotations

import pytest
from writeback_soap._classify import fault_result


@pytest.mark.parametrize(
    ("faultstring", "outcome", "code"),
    [
        ("Other user has modified the record.", "failed", "WB-320"),
        ("Server Busy: try again later.", "retry", "WB-321"),
    ],
)
def test_a_fault_has_its_code(faultstring, outcome, code):
    result = fault_result("s:Server", faultstring, 500, {})
    assert (result.outcome.value, result.code) == (outcome, code)
    assert result.error is not None and result.error.startswith(f"{code}: SOAP fault")
