"""Fuzzing dancer's four parsers: strategies for near-valid and raw inputs, and the judgement.

Public: `playlist_inputs`, `arc_inputs`, `pack_inputs`, `config_inputs` (hypothesis strategies),
`PlaylistRoom`, `judge_playlist`, `judge_arc`, `judge_pack`, `judge_config`, `FUZZERS`, `no_network`,
`toml_document`, `Raw`.

Each ``judge_*`` feeds one input to its parser and returns `ACCEPTED` or `CLEAR`; it raises
`UnclearError` for a `DancerError` whose message does not name the file or is not one line, and lets
anything else (KeyError, ValueError, RecursionError, ...) escape: that is the bug the tests look for.
An accepted input must also be usable: a playlist's times are finite, an arc's phases can be laid out,
a prompt's placeholders format the way the scheduler formats them.

The near-valid inputs start from a valid document and apply a few mutations (a field dropped, set to
an odd value of the wrong type or range, an unknown field added), then sometimes a textual one (a
slice deleted, a character inserted, a line doubled). Raw inputs are arbitrary text or bytes.

`FUZZERS` runs the same strategies outside pytest for ``benchmarks/robustness.py``.
"""

from __future__ import annotations

import math
import os
import re
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from dancer.config import load_config, parse_config
from dancer.errors import DancerError
from dancer.guide.prompts import load_packs, parse_pack
from dancer.plan.arcs import load_arc, parse_arc
from dancer.plan.playlist import format_plan, read_plan

ACCEPTED = "accepted"
CLEAR = "clear error"
#: An example slower than this is reported as a hang (every parser here answers in milliseconds).
SLOW_SECONDS = 5.0


class UnclearError(AssertionError):
    """A parser refused an input with a message that does not name the file, or spans lines."""


def check_message(exc: DancerError, source: str) -> None:
    message = str(exc)
    if source not in message or len(message.splitlines()) != 1:
        raise UnclearError(f"unclear error (must be one line naming {source!r}): {message!r}")


# -- TOML written by hand, so that wrong types and odd values can be written too


