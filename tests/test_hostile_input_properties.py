"""Property tests: hostile numbers, text and encodings through row validation,
dispatch and the listings (docs/connectors.md and docs/cli.md, "Limits on input").

Whatever is fed in, every command exits 0 or 2 and never prints a traceback.
A refusal (exit 2) is one ``error:`` sentence naming the field or the input (or
one line per problem), and the store is unchanged.  What is accepted lists and
shows with exit 0: the console shows markup as written and never a raw ESC,
C1 or bidi control, and ``--json`` parses and gives back the value accepted.

The CLI runs in-process (``writeback.cli.main``) on a fresh SQLite file per
example, copied from one made at the test's start.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import sqlite3
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from writeback.cli import main
from writeback.cli._output import out, real_console

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

#: What may never reach a console from untrusted text: C0 but tab and newline, DEL,
#: C1, the bidi controls and the Unicode line and paragraph separators.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
SLOT = "@@slot@@"  # where a number token goes in a serialised document
ROW = {
    "name": "hook",
    "type": "webhook",
    "uri": "http://127.0.0.1:9/h",
    "api_type": "json",
    "source_app": "APP",
}


# -- running the CLI -------------------------------------------------------------


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """``writeback --db URL ARGS`` in-process; every run is checked for what must
    never happen: an exit other than 0 or 2, a traceback, a raw control character."""

    def __init__(self, db: Path | str, capsys: pytest.CaptureFixture[str]) -> None:
        self.db_path = db if isinstance(db, Path) else None
        self.url = f"sqlite:///{db}" if isinstance(db, Path) else db
        self.capsys = capsys

    def __call__(self, *args: str, stdin: bytes | None = None) -> Run:
        saved = sys.argv, sys.stdin
        sys.argv = ["writeback", "--db", self.url, *args]
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv, sys.stdin = saved
        captured = self.capsys.readouterr()
        run = Run(args, code, captured.out, captured.err)
        assert run.code in (0, 2), run
        assert "Traceback" not in run.out + run.err, run
        for text in (run.out, run.err):
            assert not RAW.findall(text), (RAW.findall(text), run)
        return run

    def counts(self) -> dict[str, int]:
        """Rows per table: what a refusal must leave as it was."""
        assert self.db_path is not None
        with sqlite3.connect(self.db_path) as conn:
            tables = ("connectors", "events", "deliveries", "attempts")
            return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}

    def stored_event(self, event_id: str) -> Any:
        assert self.db_path is not None
        with sqlite3.connect(self.db_path) as conn:
            row = conn.execute("select payload from events where id = ?", (event_id,)).fetchone()
        return json.loads(row[0])


@pytest.fixture
def new_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """``new_cli(with_hook)``: a Cli on a fresh database, copied from a template made
    once (schema and key file); ``with_hook`` adds connector ``hook`` for ``APP``."""
    # Wide enough that no table cell is folded, so what a cell holds can be found.
    monkeypatch.setattr(real_console(out), "_width", 1000)
    monkeypatch.setenv("COLUMNS", "1000")  # pytest-xdist's workers have COLUMNS=80
    templates: dict[bool, Path] = {}

    def make(with_hook: bool = False) -> Cli:
        if with_hook not in templates:
            path = tmp_path / f"template-{with_hook}.db"
            cli = Cli(path, capsys)
            cli("connectors", "list")
            if with_hook:
                rows = tmp_path / "hook.json"
                rows.write_text(json.dumps(ROW))
                cli("connectors", "add", str(rows))
            templates[with_hook] = path
        path = tmp_path / f"{uuid.uuid4().hex}.db"
        shutil.copy(templates[with_hook], path)
        shutil.copy(f"{templates[with_hook]}.key", f"{path}.key")
        return Cli(path, capsys)

    return make


def assert_refused(run: Run, *names: str) -> None:
    """Exit 2: one ``error:`` sentence, or a count of problems and one line each,
    naming one of ``names`` (a field, or the input when it could not be read)."""
    assert run.code == 2, run
    assert run.out == "", run
    lines = run.err.rstrip("\n").split("\n")
    assert lines[0].startswith("error: "), run
    if len(lines) > 1:
        assert re.fullmatch(r"error: WB-\d+: \d+ problem\(s\):", lines[0]), run
        assert all(line.startswith("  - ") for line in lines[1:]), run
    assert any(name in run.err for name in names), (names, run)


def assert_markup_literal(text: str, *outputs: str) -> None:
    """The markup and emoji codes in ``text`` print as written."""
    for token in MARKUP:
        if token in text:
            for output in outputs:
                assert token in output, (token, output)


# -- numbers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A number as JSON and as YAML write it, what it reads as, and whether every
    field must refuse it (not finite, or an integer beyond 64 bits)."""

    json: str
    yaml: str
    value: Any
    must_refuse: bool

    def __repr__(self) -> str:
        return f"Number({self.json[:40]!r}{'…' if len(self.json) > 40 else ''})"


