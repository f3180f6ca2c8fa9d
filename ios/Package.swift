// swift-tools-version:5.9
// The Roger core for iOS apps: the core as an XCFramework (RogerCoreFFI, static libraries for
// devices and the simulator), the generated RogerCore Swift with the Swift layer shared with
// macOS development (bindings/swift), and the iOS pieces here (Keychain secure store,
// camera-frame adapter). `build-xcframework.sh` builds the XCFramework and copies the Swift
// into Sources/RogerCore/Generated first.
import PackageDescription

let package = Package(
    name: "RogerCore",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "RogerCore", targets: ["RogerCore"]),
    ],
    targets: [
        .binaryTarget(name: "RogerCoreFFI", path: "RogerCoreFFI.xcframework"),
        .target(
            name: "RogerCore",
            dependencies: ["RogerCoreFFI"],
            path: "Sources/RogerCore",
            linkerSettings: [
                // The static library does not carry its system dependencies: the core's Keychain
                // backend (apple-native-keyring-store) calls Security and CoreFoundation.
                .linkedFramework("Security"),
                .linkedFramework("CoreFoundation"),
            ]
        ),
        .testTarget(
            name: "RogerCoreShellTests",
            dependencies: ["RogerCore"],
            path: "Tests/RogerCoreShellTests"
        ),
    ]
)