class Raw(str):
    """A TOML value written as is: a hex integer, an unterminated array, bare junk."""


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: What arc, phase and prompt names, ids and tags must be (their modules' documented pattern).
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def _toml_string(s: str) -> str:
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def toml_value(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(doc: dict[str, object]) -> str:
    """``key = value`` lines, then ``[table]`` and ``[[array of tables]]`` sections."""
    lines, sections = [], []
    for key, value in doc.items():
        if isinstance(value, dict) and not isinstance(value, Raw):
            sections.append(f"[{_toml_key(key)}]")
            sections.extend(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for table in value:
                sections.append(f"[[{_toml_key(key)}]]")
                sections.extend(f"{_toml_key(k)} = {toml_value(v)}" for k, v in table.items())
        else:
            lines.append(f"{_toml_key(key)} = {toml_value(value)}")
    return "\n".join(lines + sections) + "\n"


# -- odd values and mutations shared by the structured strategies

#: Values at Python's own limits: an int too long to read or print, nesting past the recursion limit.
LIMIT_TOKENS = [Raw("0x" + "f" * 4000), Raw("9" * 5000), Raw("9" * 400), Raw("[" * 3000), Raw("{a = " * 1500)]
ODD_TOKENS = [
    Raw("nan"), Raw("-nan"), Raw("inf"), Raw("-inf"), Raw("1e400"), Raw("1979-05-27T07:32:00Z"),
    Raw("07:32:00"),
    Raw("[" * 50 + "]" * 50), Raw("'''multi\nline'''"), Raw("0b102"), Raw("+"), Raw(""),
    0, -1, 1, 2**63, -(2**63) - 1, 10**400, -0.0, 5e-324, 1e308, True, False, "", " ", "a\nb", "x\r",
    "\u2028", "\x85", "\x1c", "\t", "é", "💃", "\U000e0001", "{title}", "{in}", "{", "}", "{title:{x}}",
    "{title!z}", "{title:d}", "{0}", "{}", "a-b", "a-b\n", "-", "hips", "floor", "breath", "phase",
    [], [1], [1, 2, 3], [0.5, 0.1], ["a", 1], [[1, 2]], [{}], {}, {"a": 1},
]  # fmt: skip

odd_values = st.one_of(
    st.sampled_from(LIMIT_TOKENS),
    st.sampled_from(ODD_TOKENS),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-5, 400), st.floats(), st.text(max_size=6)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _mutate_tables(draw, tables: list[dict[str, object]], fields: tuple[str, ...]) -> None:
    """A few field-level mutations, each in one of ``tables``."""
    for _ in range(draw(st.integers(0, 3))):
        table = draw(st.sampled_from(tables))
        op = draw(st.sampled_from(("set", "set", "drop", "add")))
        if op == "drop" and table:
            table.pop(draw(st.sampled_from(sorted(table))))
        elif op == "add":
            table[draw(st.text(min_size=1, max_size=8))] = draw(odd_values)
        else:
            table[draw(st.sampled_from(fields))] = draw(odd_values)


def _mutate_text(draw, text: str) -> str:
    """Sometimes one textual mutation: delete a slice, insert a character, double or drop a line."""
    op = draw(st.sampled_from(("none", "none", "none", "delete", "insert", "double", "drop")))
    if op in ("delete", "insert") and text:
        at = draw(st.integers(0, len(text) - 1))
        if op == "delete":
            return text[:at] + text[at + draw(st.integers(1, 8)):]
        return text[:at] + draw(st.sampled_from('"\'[]{}=#\\\n\r\x00,.-x é')) + text[at:]
    lines = text.split("\n")
    if op in ("double", "drop") and lines:
        k = draw(st.integers(0, len(lines) - 1))
        lines[k:k + 1] = [lines[k]] * (2 if op == "double" else 0)
        return "\n".join(lines)
    return text


def _bytes_of(draw, text: str) -> bytes:
    """``text`` as a file: UTF-8, sometimes with a BOM, CRLF, Latin-1 or a stray invalid byte."""
    encoding = draw(st.sampled_from(("utf-8", "utf-8", "bom", "crlf", "latin-1", "stray")))
    if encoding == "crlf":
        text = text.replace("\n", "\r\n")
    if encoding == "latin-1":
        return text.encode("latin-1", "replace")
    data = text.encode("utf-8", "surrogateescape")
    if encoding == "bom":
        return b"\xef\xbb\xbf" + data
    if encoding == "stray" and data:
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from((b"\xff", b"\xc3", b"\xe9", b"\x80\x80"))) + data[at:]
    return data


@st.composite
def file_bytes(draw, documents: st.SearchStrategy[str]) -> bytes:
    return _bytes_of(draw, draw(documents))


raw_text = st.text(max_size=200)
raw_bytes = st.binary(max_size=200)


# -- arcs

ARC_FIELDS = ("name", "title", "description", "minutes", "minutes_range", "phase")
PHASE_FIELDS = (
    "name", "title", "share", "minutes", "energy", "tempo", "beatless", "transition", "transition_beats",
    "fade_seconds", "gap_seconds", "prompt_tags", "prompt_density", "breath", "impact", "position",
)  # fmt: skip
_SLUGS = st.sampled_from(("arrive", "warm-up", "groove", "peak", "floor", "x", "a-1", "release"))


@st.composite
def arc_documents(draw) -> str:
    phases = []
    for k in range(draw(st.integers(1, 4))):
        phase: dict[str, object] = {"name": f"{draw(_SLUGS)}-{k}"}
        if draw(st.booleans()):
            phase["share"] = draw(st.floats(0.01, 1000))
        else:
            phase["minutes"] = draw(st.floats(0.01, 600))
        lo, hi = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
        phase["energy"] = [lo, hi]
        if draw(st.booleans()):
            phase["tempo"] = sorted(draw(st.lists(st.integers(20, 300), min_size=2, max_size=2)))
        optional = {
            "title": st.text(max_size=20), "beatless": st.sampled_from(("no", "allowed", "preferred")),
            "transition": st.sampled_from(("crossfade", "fade", "gap")),
            "transition_beats": st.integers(1, 64),
            "fade_seconds": st.floats(0.5, 60), "gap_seconds": st.floats(0, 30),
            "prompt_tags": st.lists(_SLUGS, max_size=3), "prompt_density": st.floats(0, 20),
            "breath": st.booleans(), "impact": st.sampled_from(("low", "normal")),
            "position": st.sampled_from(("standing", "floor", "seated")),
        }  # fmt: skip
        for name in draw(st.lists(st.sampled_from(sorted(optional)), max_size=4, unique=True)):
            phase[name] = draw(optional[name])
        phases.append(phase)
    doc: dict[str, object] = {"name": draw(_SLUGS), "minutes": draw(st.floats(1, 600))}
    if draw(st.booleans()):
        doc["title"] = draw(st.text(max_size=20))
    if draw(st.booleans()):
        doc["minutes_range"] = sorted(draw(st.lists(st.floats(1, 600), min_size=2, max_size=2)))
    doc["phase"] = phases
    tables: list[dict[str, object]] = [doc, *phases]
    _mutate_tables(draw, tables[:1], ARC_FIELDS)
    _mutate_tables(draw, tables[1:], PHASE_FIELDS)
    return _mutate_text(draw, toml_document(doc))


def arc_inputs() -> st.SearchStrategy[str | bytes]:
    """Near-valid arc TOML (mostly), raw text, and file bytes for `load_arc`."""
    near = arc_documents()
    return st.one_of(near, near, near, file_bytes(near), raw_text, raw_bytes)


# -- prompt packs

PROMPT_FIELDS = (
    "id", "text", "kind", "tags", "energy", "tempo", "focus", "position", "impact", "min_spacing", "exhale",
)  # fmt: skip
_TEXTS = {
    "phase": ("Now: {title}.", "{title}", "Next, {{slowly}}."),
    "breath": ("In for {in}.", "Breathe in.", "{in} and {out}"),
}


@st.composite
def pack_documents(draw) -> str:
    prompts = []
    for k in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("movement", "breath", "phase", "count-in", "check-in", "aftercare")))
        prompt: dict[str, object] = {"id": f"{draw(_SLUGS)}-{k}", "kind": kind}
        prompt["text"] = draw(st.sampled_from(_TEXTS.get(kind, ("Hips.", "Let go of the jaw."))))
        if kind == "breath" and draw(st.booleans()):
            prompt["exhale"] = draw(st.sampled_from(("Out for {out}.", "And out.")))
        optional = {
            "tags": st.lists(_SLUGS, min_size=1, max_size=3),
            "energy": st.lists(st.floats(0, 1), min_size=2, max_size=2).map(sorted),
            "tempo": st.lists(st.integers(0, 400), min_size=2, max_size=2).map(sorted),
            "focus": st.lists(st.sampled_from(("hips", "pelvis", "psoas", "spine", "breath", "whole-body")),
                              min_size=1, max_size=2),
            "position": st.lists(st.sampled_from(("standing", "floor", "seated")), min_size=1, max_size=3),
            "impact": st.sampled_from(("low", "normal")), "min_spacing": st.floats(0, 600),
        }  # fmt: skip
        for name in draw(st.lists(st.sampled_from(sorted(optional)), max_size=4, unique=True)):
            prompt[name] = draw(optional[name])
        prompts.append(prompt)
    doc: dict[str, object] = {}
    if draw(st.booleans()):
        doc["pack"] = {"name": draw(_SLUGS)}
    defaults: dict[str, object] = {}
    if draw(st.booleans()):
        defaults = {"impact": "low", "position": ["standing", "seated"]}
        doc["defaults"] = defaults
    doc["prompt"] = prompts
    _mutate_tables(draw, prompts, PROMPT_FIELDS)
    if draw(st.integers(0, 4)) == 0:
        _mutate_tables(draw, [defaults if defaults else doc], PROMPT_FIELDS + ("pack", "defaults", "prompt"))
    return _mutate_text(draw, toml_document(doc))