def _float_number(value: float) -> Number:
    text = repr(value)
    if math.isnan(value):
        return Number("NaN", ".nan", value, True)
    if math.isinf(value):
        return Number(
            ("-" if value < 0 else "") + "Infinity",
            ("-" if value < 0 else "") + ".inf",
            value,
            True,
        )
    # YAML 1.1 (PyYAML) reads a float only with a dot and a signed exponent.
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    yaml_text = mantissa + (f"e{'' if exponent[0] in '+-' else '+'}{exponent}" if exponent else "")
    return Number(text, yaml_text, value, False)


def _float_number_text(text: str) -> Number:
    return Number(text, text, float(text), False)


def _int_number(text: str) -> Number:
    if len(text.lstrip("-")) > 100:  # refused while the file is read; never parsed here
        return Number(text, text, None, True)
    value = int(text)
    return Number(text, text, value, not INT_MIN <= value <= INT_MAX)


def _huge_int(sign: str, digits: int, lead: str, fill: str) -> Number:
    return _int_number(sign + lead + fill * (digits - 1))


NUMBERS = st.one_of(
    st.sampled_from(
        [
            _float_number(math.nan),
            _float_number(math.inf),
            _float_number(-math.inf),
            Number("1e400", "1.0e+400", math.inf, True),  # reads as infinity
            Number("-1e400", "-1.0e+400", -math.inf, True),
            _float_number(1e308),
            _float_number(1.7e308),
            _float_number(-1.7e308),
            _float_number(sys.float_info.max),
            _float_number(-0.0),
            _float_number(5e-324),
            _int_number(str(INT_MAX)),
            _int_number(str(INT_MAX + 1)),
            _int_number(str(INT_MIN)),
            _int_number(str(INT_MIN - 1)),
        ]
    ),
    st.builds(
        _huge_int,
        st.sampled_from(["", "-"]),
        st.integers(20, 5000),
        st.sampled_from("123456789"),
        st.sampled_from("0123456789"),
    ),
    st.integers(-(10**6), 10**6).map(lambda n: _int_number(str(n))),
    st.floats(allow_nan=False, allow_infinity=False).map(_float_number),
)


def _with_slot(doc: Any, path: tuple[Any, ...]) -> Any:
    """A copy of ``doc`` with the value at ``path`` replaced by the slot."""
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = SLOT
    return doc


def _fill(text: str, slotted: str, token: str) -> str:
    assert text.count(slotted) == 1, text
    return text.replace(slotted, token)


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _in(least: float, most: float, *, above: bool = False, whole: bool = False) -> Any:
    """Whether a finite number read is in a field's range (docs/connectors.md)."""

    def accepts(value: Any) -> bool:
        if value is None or not math.isfinite(value) or (whole and not float(value).is_integer()):
            return False
        return (least < value if above else least <= value) and value <= most

    return accepts


#: Where a number goes in a row: (path, what the message names, the row's other
#: parts, which numbers the field takes).
ROW_NUMBER_PLACES = [
    (("retry", "schedule", 0), "retry.schedule[0]", {"retry": {"schedule": [None]}}, _in(0, 86400)),
    (
        ("retry", "schedule", 2),
        "retry.schedule[2]",
        {"retry": {"schedule": [5, 0.5, None]}},
        _in(0, 86400),
    ),
    (
        ("throttle", "max_concurrency"),
        "throttle.max_concurrency",
        {"throttle": {}},
        _in(1, 1000, whole=True),
    ),
    (("throttle", "rate"), "throttle.rate", {"throttle": {}}, lambda value: False),  # text only
    (("options", "timeout"), "options.timeout", {"options": {}}, _in(0, 300, above=True)),
]


