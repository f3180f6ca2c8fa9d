#!/usr/bin/env bash
# Builds the core for Android and generates its Kotlin bindings, for the Gradle module here:
#   src/main/jniLibs/<abi>/libroger_ffi.so   (arm64-v8a, armeabi-v7a, x86_64; release, stripped)
#   src/generated/kotlin/                    (the UniFFI bindings with android = true)
# Needs the Android NDK (ANDROID_NDK_HOME, or found by cargo-ndk), cargo-ndk
# (`cargo install cargo-ndk`) and the targets:
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
# Usage: android/build-rust.sh
#   ROGER_FFI_FEATURES   cargo features of roger-ffi (default: none, as shipped)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
features="${ROGER_FFI_FEATURES-}"

cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o android/src/main/jniLibs \
  build -p roger-ffi --lib --release --locked ${features:+--features "$features"}

# The bindings come from the library itself. cargo-ndk strips the copies in jniLibs; the one
# cargo left under target/ keeps the symbols the generator reads (release strips debug info only).
cargo build -p uniffi-bindgen --bin uniffi-bindgen --locked
rm -rf android/src/generated/kotlin
target/debug/uniffi-bindgen generate target/aarch64-linux-android/release/libroger_ffi.so \
  --language kotlin --config android/uniffi-android.toml --out-dir android/src/generated/kotlin --no-format
echo "Android libraries in android/src/main/jniLibs, bindings in android/src/generated/kotlin"
