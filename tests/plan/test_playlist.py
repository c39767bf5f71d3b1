"""M3U8 playlists: dancer's round trip, other players' M3U, refusals, and mpv opening what we write."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from plan_factory import library_on_disk, make_track
from synth import write_wav

from dancer.errors import ConfigError
from dancer.model import Plan, Track
from dancer.plan.arcs import load_arc
from dancer.plan.planner import make_plan, place_sequence
from dancer.plan.playlist import format_plan, read_plan, write_plan


def odd_tracks(music: Path) -> list[Track]:
    """Tracks whose names a playlist must survive: non-ASCII, spaces, commas, a leading '#'."""
    names = [
        ("Ärtist Ünö", "café ♫, live", "Ärtist Ünö/café ♫, live.flac"),
        ("B. Two", "# one", "B/#1 hit.flac"),
        ("", "untitled", "loose track.wav"),
        ("Dee - Dash", "x - y", "D/x - y.ogg"),
    ]
    tracks = []
    for k, (artist, title, rel) in enumerate(names):
        track = make_track(str(music / rel), artist=artist, title=title, bpm=100.0 + 3 * k, duration=200.0,
                           energy=0.3 + 0.1 * k)  # fmt: skip
        write_wav(Path(track.path))
        tracks.append(track)
    return tracks


@pytest.fixture
def planned(tmp_path: Path) -> tuple[Plan, list[Track]]:
    tracks = library_on_disk(tmp_path / "music", 40, seed=5) + odd_tracks(tmp_path / "music")
    plan = make_plan(tracks, load_arc("quick"), minutes=16, seed=2)
    odd = place_sequence(odd_tracks(tmp_path / "music"), load_arc("quick"), minutes=12.5)
    assert odd is not None
    return plan, tracks


def resolver(tracks: list[Track]):
    by_path = {t.path: t for t in tracks}
    return lambda path: by_path.get(str(path))


def test_round_trip_is_exact(tmp_path: Path, planned: tuple[Plan, list[Track]]) -> None:
    plan, tracks = planned
    out = tmp_path / "playlists" / "quick.m3u8"
    write_plan(plan, out)
    assert read_plan(out, resolve=resolver(tracks)) == plan
    # The library plan's picks follow each seed's taste for a track, hashed from its path (and so
    # from pytest's temporary folder): whether it holds a tempo-matched crossfade is chance. This
    # fixed sequence of tracks 3 % apart always does.
    odd = place_sequence(odd_tracks(tmp_path / "music"), load_arc("quick"), minutes=12.5)
    assert any(e.curve is not None for e in odd.entries), "tempo-matched entries keep their curves"
    warned = Plan(
        odd.arc, odd.minutes, 7, odd.entries, odd.phases, odd.objective, ("phase 'x': a\nb", "c=d 'e'")
    )
    write_plan(warned, out)
    back = read_plan(out, resolve=resolver(odd_tracks(tmp_path / "music")))
    assert back.entries == warned.entries and back.seed == 7
    assert back.warnings == ("phase 'x': a b", "c=d 'e'")


def test_written_file_is_plain_extended_m3u(tmp_path: Path, planned: tuple[Plan, list[Track]]) -> None:
    plan, _ = planned
    odd = place_sequence(odd_tracks(tmp_path / "music"), load_arc("quick"), minutes=12.5)
    for p in (plan, odd):
        out = tmp_path / "playlists" / "x.m3u8"
        write_plan(p, out)
        lines = out.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "#EXTM3U"
        uris = [k for k, line in enumerate(lines) if not line.startswith("#")]
        assert len(uris) == len(p.entries)
        for k, entry in zip(uris, p.entries, strict=True):
            assert lines[k - 1] == f"#EXTINF:{round(entry.track.duration)},{entry.track.display}"
            assert lines[k - 2].startswith("#DANCER-ENTRY:")
            assert lines[k].startswith("../music/")
            assert os.path.normpath(out.parent / lines[k]) == entry.track.path
        assert all(
            line.startswith(("#EXTM3U", "#EXTINF:", "#DANCER-", "#PLAYLIST:", "../")) for line in lines
        )
    assert [f.name for f in out.parent.iterdir()] == ["x.m3u8"], "no temporary files left behind"


def test_leading_hash_and_paths_without_a_common_root(tmp_path: Path) -> None:
    tracks = odd_tracks(tmp_path / "music")
    plan = place_sequence(tracks, load_arc("quick"), minutes=12.5)
    text = format_plan(plan, tmp_path / "music" / "B")
    assert "\n./#1 hit.flac\n" in text
    far = [make_track(f"/srv/dancer-nowhere/{k}.flac", artist=str(k)) for k in range(4)]
    text = format_plan(place_sequence(far, load_arc("quick"), minutes=14), tmp_path)
    assert "\n/srv/dancer-nowhere/0.flac\n" in text


def test_missing_entries_are_skipped_with_warnings(tmp_path: Path, planned: tuple[Plan, list[Track]]) -> None:
    plan, tracks = planned
    out = tmp_path / "playlists" / "quick.m3u8"
    write_plan(plan, out)
    gone = plan.entries[1].track.path
    os.remove(gone)
    back = read_plan(out, resolve=resolver(tracks))
    assert len(back.entries) == len(plan.entries) - 1
    assert back.entries[1:] == plan.entries[2:]
    (warning,) = back.warnings
    assert warning.endswith("not found; skipped") and os.path.basename(gone) in warning


def test_foreign_m3u_becomes_back_to_back_entries(tmp_path: Path) -> None:
    write_wav(tmp_path / "music" / "a.mp3")
    write_wav(tmp_path / "elsewhere" / "b.flac")
    write_wav(tmp_path / "music" / "café.ogg")
    playlist = tmp_path / "mix.m3u"
    playlist.write_bytes(
        b"#EXTM3U\n#EXTINF:200,Someone - Song A\nmusic/a.mp3\n#EXTVLCOPT:start-time=3\n"
        + f"#EXTINF:180,Song B\n{tmp_path}/elsewhere/b.flac\n".encode()
        + b"#EXTINF:100,Gone\nmusic/missing.mp3\n\n#EXTINF:90,Caf\xe9\nmusic\\caf\xe9.ogg\n"
    )
    plan = read_plan(playlist)
    assert [e.track.tags.title for e in plan.entries] == ["Song A", "Song B", "Café"]
    assert plan.entries[0].track.tags.artist == "Someone"
    assert [(e.start, e.length) for e in plan.entries] == [(0.0, 200.0), (200.0, 180.0), (380.0, 90.0)]
    assert [e.transition for e in plan.entries] == ["start", "gap", "gap"]
    assert plan.arc == "" and plan.minutes == pytest.approx(470 / 60)
    assert [s.name for s in plan.phases] == ["playlist"]
    assert plan.warnings == ("line 8: 'music/missing.mp3' not found; skipped",)


def test_foreign_entries_are_analysed_through_the_resolver(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    write_wav(tmp_path / "b.wav")
    (tmp_path / "plain.m3u8").write_text("a.wav\nb.wav\nc.wav\n", encoding="utf-8")
    analysed = {str(tmp_path / "a.wav"): make_track(str(tmp_path / "a.wav"), bpm=120, duration=100)}
    plan = read_plan(tmp_path / "plain.m3u8", resolve=lambda p: analysed.get(str(p)))
    (entry,) = plan.entries
    assert entry.source_in == 0.4 and entry.source_out == 99.0 and entry.track.bpm == 120
    assert plan.warnings == (
        "line 2: 'b.wav' could not be analysed; skipped",
        "line 3: 'c.wav' not found; skipped",
    )
    bare = read_plan(tmp_path / "plain.m3u8")
    assert bare.entries == () and "has no known length" in bare.warnings[0]


def test_file_urls_are_local_files(tmp_path: Path) -> None:
    write_wav(tmp_path / "with space.wav")
    (tmp_path / "u.m3u").write_text(f"#EXTINF:10,x\nfile://{tmp_path}/with%20space.wav\n", encoding="utf-8")
    (entry,) = read_plan(tmp_path / "u.m3u").entries
    assert entry.track.path == str(tmp_path / "with space.wav")


@pytest.mark.parametrize(
    "url", ["http://radio.example/stream.mp3", "https://x.example/a.flac", "rtsp://cam/1"]
)
def test_urls_are_refused_naming_the_line(tmp_path: Path, url: str) -> None:
    write_wav(tmp_path / "a.wav")
    (tmp_path / "web.m3u").write_text(f"#EXTM3U\n#EXTINF:10,a\na.wav\n{url}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=rf"web.m3u: line 4: '{url}' is a URL; dancer plays local files only"
    ):
        read_plan(tmp_path / "web.m3u")


def test_broken_dancer_lines_name_the_line_and_field(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    (tmp_path / "bad.m3u8").write_text(
        "#EXTM3U\n#DANCER-ENTRY:phase=x start=soon in=0 out=9 fade_in=0 fade_out=1\na.wav\n", encoding="utf-8"
    )
    with pytest.raises(
        ConfigError, match=r"line 2: #DANCER-ENTRY field 'start': expected a number, got 'soon'"
    ):
        read_plan(tmp_path / "bad.m3u8")
    with pytest.raises(ConfigError, match="cannot read playlist"):
        read_plan(tmp_path / "absent.m3u8")
    (tmp_path / "rate.m3u8").write_text(
        "#EXTM3U\n#DANCER-ENTRY:phase=x start=0 in=0 out=9 fade_in=0 fade_out=1 rate=1@2:fast\na.wav\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"line 2: #DANCER-ENTRY: rate='1@2:fast' is not a rate curve"):
        read_plan(tmp_path / "rate.m3u8")


@pytest.mark.skipif(shutil.which("mpv") is None, reason="mpv is not installed (Debian package mpv)")
def test_mpv_opens_every_entry_of_a_built_playlist(tmp_path: Path) -> None:
    music = tmp_path / "music"
    tracks = library_on_disk(music, 30, seed=9) + odd_tracks(music)
    plan = make_plan(tracks, load_arc("quick"), minutes=15, seed=4)
    odd = place_sequence(odd_tracks(music), load_arc("quick"), minutes=12.5)
    for playlist, p in ((tmp_path / "playlists" / "quick.m3u8", plan), (music / "B" / "odd.m3u8", odd)):
        write_plan(p, playlist)
        run = subprocess.run(
            ["mpv", "--no-config", "--ao=null", "--vo=null", "--idle=no", "--msg-level=all=no,cplayer=info",
             str(playlist)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        played = [
            line.split("Playing: ", 1)[1] for line in output.splitlines() if line.startswith("Playing: ")
        ]
        assert [os.path.normpath(tmp_path / p) for p in played] == [e.track.path for e in p.entries], output


def test_file_names_that_are_not_utf8_survive_the_round_trip(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path / "music")
    odd = os.fsdecode(folder + b"/caf\xe9 \xff.wav")
    try:
        write_wav(Path(odd))
    except (OSError, UnicodeError):
        pytest.skip("this file system does not take non-UTF-8 names")
    tracks = odd_tracks(tmp_path / "music")
    tracks[2] = make_track(odd, artist="Odd", bpm=100.0, duration=200.0)
    plan = place_sequence(tracks, load_arc("quick"), minutes=12.5)
    out = tmp_path / "playlists" / "odd.m3u8"
    write_plan(plan, out)
    assert b"caf\xe9 \xff.wav" in out.read_bytes()
    assert read_plan(out, resolve=resolver(tracks)) == plan