@PROPERTY
@given(
    number=NUMBERS,
    place=st.sampled_from(ROW_NUMBER_PLACES),
    as_yaml=st.booleans(),
    as_list=st.booleans(),
    command=st.sampled_from(["add", "validate"]),
)
def test_numbers_in_a_row_are_refused_or_kept_exactly(
    number, place, as_yaml, as_list, command, new_cli, tmp_path
):
    path, field, extra, accepts = place
    row = _with_slot({**ROW, **extra}, path)
    rows = [{**ROW, "name": "first"}, row] if as_list else row
    if as_yaml:
        text = _fill(yaml.safe_dump(rows, sort_keys=False), f"'{SLOT}'", number.yaml)
    else:
        text = _fill(json.dumps(rows), f'"{SLOT}"', number.json)
    source = tmp_path / ("rows.yaml" if as_yaml else "rows.json")
    source.write_text(text)
    cli = new_cli()
    before = cli.counts()
    run = cli("connectors", command, str(source))
    if number.must_refuse or not accepts(number.value):
        assert_refused(run, field, str(source))
        assert cli.counts() == before
        return
    assert run.code == 0 and run.err == "", run
    if command == "validate":
        return
    stored = {r["name"]: r for r in cli("connectors", "list", "--json").json()}
    assert set(stored) == ({"first", "hook"} if as_list else {"hook"})
    assert _at(stored["hook"], path) == number.value
    shown = cli("connectors", "show", "hook", "--json").json()
    assert _at(shown, path) == number.value
    cli("connectors", "show", "hook")
    cli("connectors", "list")


@PROPERTY
@given(
    requests=NUMBERS | st.integers(1, 10**6).map(lambda n: _int_number(str(n))),
    window=NUMBERS | st.sampled_from(["0.001", "1", "300", "86400"]).map(_float_number_text),
    as_yaml=st.booleans(),
)
def test_numbers_in_a_throttle_rate_are_refused_or_kept_exactly(
    requests, window, as_yaml, new_cli, tmp_path
):
    rate = f"{requests.json}/{window.json}s"
    row = {**ROW, "throttle": {"rate": rate}}
    source = tmp_path / ("rows.yaml" if as_yaml else "rows.json")
    source.write_text(yaml.safe_dump(row) if as_yaml else json.dumps(row))
    cli = new_cli()
    run = cli("connectors", "add", str(source))
    if run.code:
        assert_refused(run, "throttle.rate", str(source))
        assert cli.counts()["connectors"] == 0
        return
    assert 1 <= int(requests.json) <= 1_000_000 and 0.001 <= float(window.json) <= 86400
    [stored] = cli("connectors", "list", "--json").json()
    assert stored["throttle"]["rate"] == rate
    assert cli("connectors", "show", "hook", "--json").json()["throttle"]["rate"] == rate


EVENT = {
    "id": "evt-1",
    "action": "create",
    "appointment": {"appointmentGuid": "G-1", "sourceApp": "APP", "subject": "Boiler"},
}
OTHER_EVENT = {
    "id": "evt-0",
    "action": "update",
    "appointment": {"appointmentGuid": "G-0", "sourceApp": "APP"},
}

#: Where a number goes in an event: (path, what the message names, kept exactly).
EVENT_NUMBER_PLACES = [
    (("appointment", "planningQuantity"), "appointment.planningQuantity", False),
    (("appointment", "importance"), "appointment.importance", False),
    (("appointment", "appointmentNo"), "appointment.appointmentNo", False),
    (("appointment", "backOfficeId"), "appointment.backOfficeId", False),
    (("appointment", "start"), "appointment.start", False),
    (("occurred_at",), "occurred_at", False),
    (("appointment", "Extra"), "appointment.Extra", True),
    (("appointment", "Extra", 1, 0), "appointment.Extra[1][0]", True),
    (("appointment", "fieldValues", "quantity"), "appointment.fieldValues.quantity", True),
    (("appointment", "resources", 0, "hours"), "appointment.resources[0].hours", True),
]
EVENT_CONTAINERS = {"Extra": ["a", [None]], "fieldValues": {}, "resources": [{"resourceNo": "R"}]}


