import Foundation
import Testing

/// The mesh pre-shared key (PROTOCOL.md suites 3 and 4) with real processes.
@Suite(.serialized, .enabled(if: MeshChatBinary.isAvailable, "build the meshchat executable first (scripts/test does)"))
struct PreSharedKeyProcessTests {
    /// Writes a fresh key from `meshchat psk generate` to a private file.
    func keyFile(_ name: String) throws -> String {
        let generated = try runMeshChat(["psk", "generate"])
        #expect(generated.status == 0)
        let path = NSTemporaryDirectory() + "meshchat-\(name)-\(UUID().uuidString.prefix(8)).psk"
        FileManager.default.createFile(atPath: path, contents: Data(generated.stdout.utf8), attributes: [.posixPermissions: 0o600])
        return path
    }

    @Test func sameKeyLinksWithIKpsk2AndAnotherKeyFails() async throws {
        let shared = try keyFile("mesh"), other = try keyFile("other")
        let a = TestHome("a"), b = TestHome("b"), c = TestHome("c"), d = TestHome("d")
        let aKey = try a.initialize(name: "alice")
        let bKey = try b.initialize(name: "bob"), cKey = try c.initialize(name: "carol"), dKey = try d.initialize(name: "dave")
        for (name, key) in [("bob", bKey), ("carol", cKey), ("dave", dKey)] { try a.pin(name, key) }
        let nodeA = try NodeProcess(home: a, extraArguments: ["--psk-file", shared])
        let address = "127.0.0.1:\(try await nodeA.listenPort())"
        for home in [b, c, d] { try home.pin("alice", aKey, address) }

        let nodeB = try NodeProcess(home: b, extraArguments: ["--psk-file", shared])
        let up = try await nodeB.waitFor(event: "link-up", where: ["peer": "alice"])
        #expect(up["suite"] as? String == "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b")

        let nodeC = try NodeProcess(home: c, extraArguments: ["--psk-file", other])
        let failed = try await nodeC.waitFor(event: "handshake-failed", where: ["peer": "alice"])
        #expect((failed["reason"] as? String)?.contains("pre-shared keys may differ") == true)

        let nodeD = try NodeProcess(home: d) // no key at all
        try await nodeD.waitFor(event: "handshake-failed", where: ["peer": "alice"])
        #expect(!nodeC.allEvents.contains { $0["event"] as? String == "link-up" })
        #expect(!nodeD.allEvents.contains { $0["event"] as? String == "link-up" })
    }

    @Test func keyFileOthersCanReadIsRefused() throws {
        let path = try keyFile("open")
        chmod(path, 0o644)
        let a = TestHome("a")
        _ = try a.initialize(name: "alice")
        let result = try a.run(["start", "--json", "--listen", "127.0.0.1:0", "--psk-file", path], stdin: "")
        #expect(result.status != 0)
        #expect(result.stderr.contains("can be read by others"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
