"""Real-time playback: a sounddevice stream fed from a ring buffer that a mixer thread keeps full.

Public: `Player`, `PlayerStatus`, `OutputDevice`, `output_devices`, `resolve_device`,
`import_sounddevice`, `NO_DEVICE`.

Three threads meet here. PortAudio's calls `Player._callback`, which only copies prepared frames
out of a preallocated ring buffer, applies a smoothed master gain (volume, pause fades) and counts
underruns: no decoding, allocation, locks, logging or I/O. A feeder thread renders the timeline
through `dancer.audio.mixer.Mixer` a fraction of a second ahead and applies controls taken from a queue.
The caller's thread sends controls and reads `PlayerStatus` snapshots.

The two sides share plain Python ints (frames written, frames read) that only one side writes;
under the GIL that is all the synchronisation a single-producer single-consumer ring needs.
"""

from __future__ import annotations

import contextlib
import math
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from dancer.audio.mixer import QUANTUM, Mixer
from dancer.audio.timeline import Timeline, VoiceClip, prepare_voice
from dancer.clock import clock
from dancer.errors import DeviceError

__all__ = ["NO_DEVICE", "OutputDevice", "Player", "PlayerStatus", "has_device", "import_sounddevice",
           "output_devices", "resolve_device"]

NO_DEVICE = ("no audio output device found; use `dancer render PLAYLIST -o FILE.wav` or pick one with "
             "--device (see `dancer devices`)")
#: Pause and resume fade over this long; volume changes move at the same rate.
PAUSE_FADE = 0.03
#: A start part-way into the session fades in over this long.
START_FADE = 0.02
#: Seek jumps crossfade over this long.
SEEK_FADE = 0.08
VOLUME_RANGE_DB = (-40.0, 0.0)
#: The device is considered dead when it has not asked for audio for this long while playing.
STALL_SECONDS = 3.0
#: Python thread switch interval while playing (s).
SWITCH_INTERVAL = 0.001
_MAX_FRAMES = 1 << 16
_TIMINGS = 1 << 16


def import_sounddevice() -> Any:
    """``import sounddevice``, with PortAudio's absence turned into a one-line `DeviceError`."""
    try:
        import sounddevice
    except OSError as exc:
        raise DeviceError(f"cannot load PortAudio ({exc}); install libportaudio2, or use "
                          "`dancer render PLAYLIST -o FILE.wav`") from None
    return sounddevice


@dataclass(frozen=True)
class OutputDevice:
    index: int
    name: str
    hostapi: str
    channels: int
    default_samplerate: float
    is_default: bool


def output_devices() -> list[OutputDevice]:
    """Every device PortAudio can play to, the default one marked."""
    sd = import_sounddevice()
    try:
        default = sd.default.device[1]
        hostapis = sd.query_hostapis()
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices ({exc})") from None
    return [OutputDevice(i, d["name"], hostapis[d["hostapi"]]["name"], int(d["max_output_channels"]),
                         float(d["default_samplerate"]), i == default)
            for i, d in enumerate(devices) if d["max_output_channels"] > 0]


def has_device(spec: str | int | None) -> bool:
    """Whether there is an output device to play to (the one ``spec`` names, when given)."""
    try:
        if spec:
            resolve_device(spec)
            return True
        return bool(output_devices())
    except DeviceError:
        return False


def resolve_device(spec: str | int | None) -> OutputDevice:
    """The output device an index or (part of a) name means; the default device for None."""
    devices = output_devices()
    if not devices:
        raise DeviceError(NO_DEVICE)
    if spec is None or spec == "":
        found = [d for d in devices if d.is_default] or devices[:1]
        return found[0]
    text = str(spec).strip()
    if text.isdigit():
        found = [d for d in devices if d.index == int(text)]
    else:
        found = [d for d in devices if d.name == text]
        found = found or [d for d in devices if text.lower() in d.name.lower()]
    if len(found) != 1:
        what = "no output device matches" if not found else f"{len(found)} output devices match"
        raise DeviceError(f"{what} {text!r}; see `dancer devices`")
    return found[0]


@dataclass(frozen=True)
class PlayerStatus:
    """A snapshot of playback, as heard (the device's latency taken into account)."""

    position: float
    length: float
    entry: int | None
    track: str
    phase: str
    paused: bool
    volume_db: float
    underruns: int
    finished: bool
    error: str | None