def _event_text(events: list[Any], shape: str, ensure_ascii: bool = True) -> str:
    if shape == "lines":
        return "\n".join(json.dumps(e, ensure_ascii=ensure_ascii) for e in events) + "\n"
    body = events if shape == "list" else events[0]
    return json.dumps(body, ensure_ascii=ensure_ascii)


@PROPERTY
@given(
    number=NUMBERS,
    place=st.sampled_from(EVENT_NUMBER_PLACES),
    shape=st.sampled_from(["object", "list", "lines"]),
    from_stdin=st.booleans(),
)
def test_numbers_in_an_event_are_refused_or_kept_exactly(
    number, place, shape, from_stdin, new_cli, tmp_path
):
    path, field, kept_exactly = place
    event = json.loads(json.dumps(EVENT))
    container = path[1] if len(path) > 2 else None
    if container is not None:
        event["appointment"][container] = json.loads(json.dumps(EVENT_CONTAINERS[container]))
    event = _with_slot(event, path)
    events = [OTHER_EVENT, event] if shape != "object" else [event]
    text = _fill(_event_text(events, shape), f'"{SLOT}"', number.json)
    cli = new_cli(with_hook=True)
    before = cli.counts()
    if from_stdin:
        run, label = cli("dispatch", "-", stdin=text.encode()), "stdin"
    else:
        source = tmp_path / "events.json"
        source.write_text(text)
        run, label = cli("dispatch", str(source)), str(source)
    if kept_exactly:  # a field writeback does not know takes any number JSON can send
        assert run.code == (2 if number.must_refuse else 0), run
    if run.code:
        assert_refused(run, field, label)
        assert cli.counts() == before
        return
    assert f"{len(events)} event(s), {len(events)} delivery(ies)" in run.out
    if kept_exactly:
        stored = cli.stored_event("evt-1")
        # json.dumps tells -0.0 from 0.0 and 1 from 1.0.
        assert json.dumps(_at(stored, path)) == json.dumps(number.value)
    check_deliveries(
        cli, {e["id"]: e["appointment"]["appointmentGuid"] for e in events}, show="evt-1"
    )


def check_deliveries(
    cli: Cli, keys: dict[str, str], connector: str = "hook", show: str = ""
) -> None:
    """Every listing of deliveries exits 0, and ``--json`` gives back each event id
    and appointment identity as submitted (``keys``: event id -> identity); the
    delivery of event ``show`` is shown too, as text and as JSON."""
    listed = cli("deliveries", "list", "--json").json()
    assert {d["event_id"]: d["appointment"] for d in listed} == keys
    assert {d["connector"] for d in listed} == ({connector} if keys else set())
    if not show:
        return
    text = cli("deliveries", "list").out
    [delivery] = [d for d in listed if d["event_id"] == show]
    shown = cli("deliveries", "show", delivery["id"], "--json").json()
    assert {k: shown[k] for k in delivery} == delivery and shown["history"] == []
    shown_text = cli("deliveries", "show", delivery["id"]).out
    assert_markup_literal(delivery["event_id"], shown_text)
    for value in (delivery["appointment"], connector):
        assert_markup_literal(value, text, shown_text)
    assert_markup_literal(connector, cli("deliveries", "stats").out)


# -- text ------------------------------------------------------------------------

#: Rich markup and emoji codes; each must print as written.
MARKUP = [
    "[bold]",
    "[/x]",
    "[/]",
    "[link=https://example.com/x]",
    "[red]",
    ":smile:",
    ":thumbs_up:",
]
#: What a terminal acts on: colour, a title change, a screen clear, a C1 CSI, bidi.
ESCAPES = [
    "\x1b[31m",
    "\x1b]0;t\x07",
    "\x1b[2J",
    "\x9b2J",
    "\x1bP",
    "\u202e",
    "\u2066",
    "\u200f",
    "\u2028",
    "\u2029",
    "\x85",
    "\r",
    "\n",
    "\t",
    "\x7f",
]

#: Not Unicode text (lone surrogates, as JSON's "\ud800"), or not storable in a
#: column (NUL): refused where they may not be.
SPOILERS = ["\ud800", "\udfff", "\udc80", "\x00"]

