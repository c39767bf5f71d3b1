#!/usr/bin/env bash
# Install the system libraries dancer needs, or say how to.
# Debian/Ubuntu as root: apt-get installs what is missing. Elsewhere: prints the one command to run.
set -euo pipefail

DEB_PACKAGES=(libportaudio2 ffmpeg espeak-ng mpv)
[[ "${1:-}" == "--bench" ]] && DEB_PACKAGES+=(fluidsynth fluid-soundfont-gm fretsonfire-songs-muldjord fretsonfire-songs-sectoid lmms openttd-openmsx wesnoth-1.16-music hydrogen hydrogen-data hydrogen-drumkits mma sonic-pi-samples)

if [[ "$(uname -s)" == "Darwin" ]]; then
    command -v brew >/dev/null || { echo "dancer: install Homebrew, then: brew install portaudio ffmpeg espeak-ng mpv"; exit 0; }
    for p in portaudio ffmpeg espeak-ng mpv; do brew list "$p" >/dev/null 2>&1 || brew install "$p"; done
    exit 0
fi

if ! command -v dpkg >/dev/null; then
    echo "dancer: not a Debian-like system; install PortAudio, ffmpeg, espeak-ng and mpv with your package manager."
    exit 0
fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "dancer: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "dancer: missing system packages; run:  sudo apt-get install -y ${missing[*]}"
    exit 1
fi