class Player:
    """Plays a `Timeline` on an output device.

    ``start`` is the timeline time to begin at; ``lead`` the seconds rendered ahead of the device.
    ``stream_factory(**kwargs)`` replaces ``sounddevice.OutputStream`` (tests drive `_callback`
    themselves). Use as a context manager, or call `start` and `close`.
    """

    def __init__(self, timeline: Timeline, *, device: str | int | None = None, latency: str | float = "high",
                 start: float = 0.0, lead: float = 0.3,
                 stream_factory: Callable[..., Any] | None = None) -> None:
        self._timeline = timeline
        self._device_spec = device
        self._latency = latency
        self._start_at = start
        self._lead = lead
        self._stream_factory = stream_factory
        self.device: OutputDevice | None = None
        self.mixer: Mixer | None = None
        self._stream: Any = None
        self._switch_interval: float | None = None
        self._stream_errors: tuple[type[BaseException], ...] = (ValueError, OSError)
        self._feeder: threading.Thread | None = None
        self._commands: queue.Queue = queue.Queue()
        self._done = threading.Event()
        self._stop_feeding = False
        self._error: str | None = None
        self._user_stopped = False
        self._quitting = False
        # Shared with the callback: written by one side each.
        self._written = 0
        self._read = 0
        self._ended = False
        self._drained = False
        self._gain = 1.0
        self._target = 1.0
        self._paused = False
        self._volume_db = 0.0
        self.underruns = 0
        self.device_xruns = 0
        self._timings = np.zeros(_TIMINGS)
        self._timing_frames = np.zeros(_TIMINGS, dtype=np.int64)
        self._calls = 0
        self._marks: deque[tuple[int, float]] = deque(maxlen=256)
        self._last_read_change = time.monotonic()
        self._last_read = 0

    @property
    def timeline(self) -> Timeline:
        """What is playing: the timeline given, at the device's rate, as re-planned since."""
        return self.mixer.timeline if self.mixer is not None else self._timeline

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the device, fill the buffer, start the stream and the feeder."""
        sd: Any = None
        if self._stream_factory is None:
            sd = import_sounddevice()
            self.device = resolve_device(self._device_spec)
            if self.device.channels < 2:
                raise DeviceError(f"{self.device.name}: has {self.device.channels} output channel; dancer "
                                  "plays stereo (pick another with --device)")
            self._timeline = self._timeline.with_sample_rate(self._pick_rate(sd))
        sr = self.timeline.sample_rate
        self.mixer = Mixer(self._timeline)
        if self._start_at > 0:
            # Starting mid-track from silence would click.
            self.mixer.seek(self._start_at, fade=START_FADE)
        self._capacity = max(2, math.ceil(self._lead * sr / QUANTUM)) * QUANTUM
        self._ring = np.zeros((self._capacity, 2), dtype=np.float32)
        # Two columns, not one broadcast: numpy allocates a temporary for in-place broadcasting.
        self._ramp_index = np.repeat(np.arange(1, _MAX_FRAMES + 1, dtype=np.float32)[:, None], 2, axis=1)
        self._scratch = np.zeros((_MAX_FRAMES, 2), dtype=np.float32)
        self._gain_step = 1.0 / (PAUSE_FADE * sr)
        self._marks.append((0, self.mixer.position))
        while self._capacity - (self._written - self._read) >= QUANTUM and not self.mixer.finished:
            self._render_one()
        self._stop_exc = sd.CallbackStop if sd is not None else _CallbackStop
        if sd is not None:
            self._stream_errors = (sd.PortAudioError, ValueError, OSError)
        kwargs: dict[str, Any] = {"samplerate": sr, "channels": 2, "dtype": "float32",
                                  "latency": self._latency, "callback": self._callback,
                                  "finished_callback": self._on_finished}
        if self.device is not None:
            kwargs["device"] = self.device.index
        try:
            self._stream = (self._stream_factory or sd.OutputStream)(**kwargs)
            self._stream.start()
        except self._stream_errors as exc:
            self.close()
            name = self.device.name if self.device else "the output device"
            raise DeviceError(f"cannot open {name} ({_reason(exc)}); pick another with --device (see "
                              "`dancer devices`) or use `dancer render PLAYLIST -o FILE.wav`") from None
        self._last_read_change = time.monotonic()
        # The callback needs the GIL: a shorter switch interval bounds how long the feeder or the
        # caller's thread can keep it waiting (default 5 ms, a large share of an 8 ms block).
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        self._feeder = threading.Thread(target=self._feed, name="dancer-feeder", daemon=True)
        self._feeder.start()

    def _pick_rate(self, sd: Any) -> int:
        sr = self.timeline.sample_rate
        assert self.device is not None
        try:
            sd.check_output_settings(device=self.device.index, channels=2, dtype="float32", samplerate=sr)
            return sr
        except (sd.PortAudioError, ValueError):  # the device does not do this rate: use its own
            return int(self.device.default_samplerate)

    def close(self) -> None:
        """Stop the stream and the feeder; safe to call more than once."""
        self._stop_feeding = True
        self._commands.put(("wake",))
        stream, self._stream = self._stream, None
        if stream is not None:
            # Closing a failed device can fail again; there is nothing left to save.
            with contextlib.suppress(*self._stream_errors):
                if not self._done.is_set():
                    stream.abort()
                stream.close()
        if self._feeder is not None and self._feeder is not threading.current_thread():
            self._feeder.join(timeout=2.0)
        if self.mixer is not None:
            self.mixer.close()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- controls --------------------------------------------------------------------------------

    def pause(self) -> None:
        self._commands.put(("pause",))

    def resume(self) -> None:
        self._commands.put(("resume",))

    def toggle_pause(self) -> None:
        self._commands.put(("toggle",))

    def next(self) -> None:
        self._commands.put(("skip", 1))

    def previous(self) -> None:
        self._commands.put(("skip", -1))

    def seek(self, seconds: float) -> None:
        """Jump ``seconds`` forward (or back) with a short crossfade."""
        self._commands.put(("seek", float(seconds)))

    def volume(self, delta_db: float) -> None:
        self._commands.put(("volume", float(delta_db)))

    def stop(self) -> None:
        """End playback now with a short fade (what quitting does)."""
        self._commands.put(("stop",))

    def add_voice(self, clip: VoiceClip) -> None:
        """Speak ``clip`` (timeline time, mono at the player's rate) over the music, ducking it.

        Hand clips over a few seconds ahead of their time. The loudness measurement happens here,
        in the caller's thread, so the feeder never stalls on it.
        """
        timeline = self.timeline
        self._commands.put(("voice", prepare_voice(clip, timeline.settings, timeline.sample_rate)))

    def set_voice_enabled(self, on: bool) -> None:
        """Mute (or unmute) voice clips that have not started yet."""
        self._commands.put(("voice_on", bool(on)))

    def replace_timeline(self, timeline: Timeline, *, from_time: float | None = None) -> None:
        """Continue with a re-planned ``timeline`` that agrees with the current one before ``from_time``.

        The switch happens after the audio already buffered (a fraction of a second), with a short
        crossfade; ``from_time`` is informative: edits that start sooner are smoothed, not cut.
        """
        self._commands.put(("timeline", timeline))

    # -- state -------------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until playback ends (or ``timeout``); True when it has."""
        return self._done.wait(timeout)

    def status(self) -> PlayerStatus:
        sr = self.timeline.sample_rate
        latency = 0.0
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(AttributeError, TypeError, *self._stream_errors):
                latency = float(stream.latency)
        heard = max(0, self._read - round(latency * sr))
        position = self._marks[0][1] if self._marks else 0.0
        for written, pos in reversed(list(self._marks)):
            if written <= heard:
                position = pos + (heard - written) / sr
                break
        mixer = self.mixer
        entry = mixer.entry_at(position) if mixer is not None else None
        entries = self.timeline.entries
        track = entries[entry].track.display if entry is not None and entry < len(entries) else ""
        return PlayerStatus(position=position, length=self.timeline.length, entry=entry, track=track,
                            phase=mixer.phase_at(position) if mixer is not None else "", paused=self._paused,
                            volume_db=self._volume_db, underruns=self.underruns, finished=self._done.is_set(),
                            error=self._error)

    def check(self) -> None:
        """Raise `DeviceError` if the device failed or stalled mid-play (the position is in the message)."""
        if self._error is None and not self._done.is_set() and not self._paused and self._stream is not None:
            read = self._read
            now = time.monotonic()
            if read != self._last_read:
                self._last_read, self._last_read_change = read, now
            elif now - self._last_read_change > STALL_SECONDS:
                self._error = "the audio device stopped asking for audio"
        if self._error is None and self._done.is_set() and not self._drained and not self._user_stopped:
            self._error = "the audio stream stopped unexpectedly"
        if self._error is not None:
            raise DeviceError(f"{self._error} at {clock(self.status().position)}")

    def callback_timings(self) -> tuple[np.ndarray, np.ndarray]:
        """Durations (s) and frame counts of the most recent callbacks (up to 65536)."""
        n = min(self._calls, _TIMINGS)
        return self._timings[:n].copy(), self._timing_frames[:n].copy()

    # -- the real-time side ------------------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        t0 = time.perf_counter()
        if status:
            self.device_xruns += 1
        g0, target = self._gain, self._target
        n = 0
        if g0 == 0.0 and target == 0.0:
            outdata.fill(0.0)
        else:
            avail = self._written - self._read
            n = min(frames, avail)
            cap = self._capacity
            r = self._read % cap
            first = min(n, cap - r)
            outdata[:first] = self._ring[r:r + first]
            if n > first:
                outdata[first:n] = self._ring[:n - first]
            if n < frames:
                outdata[n:].fill(0.0)
                if not self._ended:
                    self.underruns += 1
            self._read += n
            if g0 != target or g0 != 1.0:
                step = frames * self._gain_step
                g1 = min(target, g0 + step) if target > g0 else max(target, g0 - step)
                if g1 == g0:
                    outdata *= g0
                else:
                    ramp = self._scratch[:frames]
                    np.multiply(self._ramp_index[:frames], (g1 - g0) / frames, out=ramp)
                    ramp += g0
                    outdata *= ramp
                self._gain = g1
        i = self._calls % _TIMINGS
        self._timing_frames[i] = frames
        self._calls += 1
        drained = self._ended and self._written == self._read and n < frames
        stop = drained or (self._quitting and self._gain == 0.0)
        if stop:
            self._drained = True
        self._timings[i] = time.perf_counter() - t0
        if stop:
            raise self._stop_exc

    def _on_finished(self) -> None:
        self._done.set()

    # -- the feeder --------------------------------------------------------------------------------

    @property
    def _mixer(self) -> Mixer:
        assert self.mixer is not None, "start() first"
        return self.mixer

    def _render_one(self) -> None:
        block = self._mixer.render_block(QUANTUM)
        w = self._written % self._capacity
        self._ring[w:w + QUANTUM] = block
        self._written += QUANTUM
        self._marks.append((self._written, self._mixer.position))

    def _feed(self) -> None:
        idle = QUANTUM / self.timeline.sample_rate / 4
        try:
            while not self._stop_feeding:
                full = self._capacity - (self._written - self._read) < QUANTUM
                finished = self._mixer.finished
                try:
                    if full or finished:
                        command = self._commands.get(timeout=idle)
                    else:
                        command = self._commands.get_nowait()
                except queue.Empty:
                    command = None
                if command is not None:
                    self._apply(command)
                elif finished:
                    self._ended = True
                elif not full:
                    self._render_one()
        except Exception as exc:  # noqa: BLE001 - any failure must end playback with a message, not hang it
            self._error = f"playback failed ({_reason(exc)})"
            self._ended = True
            self._target = 0.0

    def _apply(self, command: tuple) -> None:
        kind = command[0]
        mixer = self._mixer
        if kind == "pause" or (kind == "toggle" and not self._paused):
            self._paused = True
            self._target = 0.0
        elif kind == "resume" or kind == "toggle":
            self._paused = False
            self._target = 10.0 ** (self._volume_db / 20.0)
        elif kind == "volume":
            lo, hi = VOLUME_RANGE_DB
            self._volume_db = min(max(self._volume_db + command[1], lo), hi)
            if not self._paused:
                self._target = 10.0 ** (self._volume_db / 20.0)
        elif kind == "skip" and not self._ended:
            mixer.skip(command[1])
        elif kind == "seek" and not self._ended:
            mixer.jump(mixer.cursor + command[1], fade=SEEK_FADE)
        elif kind == "voice":
            mixer.add_voice(command[1])
        elif kind == "voice_on":
            mixer.set_voice_enabled(command[1])
        elif kind == "timeline":
            mixer.replace_timeline(command[1])
        elif kind == "stop":
            self._user_stopped = True
            self._target = 0.0
            self._quitting = True


class _CallbackStop(Exception):
    """Stands in for ``sounddevice.CallbackStop`` when a test supplies the stream."""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