pieces = st.one_of(
    st.sampled_from(MARKUP),
    st.sampled_from(ESCAPES),
    st.characters(min_codepoint=1, max_codepoint=0x9F),  # ASCII, C0, DEL, C1
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=4),
    st.sampled_from([" ", "  ", "é", "😀", "\uff57", "\u0301", "\ufeff"]),
)
hostile_text = st.lists(pieces, min_size=1, max_size=5).map("".join)


@st.composite
def hostile_texts(draw: Any, *fields: str) -> dict[str, str]:
    """A hostile text for each field; in about half the draws one of them is
    spoiled by a lone surrogate or a NUL."""
    texts = {field: draw(hostile_text) for field in fields}
    if draw(st.booleans()):
        field = draw(st.sampled_from(fields))
        at = draw(st.integers(0, len(texts[field])))
        spoiler = draw(st.sampled_from(SPOILERS))
        texts[field] = texts[field][:at] + spoiler + texts[field][at:]
    return texts


def _clean(text: str, *, most: int, least: int = 1, no_nul: bool = True) -> bool:
    """Whether ``text`` fits a field of ``least`` to ``most`` characters that is
    stored as a column (no NUL) and must be Unicode text (no lone surrogate)."""
    return (
        least <= len(text) <= most
        and not (no_nul and "\x00" in text)
        and not any("\ud800" <= c <= "\udfff" for c in text)
    )


def _encode(text: str) -> bytes:
    # A lone surrogate written raw (ensure_ascii off) gives bytes that are not UTF-8.
    return text.encode("utf-8", "surrogatepass")


@PROPERTY
# Found by this property.  A tab in a table cell: rich sized the column before it
# expanded the tab, and folded "[/x]" onto a second line.
@example(
    texts={"name": "ho\tok [bold]", "description": "", "source_app": "\t[/x]"},
    as_yaml=False,
    raw_unicode=False,
    command="add",
)
@given(
    texts=hostile_texts("name", "description", "source_app"),
    as_yaml=st.booleans(),
    raw_unicode=st.booleans(),
    command=st.sampled_from(["add", "validate"]),
)
def test_hostile_text_in_a_row_is_refused_or_shown_as_text(
    texts, as_yaml, raw_unicode, command, new_cli, tmp_path
):
    row = {**ROW, **texts}
    if as_yaml:
        text = yaml.safe_dump(row, allow_unicode=raw_unicode)
        # What the file says: YAML folds a line break it wrote raw (NEL, U+2028)
        # into a space.  Lone surrogates it writes escaped, as JSON does.
        texts = {field: yaml.safe_load(text)[field] for field in texts}
    else:
        text = json.dumps(row, ensure_ascii=not raw_unicode)
    name, description, source_app = texts["name"], texts["description"], texts["source_app"]
    source = tmp_path / ("row.yaml" if as_yaml else "row.json")
    source.write_bytes(_encode(text))
    cli = new_cli()
    run = cli("connectors", command, str(source))
    fits = {
        "name": _clean(name, most=100) and name.strip() != "",
        "description": _clean(description, most=10**6, least=0, no_nul=False),
        "source_app": _clean(source_app, most=30),
    }
    if not all(fits.values()):
        # A problem line reads "  - connector 'NAME': FIELD …"; a lone surrogate
        # written raw makes the file not UTF-8, which names the file.
        assert_refused(run, *[f": {f}" for f, ok in fits.items() if not ok], str(source))
        assert cli.counts()["connectors"] == 0
        return
    assert run.code == 0, run
    name = name.strip()
    assert_markup_literal(name, run.out)
    if command == "validate":
        return
    check_connector(cli, name, description, source_app)


def check_connector(cli: Cli, name: str, description: str, source_app: str) -> None:
    """Every listing of the connector exits 0; --json gives back what was given."""
    [listed] = cli("connectors", "list", "--json").json()
    shown = cli("connectors", "show", "--json", "--", name).json()
    for row in (listed, shown):
        assert (row["name"], row["description"], row["source_app"]) == (
            name,
            description,
            source_app,
        )
    table = cli("connectors", "list").out
    yaml_text = cli("connectors", "show", "--", name).out
    assert_markup_literal(name, table, yaml_text)
    assert_markup_literal(source_app, table, yaml_text)
    assert_markup_literal(description, yaml_text)


