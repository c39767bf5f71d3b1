"""Extended M3U8 playlists: plans written so any player opens them, and read back (ours or theirs).

Public: `write_plan`, `read_plan`, `format_plan`.

A dancer playlist is plain extended M3U (``#EXTM3U``, ``#EXTINF:secs,Artist - Title``, one path a line,
relative to the playlist's folder where possible) plus comment lines other players ignore::

    #DANCER-ARC:hip-release minutes=45 seed=3 objective=0.0456
    #DANCER-PHASE:name=arrive start=0.0 end=405.0 'title=Arrive and breathe'
    #DANCER-WARNING:phase 'floor': ...
    #DANCER-ENTRY:phase=arrive start=0.0 in=0.4 out=323.7 fade_in=4.0 fade_out=12.0 transition=start
    #EXTINF:323,Artist - Title
    ../music/Artist/track.flac

Fields are shell-quoted ``key=value`` words; numbers are written so they read back exactly. A plan
made from an arc file names it (``file=/abs/path/my-arc.toml`` on the ``#DANCER-ARC`` line), so the
playlist can be rendered and played with its prompts wherever it is opened.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from dancer.errors import ConfigError, DancerError
from dancer.model import PhaseSpan, Plan, PlanEntry, Tags, Track
from dancer.paths import atomic_write_bytes

ARC = "#DANCER-ARC:"
PHASE = "#DANCER-PHASE:"
ENTRY = "#DANCER-ENTRY:"
WARNING = "#DANCER-WARNING:"
EXTINF = "#EXTINF:"

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")
_ENTRY_FIELDS = {
    "start": "start", "in": "source_in", "out": "source_out", "fade_in": "fade_in", "fade_out": "fade_out",
}  # fmt: skip


def _num(x: float) -> str:
    return repr(float(x))


def _words(**fields: object) -> str:
    return shlex.join(f"{k}={v}" for k, v in fields.items())


def _relative(track_path: str, folder: Path) -> str:
    """``track_path`` relative to ``folder`` when they share more than the filesystem root."""
    absolute = os.path.abspath(track_path)
    try:
        common = os.path.commonpath([absolute, str(folder)])
        if os.path.dirname(common) == common:
            return absolute
        return os.path.relpath(absolute, folder)
    except ValueError:
        return absolute


def format_plan(plan: Plan, folder: Path) -> str:
    """The text of the playlist for ``plan`` written in ``folder`` (paths relative to it)."""
    folder = Path(os.path.abspath(folder))
    title = plan.arc.replace("-", " ").capitalize() if plan.arc else "Session"
    lines = ["#EXTM3U", f"#PLAYLIST:{title}, {plan.minutes:g} min"]
    minutes = f"{plan.minutes:g}" if float(f"{plan.minutes:g}") == plan.minutes else _num(plan.minutes)
    arc_file = " " + _words(file=plan.arc_file) if plan.arc_file else ""
    lines.append(
        f"{ARC}{plan.arc or '-'} minutes={minutes} seed={plan.seed} objective={_num(plan.objective)}"
        + arc_file
    )
    for span in plan.phases:
        # A title is free text from an arc file: a line break in it would cut the line in two.
        title = " ".join(span.title.split())
        lines.append(PHASE + _words(name=span.name, start=_num(span.start), end=_num(span.end), title=title))
    for warning in plan.warnings:
        lines.append(WARNING + " ".join(warning.split()))
    for entry in plan.entries:
        path = entry.track.path
        if "\n" in path or "\r" in path:
            raise ConfigError(f"cannot write a path with a line break to a playlist: {path!r}")
        lines.append(
            ENTRY
            + _words(
                phase=entry.phase,
                start=_num(entry.start),
                **{"in": _num(entry.source_in)},
                out=_num(entry.source_out),
                fade_in=_num(entry.fade_in),
                fade_out=_num(entry.fade_out),
                transition=entry.transition,
            )
        )
        name = " ".join((entry.track.display or Path(path).stem).split())
        seconds = entry.track.duration or entry.length  # other players play the whole file
        lines.append(f"{EXTINF}{round(seconds)},{name}")
        line = _relative(path, folder).replace(os.sep, "/")
        # "#" would read as a comment, "~" as a home folder, leading blanks would be stripped.
        lines.append("./" + line if line.startswith(("#", "~")) or line != line.lstrip() else line)
    return "\n".join(lines) + "\n"


def write_plan(plan: Plan, path: Path) -> None:
    """Write ``plan`` as an extended M3U8 playlist at ``path``, atomically (temp file + fsync + rename)."""
    path = Path(path)
    text = format_plan(plan, path.parent if str(path.parent) else Path("."))
    try:
        atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"))
    except OSError as exc:
        raise DancerError(f"cannot write playlist {path}: {exc.strerror or exc}") from exc


def _lines(raw: bytes) -> list[tuple[str, str | None]]:
    """Each line as text, with a second reading for lines that are not UTF-8: Latin-1 first (what
    other players write in a plain .m3u), else the raw bytes as the file system names them."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    out: list[tuple[str, str | None]] = []
    for line in raw.split(b"\n"):
        try:
            out.append((line.decode("utf-8"), None))
        except UnicodeDecodeError:
            out.append((line.decode("latin-1"), line.decode("utf-8", "surrogateescape")))
    return out


