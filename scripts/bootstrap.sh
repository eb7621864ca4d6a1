#!/usr/bin/env bash
# Sets up everything autospeech needs on a fresh Debian 12 machine, and is cheap to re-run:
# system packages (libtorch-dev unless LIBTORCH/Torch_DIR points elsewhere, build tools, audio
# tools for the demo data), npm dependencies, and the native addon build.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# ---- 1. system packages -------------------------------------------------------------------
# Speech synthesis (espeak-ng, flite, festival + two diphone voices) and sox generate the built-in
# demo speakers (lib/data/demo.ts); librsvg2-bin renders cell
# drawings to PNG; python3-torch (the same libtorch build) checks .pth exports and runs the benchmarks.
# ffmpeg decodes the recorded voices of `demo-data --real` (Ogg Vorbis, G.722).
PACKAGES=(cmake g++ make pkg-config espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k sox ffmpeg librsvg2-bin python3-torch python3-numpy)
# An installed package (npm install autospeech: no package-lock.json, its dependencies installed by
# the consumer's npm) only rebuilds the addon from source: the build tools and libtorch.
INSTALLED=0
if [ ! -f package-lock.json ]; then INSTALLED=1; PACKAGES=(cmake g++ make); fi

if [ -z "${LIBTORCH:-}" ] && [ -z "${Torch_DIR:-}" ]; then
  # libgloo-dev: the Gloo headers ProcessGroupGloo.hpp includes (data-parallel training)
  PACKAGES+=(libtorch-dev libgloo-dev)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    log "missing system packages: ${missing[*]} (install them, or set LIBTORCH=/path/to/libtorch)"; exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- 2. npm dependencies (re-installed only when the lock file changed) ---------------------
lock_hash=$([ "$INSTALLED" = 1 ] || sha256sum package-lock.json | cut -d' ' -f1)
if [ "$INSTALLED" = 1 ]; then
  log "installed package: npm dependencies are the installing project's"
elif [ ! -d node_modules ] || [ "$(cat node_modules/.autospeech-lock 2>/dev/null)" != "$lock_hash" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.autospeech-lock
fi

# ---- 3. native addon (incremental) ----------------------------------------------------------
mkdir -p build
log "building the native addon"
# The log lives outside build/: a fresh configure by cmake-js empties that directory.
build_log="$(mktemp "${TMPDIR:-/tmp}/autospeech-build.XXXXXX.log")"
node "$(node -p "require.resolve('cmake-js/bin/cmake-js')")" compile --out build --log-level error >"$build_log" 2>&1 || {
  if grep -qiE 'error' "$build_log"; then grep -iE 'error' "$build_log" | head -40 >&2; else tail -50 "$build_log" >&2; fi
  log "native build failed (full log: $build_log)"; exit 1; }
rm -f "$build_log"
log "ready"