def pack_inputs() -> st.SearchStrategy[str | bytes]:
    near = pack_documents()
    return st.one_of(near, near, near, file_bytes(near), raw_text, raw_bytes)


# -- config

_CONFIG_VALUES = {
    "music": st.text(max_size=20), "arc": _SLUGS, "minutes": st.floats(5, 240), "voice": st.text(max_size=8),
    "volume": st.floats(0, 1), "loudness_target": st.floats(-30, -6), "device": st.text(max_size=8),
    "gentle": st.booleans(), "no_floor": st.booleans(), "prompts": st.lists(st.text(max_size=8), max_size=3),
    "checkin": st.booleans(),
}  # fmt: skip


@st.composite
def config_documents(draw) -> str:
    doc: dict[str, object] = {}
    for name in draw(st.lists(st.sampled_from(sorted(_CONFIG_VALUES)), max_size=6, unique=True)):
        doc[name] = draw(_CONFIG_VALUES[name])
    _mutate_tables(draw, [doc], tuple(_CONFIG_VALUES))
    return _mutate_text(draw, toml_document(doc))


def config_inputs() -> st.SearchStrategy[str | bytes]:
    near = config_documents()
    return st.one_of(near, near, near, file_bytes(near), raw_text, raw_bytes)


# -- playlists

