import Foundation
import MeshCrypto
import Testing

/// "Key file and control socket permissions checked at start; a test that greps logs and errors
/// for key material finds none." Real nodes, run with `--verbose`, through links, room and direct
/// messages, a mesh pre-shared key, a netcat bridge and a series of failures; everything they and
/// the command line say is then searched for every secret involved.
@Suite(.serialized, .enabled(if: MeshChatBinary.isAvailable, "build the meshchat executable first (scripts/test does)"))
struct SecretsProcessTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Every form in which `home`'s identity could leak: the file's text, its seed part, both in
    /// hex, and the X25519 secret derived from it (the Noise static key), in base64 and hex.
    static func identitySecrets(_ home: TestHome, _ name: String) throws -> [(label: String, text: String)] {
        let text = try String(contentsOfFile: home.path + "/identity", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let raw = try #require(Base64.decodeCanonical(text))
        let key = try SigningPrivateKey(rawRepresentation: SecureBytes(raw))
        let x25519 = key.keyAgreementKey().rawRepresentation.unsafeBytes
        let seed = Array(raw.prefix(32))
        return [
            ("\(name)'s identity file", text),
            ("\(name)'s seed, base64 (first 40 characters, bytes 0-29)", String(text.prefix(40))),
            ("\(name)'s secret key, hex", hex(raw)),
            ("\(name)'s seed, hex", hex(seed)),
            ("\(name)'s seed, HEX", hex(seed).uppercased()),
            ("\(name)'s X25519 secret, base64", Base64.encode(x25519)),
            ("\(name)'s X25519 secret, hex", hex(x25519)),
            ("\(name)'s X25519 secret, HEX", hex(x25519).uppercased()),
        ]
    }

    /// A pre-shared key file's secrets: its text and the key in hex.
    static func pskSecrets(_ path: String, _ label: String) throws -> [(label: String, text: String)] {
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let raw = try #require(Base64.decodeCanonical(text))
        return [(label, text), ("\(label), hex", hex(raw)), ("\(label), HEX", hex(raw).uppercased())]
    }

    static func pskFile(mode: mode_t = 0o600) throws -> String {
        let generated = try runMeshChat(["psk", "generate"])
        let path = NSTemporaryDirectory() + "meshchat-secrets-\(UUID().uuidString.prefix(8)).psk"
        FileManager.default.createFile(atPath: path, contents: Data(generated.stdout.utf8), attributes: [.posixPermissions: Int(mode)])
        return path
    }

    /// Every string value in an event, nested ones included: what the node said, as it said it.
    static func strings(in value: Any) -> [String] {
        switch value {
        case let text as String: [text]
        case let object as [String: Any]: object.values.flatMap(strings)
        case let array as [Any]: array.flatMap(strings)
        default: []
        }
    }

    static func said(by node: NodeProcess) -> String {
        (node.allEvents.flatMap { strings(in: $0) } + [node.stderr]).joined(separator: "\n")
    }

    @Test func nothingANodeOrTheCommandLineSaysContainsKeyMaterial() async throws {
        let psk = try Self.pskFile(), otherPsk = try Self.pskFile()
        let netcatPassphrase = "hunter2 netcat password"
        let a = TestHome("a"), b = TestHome("b"), c = TestHome("c"), s = TestHome("s")
        let aKey = try a.initialize(name: "alice"), bKey = try b.initialize(name: "bob")
        let cKey = try c.initialize(name: "carol")
        _ = try s.initialize(name: "stranger")
        var said: [String] = []
        func record(_ result: CommandResult) { said += [result.stdout, result.stderr] }

        try a.pin("bob", bKey)
        try a.pin("carol", cKey)
        let bridge: [String]
        if NetcatTools.available {
            bridge = ["--netcat-listen", "127.0.0.1:0", "--netcat-passphrase-file", NetcatTools.passphraseFile(netcatPassphrase)]
        } else {
            bridge = []
        }
        let alice = try NodeProcess(home: a, extraArguments: ["--verbose", "--psk-file", psk] + bridge)
        let address = "127.0.0.1:\(try await alice.listenPort())"
        for home in [b, c, s] { try home.pin("alice", aKey, address) }
        let bob = try NodeProcess(home: b, extraArguments: ["--verbose", "--psk-file", psk])
        defer { alice.stop(); bob.stop() }
        try await alice.waitFor(event: "link-up", where: ["peer": "bob"])
        try await bob.waitFor(event: "link-up", where: ["peer": "alice"])

        // Room and direct messages, both ways.
        bob.type("a room message")
        try await alice.waitFor(event: "message", where: ["text": "a room message"])
        alice.type("/msg bob a direct message")
        try await bob.waitFor(event: "message", where: ["text": "a direct message", "kind": "direct"])

        // The netcat bridge: a good message and one under another password.
        if NetcatTools.available {
            let port = Int((try await alice.waitFor(event: "netcat-bridge")["listen"] as? String ?? "").split(separator: ":").last ?? "") ?? 0
            record(try NetcatTools.send("through the bridge", passphrase: netcatPassphrase, port: port))
            try await bob.waitFor(event: "message", where: ["text": "[netcat] through the bridge"])
            record(try NetcatTools.send("wrong password", passphrase: "not " + netcatPassphrase, port: port))
            try await alice.waitFor("netcat error") { ($0["message"] as? String)?.contains("did not decrypt") == true }
        }

        // Failures: another pre-shared key, a stranger, a malformed peers line holding a secret key.
        let carol = try NodeProcess(home: c, extraArguments: ["--verbose", "--psk-file", otherPsk])
        let stranger = try NodeProcess(home: s, extraArguments: ["--verbose", "--psk-file", psk])
        defer { carol.stop(); stranger.stop() }
        try await carol.waitFor(event: "handshake-failed", where: ["peer": "alice"])
        try await stranger.waitFor(event: "handshake-failed", where: ["peer": "alice"])
        try await alice.waitFor(event: "rejected")
        let bobIdentity = try String(contentsOfFile: b.path + "/identity", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let peers = try FileHandle(forWritingTo: URL(fileURLWithPath: a.path + "/peers"))
        try peers.seekToEnd()
        try peers.write(contentsOf: Data("oops \(bobIdentity)\n".utf8)) // someone pasted bob's identity file, not his key
        try peers.close()
        let peersError = try await alice.waitFor("peers file error") { ($0["message"] as? String)?.contains("trusted-peers file") == true }
        #expect((peersError["message"] as? String)?.contains("looks like a secret key") == true)

        // The command line, its successes and its refusals.
        record(try a.run(["status", "--json"]))
        record(try a.run(["history", "--json"]))
        record(try a.run(["peer", "list", "--json"]))
        record(try a.run(["send", "--to", "nobody", "hello"]))
        record(try b.run(["peer", "add", "pasted", bobIdentity]))
        record(try b.run(["peer", "add", "pasted", String(bobIdentity.prefix(44))]))
        let open = TestHome("open")
        _ = try open.initialize(name: "open")
        chmod(open.path + "/identity", 0o644)
        let refused = try open.run(["start", "--json", "--verbose", "--listen", "127.0.0.1:0"], stdin: "")
        #expect(refused.status != 0 && refused.stderr.contains("can be read by others"))
        record(refused)
        let openPsk = try Self.pskFile(mode: 0o644)
        record(try b.run(["start", "--json", "--verbose", "--listen", "127.0.0.1:0", "--psk-file", openPsk], stdin: ""))
        let garbledPsk = try Self.pskFile()
        try Data((try String(contentsOfFile: psk, encoding: .utf8).dropLast(3) + "!!\n").utf8).write(to: URL(fileURLWithPath: garbledPsk))
        record(try b.run(["start", "--json", "--verbose", "--listen", "127.0.0.1:0", "--psk-file", garbledPsk], stdin: ""))

        for node in [alice, bob, carol, stranger] { said.append(Self.said(by: node)) }
        let everything = said.joined(separator: "\n")
        // The search is not vacuous: what was said was captured (public keys are meant to be said).
        #expect(everything.contains(aKey) && everything.contains("a direct message"))

        var secrets = try Self.identitySecrets(a, "alice") + Self.identitySecrets(b, "bob")
            + Self.identitySecrets(c, "carol") + Self.identitySecrets(s, "stranger") + Self.identitySecrets(open, "open")
        secrets += try Self.pskSecrets(psk, "the mesh pre-shared key") + Self.pskSecrets(otherPsk, "carol's pre-shared key")
        secrets.append(("the netcat passphrase", netcatPassphrase))
        for (label, secret) in secrets {
            let leaked = everything.contains(secret) // not inside #expect, which would print everything on failure
            #expect(!leaked, "\(label) appears in what the nodes or the command line said")
        }
    }

    @Test func keyFilesAndTheControlSocketArePrivate() async throws {
        let home = TestHome("perm")
        _ = try home.initialize(name: "alice")
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? -1) & 0o777
        }
        #expect(try mode(home.path + "/identity") == 0o600)
        let node = try NodeProcess(home: home)
        defer { node.stop() }
        try await node.waitFor(event: "ready")
        #expect(try mode(home.path + "/control.sock") == 0o600)

        // A group-readable identity is refused at start, with one sentence.
        let other = TestHome("perm-open")
        _ = try other.initialize(name: "bob")
        chmod(other.path + "/identity", 0o640)
        let result = try other.run(["start", "--json", "--listen", "127.0.0.1:0"], stdin: "")
        #expect(result.status != 0)
        #expect(result.stderr.contains("can be read by others") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}
