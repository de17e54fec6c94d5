// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MeshChat",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "meshchat", targets: ["meshchat"]),
        .executable(name: "meshchat-bench", targets: ["MeshBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // glibc's <malloc.h> for `meshchat start`'s malloc settings (Sources/meshchat/MallocSettings.swift).
        .systemLibrary(name: "CMalloc"),
        .target(name: "MeshCrypto", dependencies: ["CSodium", "COpenSSL"]),
        .target(name: "MeshNoise", dependencies: ["MeshCrypto"]),
        .target(name: "MeshWire", dependencies: ["MeshCrypto"]),
        .target(name: "MeshGossip", dependencies: ["MeshWire", "MeshCrypto"]),
        .target(name: "MeshStore", dependencies: [
            "MeshWire", "MeshCrypto", "MeshGossip",
            .product(name: "GRDB", package: "GRDB.swift"),
            // The raw connection's WAL hook (WALCheckpointer), which GRDB does not wrap.
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            // A lock ThreadSanitizer sees (WALCheckpointer); only NIO's locks, not its event loops.
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .target(name: "MeshChatUI", dependencies: ["MeshWire"]),
        .target(name: "MeshNode", dependencies: [
            "MeshCrypto", "MeshNoise", "MeshWire", "MeshGossip", "MeshStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // What the bench, the load test and the tests share (loopback socket, hand-driven wire client,
        // `meshchat start --json` driver, monotonic clock); a plain target, not shipped.
        .target(name: "MeshHarness", dependencies: ["MeshNode", "MeshNoise", "MeshWire", "MeshCrypto"]),
        .executableTarget(name: "meshchat", dependencies: [
            "MeshNode", "MeshChatUI", "MeshWire", "MeshCrypto", "MeshStore",
            .target(name: "CMalloc", condition: .when(platforms: [.linux])),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The load test's driver and attacker (scripts/load); not shipped with the node.
        .executableTarget(name: "meshchat-load", dependencies: [
            "MeshHarness", "MeshNode", "MeshWire", "MeshCrypto",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Benchmarks live apart from tests: they print figures and assert nothing about speed.
        .executableTarget(name: "MeshBench", dependencies: [
            "MeshHarness", "MeshNode", "MeshWire", "MeshCrypto", "MeshStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "MeshBenchTests", dependencies: ["MeshBench"]),
        .testTarget(name: "MeshCryptoTests", dependencies: ["MeshCrypto"]),
        .testTarget(name: "MeshNoiseTests", dependencies: ["MeshNoise", "MeshCrypto"]),
        .testTarget(name: "MeshWireTests", dependencies: ["MeshWire", "MeshCrypto"]),
        .testTarget(name: "MeshGossipTests", dependencies: ["MeshGossip", "MeshWire", "MeshCrypto"]),
        .testTarget(name: "MeshChatUITests", dependencies: ["MeshChatUI"]),
        .testTarget(name: "MeshStoreTests", dependencies: [
            "MeshStore", "MeshGossip", "MeshWire", "MeshCrypto",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "MeshNodeTests", dependencies: [
            "MeshNode", "MeshHarness", "MeshNoise", "MeshWire", "MeshCrypto", "MeshGossip", "MeshStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
    ]
)
