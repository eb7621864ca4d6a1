#!/usr/bin/env bash
# prebuildify's --node-gyp stand-in: prebuildify calls `node-gyp rebuild --target=... ...`; this
# addon builds with cmake-js (CMakeLists.txt), into build/Release where prebuildify collects it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node "$(node -p "require.resolve('cmake-js/bin/cmake-js')")" compile --out build --log-level error