#: Files in the room's music folder (bytes: one name is Latin-1, not UTF-8).
ROOM_FILES = (
    b"a.wav", b"with space.wav", "café ♫.flac".encode(), b"caf\xe9.wav", b"#1 hit.ogg", b"x - y.mp3",
)  # fmt: skip
_ROOT = "@ROOT@"


@dataclass
class PlaylistRoom:
    """A folder with ``lists/`` (where each fuzzed playlist is written) and ``music/`` (real files)."""

    root: Path
    playlist: Path = field(init=False)

    def __post_init__(self) -> None:
        music = os.path.join(os.fsencode(self.root), b"music")
        os.makedirs(music, exist_ok=True)
        for name in ROOM_FILES:
            with open(os.path.join(music, name), "wb") as f:
                f.write(b"RIFF")
        (self.root / "lists").mkdir(exist_ok=True)
        self.playlist = self.root / "lists" / "fuzz.m3u8"


_NUMBERS = st.one_of(
    st.sampled_from(("0", "1.5", "-3", "nan", "inf", "-inf", "1e400", "1e-400", "1e308",
                     "-1.7976931348623157e308", "", "x", "1_0", "0x10", "9" * 40)),
    st.floats().map(repr),
    st.integers().map(str),
)  # fmt: skip
_WORDS = st.one_of(
    _SLUGS, st.sampled_from(("'", '"', "\\", "a b", "=", "x=", "'unclosed", "é", "")), st.text(max_size=6)
)
_PATHS = st.one_of(
    st.sampled_from([f"../music/{n.decode('utf-8', 'surrogateescape')}" for n in ROOM_FILES]),
    st.sampled_from([f"{_ROOT}/music/{n.decode('utf-8', 'surrogateescape')}" for n in ROOM_FILES]),
    st.sampled_from((
        "../music/missing.wav", "missing.wav", "..", ".", "/", "~", "~nosuchuser/x.wav", "~/x.wav", "a" * 300,
        "a/" * 2000, "..\\music\\a.wav", f"file://{_ROOT}/music/with%20space.wav", "file:///nowhere.wav",
        f"file://localhost{_ROOT}/music/a.wav", "file://server/share/a.wav", "file://[::1/x", "file://%00",
        "file:", "http://radio.example/a.mp3", "HTTPS://x/y", "ftp://x/a.wav", "rtsp://cam/1", "mms://x",
        "c:\\music\\a.wav", "./#1 hit.ogg", "../music/a.wav\x00", " ../music/a.wav ", "%2e%2e/music/a.wav",
    )),
    st.text(max_size=30),
)  # fmt: skip


