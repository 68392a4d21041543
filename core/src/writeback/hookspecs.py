"""The hook specifications every writeback plugin implements.

A plugin module (the value of an entry point in group ``writeback``) implements
one or more of these hooks with :data:`writeback.hookimpl`.  Each declaration
hook takes no arguments and returns a sequence of frozen descriptors: data the
core can inspect, validate against and print without importing any protocol
library.  The working objects are built later, lazily, by the descriptors'
factories.  ``writeback_attempt_finished`` alone is called with an argument:
it observes the worker, and returns nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._commands import CommandSpec
    from ._descriptors import ApiFormatSpec, AuthMethodSpec, ConnectorTypeSpec
    from ._observers import AttemptFinished

PROJECT_NAME = "writeback"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -- connector types: WHAT is sent ------------------------------------------


@hookspec
def writeback_connector_types() -> Sequence[ConnectorTypeSpec]:
    """Declare connector types (back offices) this plugin provides.

    A connector type maps an appointment event to the message its back office
    expects, and declares which API formats it speaks and which auth methods it
    accepts per deployment variant and format.

    :returns: zero or more :class:`writeback.ConnectorTypeSpec`; each ``name``
        (``bc``, ``nav``, ``webhook``, …) must be unique across installed plugins.
    """


# -- API formats: HOW it travels --------------------------------------------


@hookspec
def writeback_api_formats() -> Sequence[ApiFormatSpec]:
    """Declare API formats (wire encodings plus a transport) this plugin provides.

    A format encodes a connector type's message, sends it with the connector's
    auth applied, and classifies the answer as delivered, retry or failed.

    :returns: zero or more :class:`writeback.ApiFormatSpec`; each ``name``
        (``json``, ``soap``, …) and alias must be unique across installed plugins.
    """


# -- auth mechanisms: WHO we are ---------------------------------------------


@hookspec
def writeback_auth_methods() -> Sequence[AuthMethodSpec]:
    """Declare auth methods this plugin provides.

    An auth method validates its settings and, per transport it supports,
    produces the object that transport takes (``httpx.Auth`` for ``httpx``,
    ``requests.auth.AuthBase`` for ``requests``).

    :returns: zero or more :class:`writeback.AuthMethodSpec`; each ``name``
        (``basic``, ``ntlm``, ``oauth2``, …) must be unique across installed plugins.
    """


# -- commands: what the CLI offers --------------------------------------------


@hookspec
def writeback_commands() -> Sequence[CommandSpec]:
    """Declare commands this plugin adds to the ``writeback`` command line.

    Only the descriptors are read to list commands (``writeback --help``); a
    command's ``factory`` is called when that command is run, so its module and
    whatever it imports load then.

    :returns: zero or more :class:`writeback.plugin.CommandSpec`; each ``name``
        must be unique across installed plugins and must not be a core command's.
    """


# -- observers: what happened -------------------------------------------------


@hookspec
def writeback_attempt_finished(record: AttemptFinished) -> None:
    """Called once per attempt that ended, after the worker recorded it.

    Runs on the worker's event loop between claims: return quickly, and hand
    slow work (network, disk) to a thread or queue of your own.  An exception
    raised here is logged and changes nothing for the delivery.

    :param record: the attempt, as :class:`writeback.plugin.AttemptFinished`.
    """