@PROPERTY
# Found by this property.  An identity given as text longer than its column (200
# characters): SQLite took it, PostgreSQL failed with a traceback.
@example(
    texts={"id": "evt-9", "identity": "", "subject": "", "sourceApp": ""},
    identity_field="appointmentNo",
    long_identity=201,
    connector_name="hook",
    routed=True,
    shape="object",
    raw_unicode=False,
    from_stdin=True,
)
# Found by this property.  JSON Lines split at U+2028, U+2029 and NEL, which JSON
# allows raw inside a string: the event was refused as broken JSON.
@example(
    texts={"id": "evt\u2029[bold]", "identity": "G\u2028", "subject": "a\x85b", "sourceApp": ""},
    identity_field="appointmentGuid",
    long_identity=None,
    connector_name="hook",
    routed=True,
    shape="lines",
    raw_unicode=True,
    from_stdin=False,
)
@given(
    texts=hostile_texts("id", "identity", "subject", "sourceApp"),
    identity_field=st.sampled_from(["appointmentGuid", "appointmentNo", "id"]),
    long_identity=st.none() | st.integers(190, 260),
    connector_name=hostile_text,
    routed=st.booleans(),
    shape=st.sampled_from(["object", "list", "lines"]),
    raw_unicode=st.booleans(),
    from_stdin=st.booleans(),
)
def test_hostile_text_in_an_event_is_refused_or_shown_as_text(
    texts,
    identity_field,
    long_identity,
    connector_name,
    routed,
    shape,
    raw_unicode,
    from_stdin,
    new_cli,
    tmp_path,
):
    """The event's texts and a connector named with hostile text, to the listings."""
    cli = new_cli()
    row = {**ROW, "name": connector_name, "source_app": "APP"}
    if _clean(connector_name, most=100) and connector_name.strip():
        (tmp_path / "row.json").write_text(json.dumps(row))
        cli("connectors", "add", str(tmp_path / "row.json"))
        connector = connector_name.strip()
    else:
        connector = None  # refusals of names are the row property's
    event_id, subject = texts["id"], texts["subject"]
    identity = texts["identity"] if long_identity is None else "N" * long_identity
    # The connector hears APP; an event for another sourceApp makes no delivery.
    source_app = "APP" if routed else texts["sourceApp"]
    appointment = {identity_field: identity, "sourceApp": source_app, "subject": subject}
    event = {"id": event_id, "action": "create", "appointment": appointment}
    events = [OTHER_EVENT, event] if shape != "object" else [event]
    data = _encode(_event_text(events, shape, ensure_ascii=not raw_unicode))
    before = cli.counts()
    if from_stdin:
        run, label = cli("dispatch", "-", stdin=data), "stdin"
    else:
        (tmp_path / "events.json").write_bytes(data)
        run, label = cli("dispatch", str(tmp_path / "events.json")), str(tmp_path / "events.json")
    fits = {
        "id": _clean(event_id, most=200),
        f"appointment.{identity_field}": _clean(
            identity, most=50 if identity_field == "appointmentGuid" else 200
        ),
        "appointment.subject": _clean(subject, most=10**6, least=0, no_nul=False),
        "appointment.sourceApp": _clean(source_app, most=30) and source_app.strip() != "",
    }
    if not all(fits.values()) or event_id == OTHER_EVENT["id"]:
        # "event #2: id: …", or a further problem of the event after ". "; a lone
        # surrogate written raw makes the input not UTF-8, which names the input.
        names = [f"{start} {f}" for f, ok in fits.items() if not ok for start in (":", ".")]
        assert_refused(run, *names, "both have id", "has no identity", label)
        assert cli.counts() == before
        return
    assert run.code == 0, run
    if connector is None:
        assert f"{len(events)} event(s), 0 delivery(ies)" in run.out
        return
    made = [e for e in events if e is OTHER_EVENT or source_app == "APP"]
    assert f"{len(events)} event(s), {len(made)} delivery(ies)" in run.out
    keys = {e["id"]: e["appointment"].get("appointmentGuid") for e in made}
    if source_app == "APP":
        keys[event_id] = identity
        assert_markup_literal(event_id, run.out)  # the table of deliveries made
    check_deliveries(cli, keys, connector, show=event_id if source_app == "APP" else "")
    assert cli.stored_event(event_id)["appointment"]["subject"] == subject