def _fields(draw, keys: tuple[str, ...], values: dict[str, st.SearchStrategy[str]]) -> str:
    words = [f"{k}={draw(values.get(k, _NUMBERS))}" for k in keys if draw(st.integers(0, 9))]
    for _ in range(draw(st.integers(0, 1))):
        words.append(draw(st.sampled_from(("junk", "k=v", "=", "'a b'=c", "x='y"))))
    return " ".join(words)


@st.composite
def playlist_documents(draw) -> bytes:
    lines = draw(st.lists(st.sampled_from(("#EXTM3U", "#PLAYLIST:Fuzz, 45 min", "# a comment")), max_size=2))
    if draw(st.booleans()):
        name = draw(st.one_of(_SLUGS, st.just("-"), st.text(max_size=5)))
        lines.append(f"#DANCER-ARC:{name} " + _fields(draw, ("minutes", "seed", "objective"), {}))
    for _ in range(draw(st.integers(0, 2))):
        lines.append("#DANCER-PHASE:" + _fields(draw, ("name", "start", "end", "title"),
                                                {"name": _WORDS, "title": _WORDS}))  # fmt: skip
    for _ in range(draw(st.integers(0, 1))):
        lines.append("#DANCER-WARNING:" + draw(st.text(max_size=20)))
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            lines.append("#DANCER-ENTRY:" + _fields(
                draw, ("phase", "start", "in", "out", "fade_in", "fade_out", "transition"),
                {"phase": _WORDS, "transition": _WORDS}))  # fmt: skip
        if draw(st.integers(0, 3)):
            lines.append(f"#EXTINF:{draw(_NUMBERS)},{draw(st.text(max_size=10))}")
        lines.append(draw(_PATHS))
    text = _mutate_text(draw, "\n".join(lines) + "\n")
    return _bytes_of(draw, text)


def playlist_inputs() -> st.SearchStrategy[bytes]:
    near = playlist_documents()
    return st.one_of(near, near, near, raw_bytes, raw_text.map(lambda t: t.encode("utf-8")))


# -- judges


def judge_playlist(data: bytes, room: PlaylistRoom) -> str:
    data = data.replace(_ROOT.encode(), os.fsencode(room.root))
    room.playlist.write_bytes(data)
    try:
        plan = read_plan(room.playlist)
    except DancerError as exc:
        check_message(exc, str(room.playlist))
        return CLEAR
    for entry in plan.entries:
        times = (entry.start, entry.source_in, entry.source_out, entry.fade_in, entry.fade_out)
        assert all(math.isfinite(t) for t in times), f"accepted a non-finite time: {entry}"
    assert all(math.isfinite(x) for x in (plan.minutes, plan.objective, plan.length)), plan
    format_plan(plan, room.playlist.parent)  # what was read can be written again
    return ACCEPTED


def judge_arc(data: str | bytes, folder: Path) -> str:
    if isinstance(data, bytes):
        path = folder / "fuzz-arc.toml"
        path.write_bytes(data)
        source, parse = str(path), lambda: load_arc(path)
    else:
        source, parse = "fuzz-arc.toml", lambda: parse_arc(data, label="fuzz-arc.toml")
    try:
        arc = parse()
    except DancerError as exc:
        check_message(exc, source)
        return CLEAR
    names = [arc.name, *(p.name for p in arc.phases)]
    assert all(SLUG.fullmatch(n) for n in names), f"accepted a bad name: {names}"
    spans = arc.spans()
    assert all(start <= end for _, start, end in spans), spans
    return ACCEPTED


