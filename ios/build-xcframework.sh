#!/usr/bin/env bash
# Builds the core for iOS and prepares the Swift package here (on a Mac with Xcode 15 or newer):
#   RogerCoreFFI.xcframework           static libraries: ios-arm64 (devices) and
#                                      ios-arm64_x86_64-simulator (lipo of both simulator slices),
#                                      each with RogerCoreFFI.h and its module map
#   Sources/RogerCore/Generated/       the generated RogerCore.swift and the shared Swift layer
#                                      (bindings/swift/Sources/RogerCore)
# Needs: rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
# Usage: ios/build-xcframework.sh
#   ROGER_FFI_FEATURES   cargo features of roger-ffi (default: none, as shipped)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
features="${ROGER_FFI_FEATURES-}"
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)

for target in "${targets[@]}"; do
  cargo build -p roger-ffi --lib --release --locked --target "$target" ${features:+--features "$features"}
done

work=target/ios-xcframework
rm -rf "$work"
mkdir -p "$work/device" "$work/simulator" "$work/headers" "$work/swift"
cp target/aarch64-apple-ios/release/libroger_ffi.a "$work/device/libroger_ffi.a"
lipo -create \
  target/aarch64-apple-ios-sim/release/libroger_ffi.a \
  target/x86_64-apple-ios/release/libroger_ffi.a \
  -output "$work/simulator/libroger_ffi.a"

# The Swift and the C header come from the same sources and features, read from a host build
# (the generator needs a library with its symbols; the static archives are not what it reads).
cargo build -p roger-ffi --lib --release --locked ${features:+--features "$features"}
cargo build -p uniffi-bindgen --bin uniffi-bindgen --locked
target/debug/uniffi-bindgen generate target/release/libroger_ffi.dylib \
  --language swift --out-dir "$work/swift" --no-format
cp "$work/swift/RogerCoreFFI.h" "$work/headers/RogerCoreFFI.h"
cp "$work/swift/RogerCoreFFI.modulemap" "$work/headers/module.modulemap"

rm -rf "$here/RogerCoreFFI.xcframework"
xcodebuild -create-xcframework \
  -library "$work/device/libroger_ffi.a" -headers "$work/headers" \
  -library "$work/simulator/libroger_ffi.a" -headers "$work/headers" \
  -output "$here/RogerCoreFFI.xcframework"

generated="$here/Sources/RogerCore/Generated"
rm -rf "$generated"
mkdir -p "$generated"
cp "$work/swift/RogerCore.swift" "$generated/RogerCore.swift"
cp bindings/swift/Sources/RogerCore/Roger.swift bindings/swift/Sources/RogerCore/Events.swift \
  bindings/swift/Sources/RogerCore/Transfers.swift "$generated/"
echo "ios/RogerCoreFFI.xcframework and ios/Sources/RogerCore/Generated are ready"
