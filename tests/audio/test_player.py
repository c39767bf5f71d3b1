"""The player: its callback driven by hand, then real playback via PortAudio into an ALSA `file` device."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from alsa_device import alsa_home, needs_portaudio
from synth import SR, chain, render, synth_track

from dancer.audio.player import NO_DEVICE, Player
from dancer.audio.timeline import Timeline, VoiceClip
from dancer.library.store import Library
from dancer.model import PhaseSpan, Plan
from dancer.plan.matching import beat_match
from dancer.plan.playlist import write_plan


class FakeStream:
    latency = 0.0

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def start(self):
        pass

    def abort(self):
        pass

    def close(self):
        pass


@pytest.fixture
def tones(tmp_path):
    a = synth_track(tmp_path / "a.wav", tone_hz=220.0, tone=0.2, click=0.0)
    # Another tempo, so sessions written from these crossfade through a tempo-matched curve.
    b = synth_track(tmp_path / "b.wav", tone_hz=330.0, tone=0.2, click=0.0, offset=0.33, bpm=119.0)
    return a, b


def pull(player: Player, frames: int, *, patience: float = 2.0) -> tuple[np.ndarray, bool]:
    """One callback of ``frames``, after giving the feeder a moment to refill like a real device would."""
    deadline = time.monotonic() + patience
    while player._written - player._read < frames and not player._ended and time.monotonic() < deadline:
        time.sleep(0.0005)
    out = np.full((frames, 2), np.nan, dtype=np.float32)
    try:
        player._callback(out, frames, None, 0)
    except player._stop_exc:
        return out, True
    return out, False


def wait_for(condition, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_callback_plays_exactly_what_the_mixer_renders(tones):
    tl = Timeline(chain(list(tones), phrases=2))
    reference = render(tl)
    with Player(tl, stream_factory=FakeStream) as player:
        blocks, stopped = [], False
        while not stopped:
            block, stopped = pull(player, 1024)
            blocks.append(block)
        assert player.underruns == 0 and player._drained
        status = player.status()
    y = np.concatenate(blocks)
    assert not np.isnan(y).any()
    assert np.array_equal(y[:len(reference)], reference)
    assert not y[len(reference):].any()
    assert status.position == pytest.approx(tl.length, abs=0.2)


def test_pause_fades_out_holds_and_resumes_where_it_stopped(tones):
    tl = Timeline(chain(list(tones), phrases=2))
    reference = render(tl)
    bound = 2.1 * float(np.abs(np.diff(reference, axis=0)).max())
    with Player(tl, stream_factory=FakeStream) as player:
        out = [pull(player, 512)[0] for _ in range(20)]
        player.pause()
        wait_for(lambda: player._paused)
        paused_at = player._read
        fade = [pull(player, 512)[0] for _ in range(6)]
        read = player._read
        silent = [pull(player, 512)[0] for _ in range(10)]
        assert player._read == read, "nothing is consumed while paused"
        assert read - paused_at <= round(0.03 * SR) + 512
        player.resume()
        wait_for(lambda: not player._paused)
        after = [pull(player, 512)[0] for _ in range(20)]
        assert player.status().paused is False and player.underruns == 0
    assert not np.concatenate(silent).any()
    assert not fade[-1].any() and np.abs(fade[0]).max() > 0
    y = np.concatenate(out + fade + silent + after)
    assert np.abs(np.diff(y, axis=0)).max() <= bound, "no click at pause or resume"
    # Playback continues from the sample where the fade-out reached silence.
    played = np.concatenate(out + fade)
    tail = np.concatenate(after)[-4096:]
    consumed = player._read
    assert np.array_equal(tail, reference[consumed - 4096:consumed])
    assert len(played) >= read


def test_volume_ramps_to_the_new_gain(tones):
    tl = Timeline(chain(list(tones), phrases=2))
    reference = render(tl)
    with Player(tl, stream_factory=FakeStream) as player:
        y = [pull(player, 1024)[0] for _ in range(4)]
        player.volume(-6.0)
        wait_for(lambda: player._volume_db == -6.0)
        y += [pull(player, 1024)[0] for _ in range(8)]
        player.volume(+20.0)
        wait_for(lambda: player._volume_db == 0.0)
        y += [pull(player, 1024)[0] for _ in range(8)]
    y = np.concatenate(y)
    expected = reference[8 * 1024:10 * 1024] * 10 ** (-6 / 20)
    assert np.allclose(y[8 * 1024:10 * 1024], expected, rtol=1e-5, atol=1e-9)
    assert np.array_equal(y[-1024:], reference[len(y) - 1024:len(y)]), "volume is capped at unity"


def test_voice_and_replans_reach_the_mixer_through_the_queue(tmp_path, tones):
    a, b = tones
    c = synth_track(tmp_path / "c.wav", tone_hz=275.0, tone=0.2, click=0.0, offset=0.1)
    old, new = chain([a, b], phrases=4), chain([a, c], phrases=4)
    t = np.arange(SR) / SR
    clip = VoiceClip(8.0, (0.05 * np.sin(2 * np.pi * 700 * t)).astype(np.float32))
    reference = render(Timeline(new, [clip]))
    with Player(Timeline(old), stream_factory=FakeStream) as player:
        player.add_voice(clip)
        player.replace_timeline(Timeline(new), from_time=new[1].start)
        player.set_voice_enabled(True)
        blocks, stopped = [], False
        while not stopped:
            block, stopped = pull(player, 2048)
            blocks.append(block)
        assert player.timeline.entries[1].track == c
    y = np.concatenate(blocks)[:len(reference)]
    assert np.allclose(y, reference, atol=1e-6)


def test_an_empty_buffer_counts_an_underrun_and_plays_silence(tones):
    tl = Timeline(chain(list(tones), phrases=2))
    with Player(tl, stream_factory=FakeStream) as player:
        player._stop_feeding = True
        player._feeder.join()
        blocks = [pull(player, 4096, patience=0.0)[0] for _ in range(player._capacity // 4096 + 3)]
        assert player.underruns >= 2
        assert not blocks[-1].any()


def test_callback_allocates_nothing_big(tones):
    tl = Timeline(chain(list(tones), phrases=2))
    with Player(tl, stream_factory=FakeStream) as player:
        player._stop_feeding = True
        player._feeder.join()
        out = np.zeros((4096, 2), dtype=np.float32)
        player._target = 0.3  # a gain ramp on every call: the costliest path
        player._gain_step = 1e-6
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(3):
            player._callback(out, 4096, None, 0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak - before < 4096, "a (4096, 2) float32 block is 32 KiB; the callback must not make one"
    durations, frames = player.callback_timings()
    assert len(durations) == 3 and (frames == 4096).all()


# -- real playback: PortAudio → ALSA `file` plugin → a paced pipe ---------------------------------

def captured(path: Path, reference: np.ndarray | None = None, *, skip: int = 0) -> np.ndarray:
    """The capture from its first sound on; aligned to ``reference`` to the sample when given,
    ``reference`` starting about ``skip`` frames after the first sound.

    PortAudio and ALSA prime the device with silence, and a fade-in's first samples are exact
    zeros, so the first non-zero sample is only a hint: the offset with the smallest difference from
    the reference over its first second wins.
    """
    y = np.fromfile(path, dtype="<f4").reshape(-1, 2)
    nonzero = np.flatnonzero(np.abs(y).max(axis=1) > 0)
    if not len(nonzero):
        return y[:0]
    first = int(nonzero[0])
    if reference is None:
        return y[first:]
    n = min(SR, len(reference))

    def error(start: int) -> float:
        return float(np.abs(y[start:start + n] - reference[:n]).max()) if start >= 0 else np.inf

    return y[min(range(first + skip - 16, first + skip + 17), key=error):]


def write_session(tmp_path: Path, tracks, *, phrases: int = 4) -> Path:
    entries = beat_match(chain(list(tracks), phrases=phrases))
    assert any(e.curve is not None for e in entries), "the session plays a tempo-matched crossfade"
    length = max(e.end for e in entries)
    plan = Plan("test", length / 60, 0, tuple(entries), (PhaseSpan("groove", "Groove", 0.0, length),))
    playlist = tmp_path / "session.m3u8"
    write_plan(plan, playlist)
    with Library.open(Path(os.environ["DANCER_LIBRARY"])) as lib:
        for t in tracks:
            lib.put(t)
    return playlist


def dancer(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancer", *args], env=env or dict(os.environ), check=False,
                          capture_output=True, text=True, timeout=60, **kwargs)


@needs_portaudio
def test_play_sends_the_device_what_render_writes(tmp_path, tones):
    playlist = write_session(tmp_path, tones, phrases=2)
    rendered = dancer("render", str(playlist), "-o", str(tmp_path / "ref.wav"))
    assert rendered.returncode == 0, rendered.stderr
    reference, sr = sf.read(str(tmp_path / "ref.wav"), dtype="float32")
    env, capture = alsa_home(tmp_path)
    played = dancer("play", str(playlist), env=env, stdin=subprocess.DEVNULL)
    assert played.returncode == 0, played.stderr
    assert "playing session.m3u8" in played.stderr and "underrun" not in played.stderr
    y = captured(capture, reference)
    assert sr == SR and len(y) >= len(reference)
    # The render is 16-bit (dithered); the device got float32.
    assert np.abs(y[:len(reference)] - reference[:len(y)]).max() < 3 / 32768
    assert not y[len(reference):].any()

    capture.unlink()
    later = dancer("play", str(playlist), "--start", "0:05", env=env, stdin=subprocess.DEVNULL)
    assert later.returncode == 0, later.stderr
    start, fade = 5 * SR, round(0.02 * SR)
    y = captured(capture, reference[start + fade:], skip=fade)
    assert np.abs(y[:len(reference) - start - fade] - reference[start + fade:]).max() < 3 / 32768


@needs_portaudio
def test_play_controls_pause_next_and_quit(tmp_path, tones):
    playlist = write_session(tmp_path, tones, phrases=8)
    rendered = dancer("render", str(playlist), "-o", str(tmp_path / "ref.wav"))
    reference, _ = sf.read(str(tmp_path / "ref.wav"), dtype="float32")
    env, capture = alsa_home(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "dancer", "play", str(playlist)], env=env,
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "playing" in proc.stderr.readline()
        time.sleep(0.2)
        for key, then in ((" ", 0.3), (" ", 0.2), ("n", 0.0)):
            proc.stdin.write(key)
            proc.stdin.flush()
            time.sleep(then)
        # Quit once the player says the next entry is playing (not after a fixed sleep, which a
        # loaded machine outruns), and after a moment of it has reached the device.
        seen, deadline = [], time.monotonic() + 30
        while not any("  2. " in line for line in seen) and time.monotonic() < deadline:
            seen.append(proc.stderr.readline())
        time.sleep(0.8)
        proc.stdin.write("q")
        proc.stdin.flush()
        err = "".join(seen) + proc.stderr.read()
        assert proc.wait(timeout=30) == 0, err
    finally:
        proc.kill()
    assert rendered.returncode == 0 and "stopped at" in err and "--start" in err
    y = captured(capture)
    assert len(y) < 0.8 * len(reference), "quit ends the session early"
    silent = np.abs(y).max(axis=1) == 0
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(int), [0]]))))[::2]
    assert runs.max() > 0.5 * SR, "pause held silence"
    bound = 2.1 * float(np.abs(np.diff(reference, axis=0)).max())
    assert np.abs(np.diff(y, axis=0)).max() <= bound, "no click from pause, resume, next or quit"
    # After `n` the next track (330 Hz) plays long before its planned entry (about 27 s in).
    end = np.flatnonzero(~silent)[-1] - round(0.1 * SR)
    tail = y[end - SR // 2:end, 0]
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    freqs = np.fft.rfftfreq(len(tail), 1 / SR)
    assert spectrum[np.argmin(np.abs(freqs - 330))] > 10 * spectrum[np.argmin(np.abs(freqs - 220))]
    assert len(y) < 20 * SR


@needs_portaudio
def test_no_output_device_is_one_line_and_exit_1(tmp_path, tones):
    playlist = write_session(tmp_path, tones, phrases=2)
    config = tmp_path / "alsa.conf"
    config.write_text("pcm.!default { type hw; card 42 }\n")
    env = {**os.environ, "HOME": str(tmp_path), "ALSA_CONFIG_PATH": str(config)}
    for args in (("play", str(playlist)), ("devices",)):
        result = dancer(*args, env=env)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [f"dancer: {NO_DEVICE}"]
        assert NO_DEVICE.startswith("no audio output device found; use `dancer render PLAYLIST -o FILE.wav`")


@needs_portaudio
def test_device_failure_mid_play_stops_with_the_position(tmp_path, tones):
    playlist = write_session(tmp_path, tones, phrases=2)
    env, _ = alsa_home(tmp_path, limit_frames=SR * 3)
    result = dancer("play", str(playlist), env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dancer: the audio stream stopped unexpectedly at 0:0")
    assert "resume with --start 0:0" in last
    seconds = int(last.rsplit(":", 1)[1])
    assert 1 <= seconds <= 4


@needs_portaudio
def test_devices_lists_the_default(tmp_path):
    env, _ = alsa_home(tmp_path)
    result = dancer("devices", env=env)
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("*") and "default" in line for line in result.stdout.splitlines())


@needs_portaudio
def test_unknown_device_name_is_one_line_and_exit_1(tmp_path, tones):
    playlist = write_session(tmp_path, tones, phrases=2)
    env, _ = alsa_home(tmp_path)
    result = dancer("play", str(playlist), "--device", "nope", env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["dancer: no output device matches 'nope'; see `dancer devices`"]


def test_bad_options_are_usage_errors(tmp_path, tones):
    from click.testing import CliRunner

    from dancer.cli.main import cli

    playlist = write_session(tmp_path, tones, phrases=2)
    runner = CliRunner()
    cases = [(["render", str(playlist), "-o", str(tmp_path / "x.mp4")], "use a .wav, .flac or .ogg"),
             (["play", str(playlist), "--start", "9"], "entry 9 does not exist"),
             (["play", str(playlist), "--start", "1:xx"], "neither an entry number nor MM:SS"),
             (["play", str(playlist), "--start", "59:00"], "past the end"),
             (["play", str(playlist), "--latency", "fast"], "use low, high or a number of seconds")]
    for args, message in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
    assert not (tmp_path / "x.mp4").exists()