@pytest.mark.parametrize("field", ["appointmentNo", "id"])
def test_an_identity_longer_than_its_column_is_refused_on_both_engines(
    field, writeback_any_db_url, tmp_path, capsys, monkeypatch
):
    """The example the property found, on PostgreSQL too, where it was a traceback."""
    cli = Cli(writeback_any_db_url, capsys)
    (tmp_path / "hook.json").write_text(json.dumps(ROW))
    cli("connectors", "add", str(tmp_path / "hook.json"))
    appointment = {field: "N" * 201, "sourceApp": "APP"}
    event = json.dumps({"action": "create", "appointment": appointment})
    run = cli("dispatch", "-", stdin=event.encode())
    assert_refused(run, f"appointment.{field}: has 201 characters; give at most 200.")
    assert cli("deliveries", "list", "--json").json() == []
    appointment[field] = "N" * 200
    event = json.dumps({"action": "create", "appointment": appointment})
    assert cli("dispatch", "-", stdin=event.encode()).code == 0
    [delivery] = cli("deliveries", "list", "--json").json()
    assert delivery["appointment"] == "N" * 200


# -- encodings -------------------------------------------------------------------

NAMES = ["plain", "Zoë", "café ✓", "日本語の名前", "😀 hook", "Ωmega", "naïve [bold]x[/bold]"]
ENCODINGS = [
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "latin-1",
    "cp1252",
]
#: Bytes that are not UTF-8: a stray byte, sequences cut short, an overlong NUL,
#: a surrogate, a code point past U+10FFFF, a lone continuation byte, a UTF-16 BOM.
NOT_UTF8 = [
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x80",
    b"\xfe\xff",
]
MARK = "\ue000"  # where the bytes go, inside the name


@PROPERTY
@given(
    name=st.sampled_from(NAMES),
    encoding=st.sampled_from(ENCODINGS),
    bad=st.none() | st.sampled_from(NOT_UTF8),
    target=st.sampled_from(["row.json", "row.yaml", "events.json", "stdin"]),
)
def test_odd_encodings_are_refused_unless_utf8(name, encoding, bad, target, new_cli, tmp_path):
    """UTF-8, with or without a byte-order mark, is read; anything else is refused as
    not UTF-8, or read as the UTF-8 it happens to be."""
    marked = name + MARK if bad is not None and encoding.startswith("utf-8") else name
    if target.startswith("row"):
        doc: Any = {**ROW, "name": marked}
    else:
        doc = {**EVENT, "appointment": {**EVENT["appointment"], "subject": marked}}
    if target == "row.yaml":
        text = yaml.safe_dump(doc, allow_unicode=True)
    else:
        text = json.dumps(doc, ensure_ascii=False)
    data = text.encode(encoding, errors="replace")
    if marked != name:
        assert data.count(MARK.encode()) == 1
        data = data.replace(MARK.encode(), bad)
    cli = new_cli(with_hook=not target.startswith("row"))
    before = cli.counts()
    if target == "stdin":
        run, label = cli("dispatch", "-", stdin=data), "stdin"
    else:
        source = tmp_path / target
        source.write_bytes(data)
        command = ("connectors", "add") if target.startswith("row") else ("dispatch",)
        run, label = cli(*command, str(source)), str(source)
    try:
        read = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        assert_refused(run, "not UTF-8 text")
        assert run.err.startswith(f"error: WB-109: {label}: is not UTF-8 text (byte 0x")
        assert cli.counts() == before
        return
    if read != text:  # another encoding that happens to be UTF-8 (NULs, "?" for é)
        if run.code:
            assert_refused(run, label, "name", "subject")
            assert cli.counts() == before
            return
        doc = yaml.safe_load(read) if target == "row.yaml" else json.loads(read)
    assert run.code == 0, run
    if target.startswith("row"):
        [stored] = cli("connectors", "list", "--json").json()
        assert stored["name"] == doc["name"].strip()
    else:
        assert cli.stored_event("evt-1")["appointment"]["subject"] == doc["appointment"]["subject"]
        check_deliveries(cli, {"evt-1": "G-1"}, show="evt-1")
