"""A hostile audio corpus, generated from a seed: what each entry must become in a correct scan.

Public: `build_corpus`, `Specimen`, and the expectations `GOOD`, `BAD`, `EITHER`, `SKIPPED`, `IGNORED`:

- ``good``: analysed (a row without an error);
- ``bad``: reported as failed (a row with an error);
- ``either``: reported one way or the other (mutations that may or may not still decode);
- ``skipped``: in the scan's skipped list (FIFOs, devices, broken or looping symlinks);
- ``ignored``: not audio at all and never in the library (directories named ``x.mp3``).

Shared by `tests/robustness/` and `benchmarks/robustness.py` (with `hostile_scan` and `kills`),
so the benchmark measures exactly what the tests assert.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from synth import click_signal, write_audio

GOOD, BAD, EITHER, SKIPPED, IGNORED = "good", "bad", "either", "skipped", "ignored"
SECONDS = 3.0
RATE = 22050


@dataclass(frozen=True)
class Specimen:
    """One corpus entry: its path under the corpus root (bytes: names need not be UTF-8)."""

    name: bytes
    expect: str
    kind: str


# -- building ----------------------------------------------------------------------------------


class _Corpus:
    def __init__(self, root: Path, seed: int) -> None:
        self.root = os.fsencode(root)
        self.rng = np.random.default_rng(seed)
        self.items: list[Specimen] = []

    def path(self, name: bytes) -> bytes:
        return os.path.join(self.root, name)

    def add(self, name: bytes, expect: str, kind: str) -> bytes:
        self.items.append(Specimen(name, expect, kind))
        full = self.path(name)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    def write(self, name: bytes, data: bytes, expect: str, kind: str) -> None:
        with open(self.add(name, expect, kind), "wb") as f:
            f.write(data)

    def audio(self, name: bytes, y: np.ndarray, sr: int, expect: str, kind: str, **kwargs) -> None:
        write_audio(Path(os.fsdecode(self.add(name, expect, kind))), y, sr, **kwargs)


def _wav_header(*, fmt: int = 1, channels: int = 1, rate: int = RATE, bits: int = 16,
                data_size: int | None = None, riff_size: int | None = None, block_align: int | None = None,
                byte_rate: int | None = None,
                fmt_size: int = 16, frames: int = 0) -> bytes:
    align = channels * bits // 8 if block_align is None else block_align
    data_size = frames * max(align, 1) if data_size is None else data_size
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels & 0xFFFF, rate & 0xFFFFFFFF,
                            (rate * align if byte_rate is None else byte_rate) & 0xFFFFFFFF, align & 0xFFFF,
                            bits & 0xFFFF)
    riff = 4 + 8 + len(fmt_chunk) + 8 + data_size if riff_size is None else riff_size
    return (b"RIFF" + struct.pack("<I", riff & 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", fmt_size)
            + fmt_chunk + b"data" + struct.pack("<I", data_size & 0xFFFFFFFF))


def _pcm16(seconds: float = SECONDS, rate: int = RATE) -> bytes:
    y = click_signal(120, seconds, rate)[:, 0]
    return (y * 32767).astype("<i2").tobytes()


def _flip(data: bytes, rng: np.random.Generator, lo: int, hi: int, count: int) -> bytes:
    b = bytearray(data)
    hi = min(hi, len(b))
    for i in rng.integers(lo, hi, size=count):
        b[i] ^= int(rng.integers(1, 256))
    return bytes(b)


def _header_length(fmt: str, data: bytes) -> int:
    """Roughly where the codec's first audio frame starts: mutations before it hit the header."""
    return {"wav": 44, "flac": min(len(data) // 8, 8300), "ogg": min(len(data) // 6, 4500), "mp3": 600}[fmt]


def _aiff(frames_declared: int, rate_bytes: bytes, channels: int = 1) -> bytes:
    comm = struct.pack(">hIh", channels, frames_declared & 0xFFFFFFFF, 16) + rate_bytes
    body = _pcm16(1.0)[:4000]
    ssnd = struct.pack(">II", 0, 0) + body
    chunks = b"COMM" + struct.pack(">I", len(comm)) + comm + b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    return b"FORM" + struct.pack(">I", 4 + len(chunks)) + b"AIFF" + chunks


def build_corpus(root: Path, *, seed: int = 8, deny_reads: bool = False, with_ffmpeg: bool | None = None,
                 ) -> list[Specimen]:
    """Write the hostile corpus under ``root`` and return what each entry must become.

    ``deny_reads`` makes one good file and one folder unreadable (``chmod 000``): pass True only
    when the scan will run without root's read override (see `drop_read_override`), otherwise
    they are left readable and expected to be analysed.
    """
    c = _Corpus(root, seed)
    rng = c.rng
    clicks = click_signal(120, SECONDS, RATE)

    # Good originals of each soundfile format, then mutations of their bytes.
    originals: dict[str, bytes] = {}
    for fmt in ("wav", "flac", "ogg", "mp3"):
        name = f"good/base.{fmt}".encode()
        c.audio(name, clicks, RATE, GOOD, f"good {fmt}")
        with open(c.path(name), "rb") as f:
            originals[fmt] = f.read()
    for fmt, data in originals.items():
        head = _header_length(fmt, data)
        for cut in (1, 4, 8, 12, 16, 24, 36, 44, 100, 1000):
            cut = min(cut, len(data) - 1)
            expect = BAD if cut <= 44 else EITHER
            c.write(f"truncated/{fmt}-head-{cut}.{fmt}".encode(), data[:cut], expect,
                    f"truncated {fmt} header")
        for share in (0.25, 0.5, 0.75, 0.9, 0.99):
            c.write(f"truncated/{fmt}-{int(share * 100)}pct.{fmt}".encode(), data[:int(len(data) * share)],
                    EITHER, f"truncated {fmt} frames")
        for i in range(10):
            c.write(f"flipped/{fmt}-head-{i}.{fmt}".encode(), _flip(data, rng, 0, head, 1 + i % 4), EITHER,
                    f"byte-flipped {fmt} header")
        for i in range(8):
            c.write(f"flipped/{fmt}-frames-{i}.{fmt}".encode(), _flip(data, rng, head, len(data), 8 + 8 * i),
                    EITHER, f"byte-flipped {fmt} frames")
        for i, filler in enumerate((b"\0", b"\xff", None, b"\xff\xfb\x90\x00")):
            b = bytearray(data)
            start = int(rng.integers(head, max(head + 1, len(b) - 2048)))
            chunk = rng.bytes(2048) if filler is None else (filler * 2048)[:2048]
            b[start:start + 2048] = chunk
            c.write(f"overwritten/{fmt}-{i}.{fmt}".encode(), bytes(b), EITHER, f"overwritten {fmt} frames")

    # Empty files and noise under every extension dancer accepts.
    from dancer.decode import AUDIO_EXTENSIONS

    for ext in sorted(AUDIO_EXTENSIONS):
        c.write(f"empty/zero{ext}".encode(), b"", BAD, "0-byte file")
    for i, ext in enumerate((".wav", ".flac", ".ogg", ".mp3", ".aiff", ".opus", ".wav", ".mp3")):
        noise = rng.bytes(int(rng.integers(10, 40000)))
        c.write(f"noise/random-{i}{ext}".encode(), noise, EITHER, "random bytes")
    c.write(b"noise/text.wav", b"a shopping list, not audio\n" * 100, BAD, "text")
    c.write(b"noise/sync-words.mp3", b"\xff\xfb\x90\x64" * 20000, EITHER, "MPEG sync words only")
    c.write(b"noise/id3-huge.mp3", b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + bytes(200), BAD,
            "ID3 tag declaring 256 MB")
    c.write(b"noise/id3-only.mp3", b"ID3\x03\x00\x00\x00\x00\x01\x00" + bytes(128), BAD,
            "ID3 tag and nothing else")
    c.write(b"noise/flac-magic.flac", b"fLaC\x00\xff\xff\xff" + bytes(64), BAD, "FLAC block declaring 16 MB")
    c.write(b"noise/ogg-capture.ogg", b"OggS" + bytes(23) + rng.bytes(200), BAD, "Ogg page of garbage")

    # Crafted WAV headers: huge declared sizes, absurd rates, channel counts and sample formats.
    pcm = _pcm16()
    frames = len(pcm) // 2
    crafted: list[tuple[str, bytes, str]] = [
        ("data-4gb", _wav_header(data_size=0xFFFFFFFF) + pcm, EITHER),
        ("riff-4gb", _wav_header(riff_size=0xFFFFFFFF, frames=frames) + pcm, EITHER),
        ("data-2gb", _wav_header(data_size=0x7FFFFFFF) + pcm, EITHER),
        ("data-4gb-8k-8ch", _wav_header(data_size=0xFFFFFFF0, rate=8000, channels=8) + pcm, EITHER),
        ("data-0", _wav_header(data_size=0) + pcm, EITHER),
        ("no-data", _wav_header(frames=0)[:-8], BAD),
        ("rate-0", _wav_header(rate=0, frames=frames) + pcm, BAD),
        ("rate-1", _wav_header(rate=1, frames=frames) + pcm, BAD),
        ("rate-3999", _wav_header(rate=3999, frames=frames) + pcm, BAD),
        ("rate-400k", _wav_header(rate=400000, frames=frames) + pcm, BAD),
        ("rate-2e9", _wav_header(rate=2_000_000_000, frames=frames) + pcm, BAD),
        ("rate-max", _wav_header(rate=0xFFFFFFFF, frames=frames) + pcm, BAD),
        ("channels-0", _wav_header(channels=0, block_align=2, frames=frames) + pcm, BAD),
        ("channels-33", _wav_header(channels=33, frames=frames // 33) + pcm, BAD),
        ("channels-1024", _wav_header(channels=1024, frames=frames // 1024) + pcm, BAD),
        ("channels-65535", _wav_header(channels=65535, frames=0, data_size=len(pcm)) + pcm, BAD),
        ("bits-0", _wav_header(bits=0, block_align=2, frames=frames) + pcm, BAD),
        ("bits-7", _wav_header(bits=7, block_align=1, frames=frames) + pcm, EITHER),
        ("bits-64-int", _wav_header(bits=64, frames=frames // 4) + pcm, EITHER),
        ("bits-65535", _wav_header(bits=65535, block_align=2, frames=frames) + pcm, BAD),
        ("align-0", _wav_header(block_align=0, frames=frames, data_size=len(pcm)) + pcm, EITHER),
        ("align-65535", _wav_header(block_align=65535, data_size=len(pcm)) + pcm, EITHER),
        ("byterate-0", _wav_header(byte_rate=0, frames=frames) + pcm, EITHER),
        ("format-0", _wav_header(fmt=0, frames=frames) + pcm, BAD),
        ("format-adpcm", _wav_header(fmt=2, bits=4, block_align=256, data_size=len(pcm)) + pcm, EITHER),
        ("format-float16", _wav_header(fmt=3, frames=frames) + pcm, EITHER),
        ("format-mp3", _wav_header(fmt=0x55, data_size=len(pcm)) + pcm, EITHER),
        ("format-extensible-short", _wav_header(fmt=0xFFFE, frames=frames) + pcm, EITHER),
        ("fmt-size-huge", _wav_header(fmt_size=0xFFFFFFF0, frames=frames) + pcm, BAD),
        ("fmt-size-0", _wav_header(fmt_size=0, frames=frames) + pcm, BAD),
        ("huge-unknown-chunk", _wav_header(frames=0)[:36] + b"LIST" + struct.pack("<I", 0xFFFFFFF0) + pcm,
         BAD),
        ("many-tiny-chunks", _wav_header(frames=0)[:36] + b"junk\0\0\0\0" * 20000 + b"data"
         + struct.pack("<I", len(pcm)) + pcm, EITHER),
        ("rf64-huge", b"RF64\xff\xff\xff\xffWAVEds64" + struct.pack("<IQQQI", 28, 2**62, 2**62, 2**61, 0)
         + _wav_header(frames=frames)[12:] + pcm, EITHER),
        ("aiff-inside", _aiff(1000, b"\x40\x0d\xac\x44" + bytes(6)), EITHER),
    ]
    for name, data, expect in crafted:
        c.write(f"crafted/{name}.wav".encode(), data, expect, f"crafted wav header ({name})")
    bad_rates = (("rate-nan", b"\x7f\xff\xc0" + bytes(7)), ("rate-inf", b"\x7f\xff\x80" + bytes(7)),
                 ("rate-1e4000", b"\x7f\xfe\xff" + bytes(7)), ("rate-zero", bytes(10)))
    for name, rate_bytes in bad_rates:
        c.write(f"crafted/aiff-{name}.aiff".encode(), _aiff(0xFFFFFFFF, rate_bytes), BAD,
                f"crafted aiff ({name})")
    c.write(b"crafted/aiff-frames-4g.aiff", _aiff(0xFFFFFFFF, b"\x40\x0d\xac\x44" + bytes(6)), EITHER,
            "crafted aiff declaring 4 G frames")
    # A real 4 GB file (sparse: no disk used) whose honest header declares 13.5 hours.
    sparse = c.add(b"crafted/sparse-4gb.wav", BAD, "4 GB sparse wav (13.5 h)")
    with open(sparse, "wb") as f:
        f.write(_wav_header(rate=44100, data_size=0xFFFFFF00))
        f.truncate(44 + 0xFFFFFF00)

    # Tiny, non-finite and extreme signals.
    one = np.array([[0.5]], np.float32)
    for ext in ("wav", "flac", "ogg", "mp3"):
        c.audio(f"tiny/one-sample.{ext}".encode(), one, RATE, BAD, "one sample")
    c.audio(b"tiny/one-second.wav", click_signal(120, 1.0, RATE), RATE, BAD, "one second")
    for name, fill in (("all-nan", np.nan), ("all-inf", np.inf), ("all-neg-inf", -np.inf)):
        c.audio(f"nonfinite/{name}.wav".encode(), np.full_like(clicks, fill), RATE, BAD, name,
                subtype="FLOAT")
    mostly = clicks.copy()
    mostly[: int(len(mostly) * 0.7)] = np.nan
    c.audio(b"nonfinite/mostly-nan.wav", mostly, RATE, BAD, "70% NaN", subtype="FLOAT")
    sprinkled = clicks.copy()
    sprinkled[rng.integers(0, len(sprinkled), size=50)] = np.nan
    sprinkled[rng.integers(0, len(sprinkled), size=50)] = np.inf
    c.audio(b"nonfinite/sprinkled-nan-inf.wav", sprinkled, RATE, GOOD, "a few NaN/inf samples",
            subtype="FLOAT")
    c.audio(b"nonfinite/nan-double.wav", np.full_like(clicks, np.nan), RATE, BAD, "NaN doubles",
            subtype="DOUBLE")
    c.audio(b"extreme/huge-floats.wav", clicks * 1e30, RATE, EITHER, "samples of 1e30", subtype="FLOAT")
    c.audio(b"extreme/denormal.wav", clicks * 1e-40, RATE, BAD, "denormal samples", subtype="FLOAT")
    c.audio(b"extreme/silence.flac", np.zeros_like(clicks), RATE, BAD, "digital silence")
    c.audio(b"extreme/dc.wav", np.full_like(clicks, 0.5), RATE, EITHER, "DC offset only")
    c.audio(b"extreme/noise.wav", (rng.standard_normal(clicks.shape) * 0.3).astype(np.float32), RATE, GOOD,
            "white noise")
    c.audio(b"extreme/clipped.wav", np.sign(clicks) * 1.0, RATE, GOOD, "full-scale square clicks")

    # Rates and channel counts at and beyond the edges.
    edges = ((8000, 1, "wav", GOOD), (4000, 1, "wav", GOOD), (192000, 2, "wav", GOOD),
             (192000, 1, "flac", GOOD), (96000, 2, "flac", GOOD), (48000, 8, "wav", GOOD),
             (48000, 8, "flac", GOOD), (22050, 8, "ogg", GOOD), (8000, 32, "wav", GOOD),
             (8000, 33, "wav", BAD), (384000, 1, "wav", GOOD), (8000, 1, "mp3", GOOD))
    for rate, channels, ext, expect in edges:
        y = click_signal(120, SECONDS, rate, channels=channels)
        c.audio(f"formats/{rate}hz-{channels}ch.{ext}".encode(), y, rate, expect,
                f"{rate} Hz {channels} ch {ext}")
    c.write(b"formats/flac-named.wav", originals["flac"], GOOD, "FLAC content with a .wav name")
    c.write(b"formats/UPPER.WAV", originals["wav"], GOOD, "upper-case extension")

    # Names: not UTF-8, control characters, shell metacharacters, very long, NFC and NFD.
    for name in (b"names/\xff\xfe.wav", b"names/caf\xe9.flac", b"names/\x80\x81 dir/inner.wav",
                 b"names/new\nline.wav", b"names/-rf.wav", b"names/quote'\"$(x) `y`.wav",
                 b"names/" + b"l" * 240 + b".wav", "names/café-nfc.wav".encode(),
                 "names/cafe\u0301-nfd.wav".encode(), "names/\U0001f483.ogg".encode(),
                 b"names/tab\there.mp3"):
        ext = name.rsplit(b".", 1)[1].decode()
        c.write(name, originals[ext], GOOD, "awkward name")
    c.write(b"names/bad-\xff\xfe.mp3", b"ID3" + bytes(300), BAD, "bad file with a non-UTF-8 name")
    c.write(b"names/.hidden.wav", originals["wav"], IGNORED, "hidden file")

    # File-system objects that are not regular files.
    os.makedirs(c.add(b"fs/folder.mp3", IGNORED, "directory named x.mp3"))
    c.write(b"fs/folder.mp3/inside.flac", originals["flac"], GOOD, "file inside a directory named x.mp3")
    os.makedirs(c.add(b"fs/empty.wav", IGNORED, "empty directory named x.wav"))
    os.mkfifo(c.add(b"fs/pipe.wav", SKIPPED, "FIFO"))
    os.mkfifo(c.add(b"fs/pipe.mp3", SKIPPED, "FIFO"))
    os.symlink(b".", c.add(b"fs/loop", IGNORED, "symlink loop to its own folder"))
    os.symlink(b"..", c.add(b"fs/up", IGNORED, "symlink to the parent folder"))
    os.symlink(b"self.wav", c.add(b"fs/self.wav", SKIPPED, "symlink to itself"))
    os.symlink(b"ping.flac", c.add(b"fs/pong.flac", SKIPPED, "symlink ring"))
    os.symlink(b"pong.flac", c.add(b"fs/ping.flac", SKIPPED, "symlink ring"))
    os.symlink(b"nowhere.ogg", c.add(b"fs/dangling.ogg", SKIPPED, "dangling symlink"))
    os.symlink(b"/dev/zero", c.add(b"fs/zero.wav", SKIPPED, "symlink to /dev/zero"))
    os.symlink(b"/dev/urandom", c.add(b"fs/urandom.mp3", SKIPPED, "symlink to /dev/urandom"))
    os.symlink(b"../good/base.wav", c.add(b"fs/link.wav", GOOD, "symlink to a good file"))
    os.link(c.path(b"good/base.flac"), c.add(b"fs/hardlink.flac", GOOD, "hard link to a good file"))
    sock_target = c.add(b"fs/socket.wav", SKIPPED, "Unix socket")
    with tempfile.TemporaryDirectory() as short:
        # AF_UNIX paths are limited to ~107 bytes: bind somewhere short, then move it in.
        s = socket.socket(socket.AF_UNIX)
        try:
            s.bind(os.path.join(short, "s"))
            os.rename(os.path.join(short, "s"), sock_target)
        finally:
            s.close()
    unreadable = b"fs/unreadable.wav"
    c.write(unreadable, originals["wav"], BAD if deny_reads else GOOD, "unreadable file (chmod 000)")
    locked = b"fs/locked-folder"
    c.write(locked + b"/inside.wav", originals["wav"], IGNORED if deny_reads else GOOD,
            "file in an unreadable folder")
    c.items.append(Specimen(locked, SKIPPED if deny_reads else IGNORED, "unreadable folder (chmod 000)"))
    os.chmod(c.path(unreadable), 0)
    os.chmod(c.path(locked), 0)

    # m4a/aac go through ffmpeg: a good file, truncations, flips and noise.
    if with_ffmpeg is None:
        with_ffmpeg = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
    if with_ffmpeg:
        m4a = c.add(b"ffmpeg/good.m4a", GOOD, "good m4a")
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", c.path(b"good/base.wav"),
                        "-c:a", "aac", "-b:a", "64k", m4a], check=True, timeout=60)
        with open(m4a, "rb") as f:
            data = f.read()
        for share in (0.02, 0.5, 0.9):
            c.write(f"ffmpeg/cut-{int(share * 100)}.m4a".encode(), data[:int(len(data) * share)], EITHER,
                    "truncated m4a")
        for i in range(3):
            c.write(f"ffmpeg/flip-{i}.m4a".encode(), _flip(data, rng, 0, 64, 2), EITHER,
                    "byte-flipped m4a header")
        c.write(b"ffmpeg/random.aac", rng.bytes(5000), EITHER, "random bytes as aac")
    return c.items


