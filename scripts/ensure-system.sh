#!/usr/bin/env bash
# Install the programs filterfit drives (ImageMagick, GraphicsMagick, G'MIC, RawTherapee, darktable, GIMP) when
# they are missing, plus what `python3 -m venv` needs on Debian, the tests' Chromium, and PostgreSQL's server
# programs (initdb, pg_ctl) that the tests of shared studies start on loopback. Prints nothing when everything is already there.
set -euo pipefail

missing=()

# Some machines put a stand-in `convert` on PATH ahead of the real one, so "on PATH" proves nothing:
# the real ImageMagick is /usr/bin/NAME, or a NAME whose -version says ImageMagick (Homebrew, /usr/local).
imagemagick() {
    [ -x "/usr/bin/$1" ] || { command -v "$1" >/dev/null 2>&1 && "$1" -version 2>/dev/null | grep -q ImageMagick; }
}

if ! imagemagick convert || ! imagemagick compare; then missing+=(imagemagick); fi
if ! command -v gm >/dev/null 2>&1; then missing+=(graphicsmagick); fi
if ! command -v gmic >/dev/null 2>&1; then missing+=(gmic); fi
# Debian keeps initdb and pg_ctl off PATH, in /usr/lib/postgresql/VERSION/bin.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi

if [ "$(uname -s)" = Darwin ]; then
    if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
    echo "filterfit needs ${missing[*]}; install them with:" >&2
    echo "    brew install ${missing[*]}" >&2
    exit 1
fi

# RawTherapee: the photo editor the tests drive through a settings file (a .pp3 profile). Debian's package;
# on macOS it is a cask (brew install --cask rawtherapee), and the tests that need it skip without it.
if ! command -v rawtherapee-cli >/dev/null 2>&1; then missing+=(rawtherapee); fi
# darktable: the second photo editor (--editor darktable, an .xmp sidecar); darktable-cli is in Debian's package.
if ! command -v darktable-cli >/dev/null 2>&1; then missing+=(darktable); fi
# GIMP: the third editor (--editor gimp, a Script-Fu script); gimp-console is in Debian's package.
if ! command -v gimp-console >/dev/null 2>&1; then missing+=(gimp); fi
# The report's test opens report.html in real headless Chromium (Debian's package; no browser download).
if ! command -v chromium >/dev/null 2>&1; then missing+=(chromium); fi

# Debian's python3 can run venv only with python3-venv (it carries ensurepip's wheels).
if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
elif ! python3 -m ensurepip --version >/dev/null 2>&1; then
    missing+=(python3-venv)
fi

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "filterfit needs ${missing[*]}; this system has no apt-get: install them with its package manager" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "filterfit needs ${missing[*]}, and installing them needs root; run:" >&2
    echo "    sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "installing ${missing[*]} from apt" >&2
# env: sudo drops the caller's environment
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
