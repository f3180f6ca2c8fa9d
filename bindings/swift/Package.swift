// swift-tools-version:5.9
// The Roger core's Swift API for macOS development and its XCTest suite against the reference
// cloud. `run-tests-macos.sh` generates the bindings into Sources/ and builds the host library
// first; apps on iOS use the package in `ios/` with the XCFramework instead.
import Foundation
import PackageDescription

// Where the host library (libroger_ffi.dylib) was built; set by run-tests-macos.sh.
let libraryDir = ProcessInfo.processInfo.environment["ROGER_FFI_LIB_DIR"] ?? "../../target/debug"

let package = Package(
    name: "RogerCore",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "RogerCore", targets: ["RogerCore"]),
    ],
    targets: [
        // The C declarations of the library (RogerCoreFFI.h and its module map, generated).
        .systemLibrary(name: "RogerCoreFFI", path: "Sources/RogerCoreFFI"),
        // The generated RogerCore.swift plus the hand-written Swift layer.
        .target(
            name: "RogerCore",
            dependencies: ["RogerCoreFFI"],
            path: "Sources/RogerCore",
            linkerSettings: [
                .linkedLibrary("roger_ffi"),
                .unsafeFlags(["-L", libraryDir, "-Xlinker", "-rpath", "-Xlinker", libraryDir]),
            ]
        ),
        .testTarget(
            name: "RogerCoreTests",
            dependencies: ["RogerCore"],
            path: "Tests/RogerCoreTests"
        ),
    ]
)
