// swift-tools-version:6.0
// libFuzzer targets for MeshChat's parsers and pure state machines (docs/fuzzing.md).
//
// A package of its own, so the fuzz build (release, -sanitize=fuzzer,address) never touches the
// main build. It compiles only pure modules, through symlinks into ../Sources: MeshCrypto,
// MeshNoise, MeshWire, MeshGossip, and from MeshNode just the three files without NIO
// (TrustedPeers, HostPort, LinkHandshake, SafeFileName) as a module of the same name, so the harness reads
// the same in the fuzzer and in Tests/MeshNodeTests. Build and run with `scripts/fuzz`.
import PackageDescription

/// One executable per target in FuzzHarness.FuzzTarget; the name is `fuzz-` + the corpus folder name.
let fuzzTargets = [
    "frame-decoder", "handshake-responder", "plaintext-dispatch", "envelope", "sync-messages", "trusted-peers",
    "file-messages",
]

let package = Package(
    name: "MeshChatFuzz",
    targets: [
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium"),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto"),
        .target(name: "MeshCrypto", dependencies: ["CSodium", "COpenSSL"]),
        .target(name: "MeshNoise", dependencies: ["MeshCrypto"]),
        .target(name: "MeshWire", dependencies: ["MeshCrypto"]),
        .target(name: "MeshGossip", dependencies: ["MeshWire", "MeshCrypto"]),
        .target(name: "MeshNode", dependencies: ["MeshCrypto", "MeshNoise", "MeshWire"], path: "Sources/MeshNodePure"),
        .target(name: "FuzzHarness", dependencies: ["MeshCrypto", "MeshNoise", "MeshWire", "MeshGossip", "MeshNode"]),
    ] + fuzzTargets.map { name in
        .executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzHarness"], path: "Targets/\(name)")
    }
)