def _expand(line: str) -> Path:
    """``~`` and ``~user`` expanded; a user that does not exist leaves the path as written.

    Only a line that begins with ``~``: pathlib reads ``./~`` (how a file named ``~`` is written) as ``~``.
    """
    try:
        return Path(line).expanduser() if line.startswith("~") else Path(line)
    except (RuntimeError, ValueError):  # no such user; a NUL byte, which no file name has
        return Path(line)


def _exists(path: Path) -> bool:
    # Path.exists raises for a name too long or a folder it may not enter; either way it is not there.
    try:
        return path.exists()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


class _Reader:
    def __init__(self, path: Path, resolve: Callable[[Path], Track | None] | None):
        self.path = path
        self.folder = Path(os.path.abspath(path.parent))
        self.resolve = resolve
        self.warnings: list[str] = []
        self.entries: list[PlanEntry] = []
        self.phases: list[PhaseSpan] = []
        self.stored_warnings: list[str] = []
        self.arc: str = ""
        self.minutes: float | None = None
        self.seed = 0
        self.objective = 0.0
        self.arc_file = ""
        self.entry: dict[str, str] | None = None
        self.extinf: tuple[float, str] | None = None
        self.lineno = 0

    def fail(self, what: str) -> ConfigError:
        return ConfigError(f"{self.path}: line {self.lineno}: {what}")

    def fields(self, text: str, tag: str) -> dict[str, str]:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise self.fail(f"{tag}: {exc}") from exc
        out = {}
        for word in words:
            key, sep, value = word.partition("=")
            if not sep:
                raise self.fail(f"{tag}: expected key=value, got {word!r}")
            out[key] = value
        return out

    def number(self, fields: dict[str, str], key: str, tag: str) -> float:
        if key not in fields:
            raise self.fail(f"{tag} field '{key}': missing")
        try:
            value = float(fields[key])
        except ValueError:
            raise self.fail(f"{tag} field '{key}': expected a number, got {fields[key]!r}") from None
        # NaN, infinity, and numbers so large that a length or an end overflows to infinity.
        if not abs(value) <= 1e9:
            raise self.fail(f"{tag} field '{key}': expected a number within ±1e9, got {fields[key]!r}")
        return value

    def whole(self, fields: dict[str, str], key: str, tag: str) -> int:
        try:
            return int(fields[key])
        except ValueError:
            raise self.fail(f"{tag} field '{key}': expected a whole number, got {fields[key]!r}") from None

    def comment(self, line: str) -> None:
        upper = line.upper()
        if upper.startswith(EXTINF):
            seconds, _, title = line[len(EXTINF) :].partition(",")
            try:
                duration = float(seconds.split()[0]) if seconds.strip() else -1.0
            except ValueError:
                duration = -1.0
            duration = duration if abs(duration) <= 1e9 else -1.0
            self.extinf = (duration, title.strip())
        elif line.startswith(ARC):
            name, _, rest = line[len(ARC) :].strip().partition(" ")
            fields = self.fields(rest, "#DANCER-ARC")
            self.arc = "" if name == "-" else name
            self.minutes = self.number(fields, "minutes", "#DANCER-ARC") if "minutes" in fields else None
            self.seed = self.whole(fields, "seed", "#DANCER-ARC") if "seed" in fields else 0
            self.objective = self.number(fields, "objective", "#DANCER-ARC") if "objective" in fields else 0.0
            self.arc_file = fields.get("file", "")
        elif line.startswith(PHASE):
            fields = self.fields(line[len(PHASE) :], "#DANCER-PHASE")
            name = fields.get("name") or self._missing("#DANCER-PHASE", "name")
            start = self.number(fields, "start", "#DANCER-PHASE")
            end = self.number(fields, "end", "#DANCER-PHASE")
            self.phases.append(PhaseSpan(name=name, title=fields.get("title", name), start=start, end=end))
        elif line.startswith(ENTRY):
            self.entry = self.fields(line[len(ENTRY) :], "#DANCER-ENTRY")
            self.entry["_line"] = str(self.lineno)
        elif line.startswith(WARNING):
            self.stored_warnings.append(line[len(WARNING) :].strip())

    def _missing(self, tag: str, key: str) -> str:
        raise self.fail(f"{tag} field '{key}': missing")

    def locate(self, line: str) -> Path:
        is_file_url = line.lower().startswith("file://")
        if _URL.match(line) and not is_file_url:
            raise self.fail(f"{line!r} is a URL; dancer plays local files only (no network)")
        if is_file_url:
            try:
                url = urlparse(line)
            except ValueError as exc:
                raise self.fail(f"{line!r} is not a valid file URL ({exc})") from None
            # file:///path and file://localhost/path are this machine; any other host is a network share.
            if url.netloc.lower() not in ("", "localhost"):
                raise self.fail(
                    f"{line!r} names another computer; dancer plays local files only (no network)"
                )
            line = unquote(url.path)
        candidate = _expand(line)
        if not candidate.is_absolute():
            candidate = self.folder / candidate
        if not _exists(candidate) and "\\" in line:
            alternative = _expand(line.replace("\\", "/"))
            alternative = alternative if alternative.is_absolute() else self.folder / alternative
            if _exists(alternative):
                candidate = alternative
        return Path(os.path.normpath(candidate))

    def track(self, file: Path, extinf: tuple[float, str] | None) -> Track | None:
        if self.resolve is not None:
            return self.resolve(file)
        stat = file.stat()
        title = extinf[1] if extinf and extinf[1] else file.stem
        artist, sep, name = title.partition(" - ")
        tags = Tags(title=name, artist=artist) if sep else Tags(title=title)
        return Track(path=str(file), size=stat.st_size, mtime=stat.st_mtime, tags=tags, analysis=None)

    def uri(self, line: str, written: str) -> None:
        entry, extinf = self.entry, self.extinf
        self.entry, self.extinf = None, None
        file = self.locate(line)
        # The line as written names the file best: its bytes as the file system has them (not their
        # Latin-1 reading) and any blanks at its ends (a file name may have them; players strip them).
        for exact in dict.fromkeys((written, written.strip())):
            try:
                candidate = self.locate(exact) if exact != line else file
            except ConfigError:  # "file:// " is not another computer: the stripped line decides
                continue
            if _is_file(candidate):
                file = candidate
                break
        if not _is_file(file):
            self.warnings.append(f"line {self.lineno}: '{line}' not found; skipped")
            return
        track = self.track(file, extinf)
        if track is None:
            self.warnings.append(f"line {self.lineno}: '{line}' could not be analysed; skipped")
            return
        previous_end = max((e.end for e in self.entries), default=0.0)
        if entry is not None:
            saved, self.lineno = self.lineno, int(entry["_line"])
            values = {attr: self.number(entry, key, "#DANCER-ENTRY") for key, attr in _ENTRY_FIELDS.items()}
            self.lineno = saved
            self.entries.append(
                PlanEntry(
                    track=track,
                    phase=entry.get("phase", ""),
                    transition=entry.get("transition", "crossfade"),
                    **values,
                )
            )
            return
        analysis = track.analysis
        if analysis is not None:
            source_in, source_out = analysis.cue_in, analysis.cue_out
        elif extinf is not None and extinf[0] > 0:
            source_in, source_out = 0.0, extinf[0]
        else:
            self.warnings.append(
                f"line {self.lineno}: '{line}' has no known length (not analysed, no #EXTINF); skipped"
            )
            return
        phase = next((s.name for s in self.phases if s.start <= previous_end < s.end), "")
        if not phase:
            phase = self.phases[-1].name if self.phases else "playlist"
        self.entries.append(
            PlanEntry(
                track=track,
                phase=phase,
                start=previous_end,
                source_in=source_in,
                source_out=source_out,
                fade_in=0.0,
                fade_out=0.0,
                transition="start" if not self.entries else "gap",
            )
        )

    def read(self, lines: list[tuple[str, str | None]]) -> Plan:
        for self.lineno, (text, raw) in enumerate(lines, 1):
            line = text.strip()
            # Blank or comment is decided on the bytes: a Latin-1 NBSP or NEL can begin a file name.
            probe = raw.strip() if raw is not None else line
            if not probe:
                continue
            if probe.startswith("#"):
                self.comment(line)
            else:
                self.uri(line, (raw if raw is not None else text).rstrip("\r"))
        length = max((e.end for e in self.entries), default=0.0)
        phases = tuple(self.phases) or (PhaseSpan("playlist", self.path.stem, 0.0, length),)
        return Plan(
            arc=self.arc,
            minutes=self.minutes if self.minutes is not None else length / 60.0,
            seed=self.seed,
            entries=tuple(self.entries),
            phases=phases,
            objective=self.objective,
            warnings=tuple(self.stored_warnings + self.warnings),
            arc_file=self.arc_file,
        )


def read_plan(path: Path, *, resolve: Callable[[Path], Track | None] | None = None) -> Plan:
    """Read a playlist back into a `Plan`: a dancer M3U8 exactly as written, or a plain M3U/M3U8 from
    another player as back-to-back entries.

    ``resolve`` turns each (absolute) file path into a `Track` (a library lookup, analysing when
    needed) or None to skip it; without it, tracks carry only the file's tags from ``#EXTINF``.
    Missing files are skipped with a warning in `Plan.warnings`; a URL raises `ConfigError` naming
    the line (dancer plays local files only). Lines that are not UTF-8 are read as Latin-1, or as
    the raw bytes of a file name that is not UTF-8 either.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read playlist {path}: {exc.strerror or exc}") from exc
    return _Reader(path, resolve).read(_lines(raw))
