#!/usr/bin/env bash
# prebuildify's --node-gyp stand-in: prebuildify calls `node-gyp rebuild --target=... ...`; this
# addon builds with cmake-js (CMakeLists.txt), into build/Release where prebuildify collects it.
# prebuildify then strips that file in place and moves it into prebuilds/. So the addon it gets is
# a copy (a new inode): a process that has build/Release's addon loaded (a test run, a training
# job) keeps its mapped file intact (stripping it in place crashes such a process with SIGSEGV),
# and the original, kept under a second name, is renamed back by `prebuild_gyp.sh --restore`
# once prebuildify is done (atomic; the build stays up to date, nothing relinks).
set -euo pipefail
cd "$(dirname "$0")/.."
addon=build/Release/autospeech.node
if [ "${1:-}" = "--restore" ]; then
  if [ -f "$addon.keep" ]; then mv -f "$addon.keep" "$addon"; fi
  exit 0
fi
node "$(node -p "require.resolve('cmake-js/bin/cmake-js')")" compile --out build --log-level error
ln -f "$addon" "$addon.keep"
cp -p "$addon" "$addon.tmp.$$"
mv -f "$addon.tmp.$$" "$addon"