def judge_pack(data: str | bytes, folder: Path) -> str:
    if isinstance(data, bytes):
        path = folder / "fuzz-pack.toml"
        path.write_bytes(data)
        source, parse = str(path), lambda: list(load_packs([path], include_user=False))
    else:
        source, parse = "fuzz-pack.toml", lambda: parse_pack(data, "fuzz-pack.toml")
    try:
        prompts = parse()
    except DancerError as exc:
        check_message(exc, source)
        return CLEAR
    for prompt in prompts:  # formatted the way dancer.guide.schedule formats them
        assert all(SLUG.fullmatch(n) for n in (prompt.id, *prompt.tags)), f"accepted a bad id/tag: {prompt}"
        if prompt.kind == "phase":
            prompt.text.format(title="Arrive")
        elif prompt.is_cycle:
            prompt.text.format(**{"in": "four", "out": "six"})
            prompt.exhale.format(**{"in": "four", "out": "six"})
    return ACCEPTED


def judge_config(data: str | bytes, folder: Path) -> str:
    if isinstance(data, bytes):
        path = folder / "fuzz-config.toml"
        path.write_bytes(data)
        source, parse = "fuzz-config.toml", lambda: load_config(path)
    else:
        source, parse = "fuzz-config.toml", lambda: parse_config(data, "fuzz-config.toml")
    try:
        parse()
    except DancerError as exc:
        check_message(exc, source)
        return CLEAR
    return ACCEPTED


# -- outside pytest


class NetworkUsed(RuntimeError):
    pass


@contextmanager
def no_network() -> Iterator[None]:
    """Any attempt to resolve a host or connect raises `NetworkUsed` (an unclear failure)."""

    def refuse(*args, **kwargs):
        raise NetworkUsed("a parser tried to use the network")

    saved = socket.socket.connect, socket.create_connection, socket.getaddrinfo
    socket.socket.connect, socket.create_connection, socket.getaddrinfo = refuse, refuse, refuse
    try:
        yield
    finally:
        socket.socket.connect, socket.create_connection, socket.getaddrinfo = saved


@dataclass
class FuzzReport:
    examples: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def run_fuzzer(strategy: st.SearchStrategy, judge: Callable[[object, object], str], make_room: Callable,
               examples: int, seed_value: int) -> FuzzReport:  # fmt: skip
    """Feed ``examples`` generated inputs to ``judge``; failures are recorded, not raised."""
    report = FuzzReport()
    with tempfile.TemporaryDirectory(prefix="dancer-fuzz-") as d, no_network():
        room = make_room(Path(d))

        @seed(seed_value)
        @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(strategy)
        def run(data) -> None:
            report.examples += 1
            t0 = time.monotonic()
            try:
                report.outcomes[judge(data, room)] += 1
            except Exception as exc:  # the point: anything but a clear DancerError is counted
                report.failures.append(f"{type(exc).__name__}: {str(exc)[:200]} <- {data!r:.200}")
            if time.monotonic() - t0 > SLOW_SECONDS:
                report.failures.append(f"hang: {time.monotonic() - t0:.1f} s <- {data!r:.200}")

        run()
    return report


FUZZERS: dict[str, Callable[[int, int], FuzzReport]] = {
    "playlist (M3U8)": lambda n, s: run_fuzzer(playlist_inputs(), judge_playlist, PlaylistRoom, n, s),
    "arcs (TOML)": lambda n, s: run_fuzzer(arc_inputs(), judge_arc, lambda d: d, n, s),
    "prompt packs (TOML)": lambda n, s: run_fuzzer(pack_inputs(), judge_pack, lambda d: d, n, s),
    "config (TOML)": lambda n, s: run_fuzzer(config_inputs(), judge_config, lambda d: d, n, s),
}
