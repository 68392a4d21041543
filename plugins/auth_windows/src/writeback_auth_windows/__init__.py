"""writeback's ``ntlm`` and ``windows`` auth methods: Windows authentication for requests.

``ntlm`` answers ``WWW-Authenticate: NTLM`` (requests-ntlm); ``windows`` answers
``WWW-Authenticate: Negotiate`` with a Kerberos ticket it gets itself from
``user@REALM`` and the password, or with NTLM inside Negotiate.
"""

from __future__ import annotations

from .plugin import WindowsSettings, split_user

__all__ = ["WindowsSettings", "split_user"]
