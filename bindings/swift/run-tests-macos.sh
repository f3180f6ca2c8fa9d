#!/usr/bin/env bash
# Runs the Swift XCTest suite on a Mac (Xcode 15 or newer): builds the host library with the
# test features and the reference cloud, generates the Swift bindings into this package, then
# `swift test`. Not run by the workspace's test command (no Swift compiler there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
./scripts/bindgen
cargo build -p roger-sim --bin roger-sim --locked
cp target/bindings/swift/RogerCore.swift "$here/Sources/RogerCore/RogerCore.swift"
mkdir -p "$here/Sources/RogerCoreFFI"
cp target/bindings/swift/RogerCoreFFI.h "$here/Sources/RogerCoreFFI/RogerCoreFFI.h"
cat > "$here/Sources/RogerCoreFFI/module.modulemap" <<'MAP'
module RogerCoreFFI {
    header "RogerCoreFFI.h"
    link "roger_ffi"
    export *
}
MAP
cd "$here"
ROGER_FFI_LIB_DIR="$root/target/debug" ROGER_SIM="$root/target/debug/roger-sim" swift test "$@"
