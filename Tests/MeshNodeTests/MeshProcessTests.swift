import Foundation
import Testing

/// Real `meshchat` processes on loopback, driven through the command line and JSON events
/// exactly as scripts outside the project drive them.
@Suite(.serialized, .enabled(if: MeshChatBinary.isAvailable, "build the meshchat executable first (scripts/test does)"))
struct MeshProcessTests {
    /// A–B–C in a line: A and C dial B. A room message from A reaches C over one relay; a direct
    /// message from A to C crosses B, which shows nothing of it.
    @Test func roomAndDirectMessagesCrossARelay() async throws {
        let a = TestHome("a"), b = TestHome("b"), c = TestHome("c")
        let aKey = try a.initialize(name: "alice"), bKey = try b.initialize(name: "bob"), cKey = try c.initialize(name: "carol")
        try b.pin("alice", aKey)
        try b.pin("carol", cKey)
        let nodeB = try NodeProcess(home: b)
        let bAddress = "127.0.0.1:\(try await nodeB.listenPort())"
        try a.pin("bob", bKey, bAddress)
        try a.pin("carol", cKey) // pinned without an address, only so that A can name C in /msg
        try c.pin("bob", bKey, bAddress)
        let nodeA = try NodeProcess(home: a), nodeC = try NodeProcess(home: c)
        try await nodeA.waitFor(event: "link-up", where: ["peer": "bob", "direction": "outbound"])
        try await nodeC.waitFor(event: "link-up", where: ["peer": "bob", "direction": "outbound"])
        try await nodeB.waitFor(event: "link-up", where: ["peer": "alice", "direction": "inbound"])
        try await nodeB.waitFor(event: "link-up", where: ["peer": "carol", "direction": "inbound"])

        nodeA.type("hello mesh")
        let sent = try await nodeA.waitFor(event: "sent", where: ["kind": "room"])
        let atC = try await nodeC.waitFor(event: "message", where: ["text": "hello mesh"])
        #expect(atC["id"] as? String == sent["id"] as? String)
        #expect(atC["hops"] as? Int == 1)
        #expect(atC["pinned"] as? Bool == false)
        #expect(atC["peer"] is NSNull)
        #expect(atC["author"] as? String == aKey)
        #expect(atC["from"] as? String == "alice")
        #expect(atC["room"] as? String == "general")
        #expect(atC["seq"] as? Int == 1)
        let atB = try await nodeB.waitFor(event: "message", where: ["text": "hello mesh"])
        #expect(atB["hops"] as? Int == 0)
        #expect(atB["pinned"] as? Bool == true)
        #expect(atB["peer"] as? String == "alice")

        nodeA.type("/msg carol for carol only")
        let direct = try await nodeA.waitFor(event: "sent", where: ["kind": "direct"])
        let directId = try #require(direct["id"] as? String)
        let atCDirect = try await nodeC.waitFor(event: "message", where: ["kind": "direct"])
        #expect(atCDirect["text"] as? String == "for carol only")
        #expect(atCDirect["id"] as? String == directId)
        #expect(atCDirect["hops"] as? Int == 1)
        // B relayed it (C got it only through B) and showed nothing of it.
        #expect(!nodeB.allEvents.contains { $0["event"] as? String == "message" && $0["id"] as? String == directId })
        #expect(!nodeB.allEvents.contains { ($0["text"] as? String)?.contains("carol only") == true })
    }

    /// An impostor listens at a pinned address with another key: the dialer reports
    /// handshake-failed, shows nothing from it, retries, and links once the real peer is back.
    @Test func impostorAtPinnedAddressFailsLoudly() async throws {
        let a = TestHome("a"), real = TestHome("real"), impostor = TestHome("impostor")
        let aKey = try a.initialize(name: "alice"), realKey = try real.initialize(name: "bob")
        _ = try impostor.initialize(name: "mallory")
        try impostor.pin("alice", aKey) // the impostor would even accept alice: it still lacks bob's key
        try real.pin("alice", aKey)
        let impostorNode = try NodeProcess(home: impostor)
        let port = try await impostorNode.listenPort()
        try a.pin("bob", realKey, "127.0.0.1:\(port)")
        let nodeA = try NodeProcess(home: a)
        let failed = try await nodeA.waitFor(event: "handshake-failed", where: ["peer": "bob"])
        #expect(failed["address"] as? String == "127.0.0.1:\(port)")
        #expect((failed["reason"] as? String)?.contains("pinned key") == true)
        // It keeps retrying with backoff: a second failure comes.
        try await nodeA.waitFor(event: "handshake-failed", where: ["peer": "bob"], after: failed)
        impostorNode.stop()
        #expect(!nodeA.allEvents.contains { $0["event"] as? String == "link-up" || $0["event"] as? String == "message" })
        let realNode = try NodeProcess(home: real, listen: "127.0.0.1:\(port)")
        let up = try await nodeA.waitFor(event: "link-up", where: ["peer": "bob"])
        #expect(up["key"] as? String == realKey)
        try await realNode.waitFor(event: "link-up", where: ["peer": "alice"])
    }

    /// Two nodes that both dial each other end with one link that both agree on, and people see
    /// one join on each side and no leave. (Which connection wins when both exist at once is
    /// tested byte for byte in HostileInputTests.)
    @Test func crossDialKeepsOneLink() async throws {
        let a = TestHome("a"), b = TestHome("b")
        let aKey = try a.initialize(name: "alice"), bKey = try b.initialize(name: "bob")
        let nodeA = try NodeProcess(home: a)
        let aPort = try await nodeA.listenPort()
        try b.pin("alice", aKey, "127.0.0.1:\(aPort)")
        let nodeB = try NodeProcess(home: b)
        let bPort = try await nodeB.listenPort()
        try a.pin("bob", bKey, "127.0.0.1:\(bPort)") // A now dials B while B dials A
        try await nodeA.waitFor(event: "link-up", where: ["peer": "bob"])
        try await nodeB.waitFor(event: "link-up", where: ["peer": "alice"])
        // Let any duplicate be settled: a message crossing proves the surviving link works both ways.
        nodeA.type("ping from alice")
        try await nodeB.waitFor(event: "message", where: ["text": "ping from alice"])
        nodeB.type("pong from bob")
        try await nodeA.waitFor(event: "message", where: ["text": "pong from bob"])

        func linkDirection(_ home: TestHome) throws -> String? {
            let status = try home.run(["status", "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            return (object?["peers"] as? [[String: Any]])?.first?["direction"] as? String
        }
        let aDirection = try linkDirection(a), bDirection = try linkDirection(b)
        #expect(aDirection != nil && bDirection != nil && aDirection != bDirection, "\(String(describing: aDirection)) / \(String(describing: bDirection))")
        #expect(nodeA.allEvents.filter { $0["event"] as? String == "link-up" }.count == 1)
        #expect(nodeB.allEvents.filter { $0["event"] as? String == "link-up" }.count == 1)
        #expect(!nodeA.allEvents.contains { $0["event"] as? String == "link-down" })
        #expect(!nodeB.allEvents.contains { $0["event"] as? String == "link-down" })
    }

    /// A dialer whose key is not pinned is refused, and the refusal names its key.
    @Test func unpinnedDialerIsRefusedByKey() async throws {
        let a = TestHome("a"), stranger = TestHome("stranger")
        let aKey = try a.initialize(name: "alice"), strangerKey = try stranger.initialize(name: "eve")
        let nodeA = try NodeProcess(home: a)
        let port = try await nodeA.listenPort()
        try stranger.pin("alice", aKey, "127.0.0.1:\(port)")
        let nodeS = try NodeProcess(home: stranger)
        let rejected = try await nodeA.waitFor(event: "rejected")
        #expect(rejected["key"] as? String == strangerKey)
        #expect((rejected["address"] as? String)?.hasPrefix("127.0.0.1:") == true)
        try await nodeS.waitFor(event: "handshake-failed", where: ["peer": "alice"])
        #expect(!nodeA.allEvents.contains { $0["event"] as? String == "link-up" })
    }

    /// Removing a peer from the file closes its link at once, and nothing more reaches it; it cannot come back.
    @Test func removedPeerIsCutAndStaysOut() async throws {
        let pair = try await LinkedPair()
        let (a, bKey, nodeA, nodeB) = (pair.a, pair.bKey, pair.nodeA, pair.nodeB)

        let removal = ContinuousClock.now
        try a.run(["peer", "remove", "bob"])
        try await nodeA.waitFor(event: "link-down", where: ["peer": "bob"])
        let down = try await nodeB.waitFor(event: "link-down", where: ["peer": "alice"])
        let elapsed = ContinuousClock.now - removal
        print("removed peer cut after \(elapsed)")
        #expect((down["reason"] as? String)?.contains("no longer trusted") == true)
        // B dials again and is refused, by key.
        let refused = try await nodeA.waitFor(event: "rejected")
        #expect(refused["key"] as? String == bKey)
        nodeA.type("after removal")
        try await nodeA.waitFor(event: "sent")
        try await nodeB.waitFor(event: "handshake-failed", where: ["peer": "alice"])
        #expect(!nodeB.allEvents.contains { $0["event"] as? String == "message" })
        #expect(nodeA.allEvents.filter { $0["event"] as? String == "link-up" }.count == 1)
    }

    /// `meshchat send` and `status` work through the control socket of a running node.
    @Test func sendAndStatusThroughTheControlSocket() async throws {
        let pair = try await LinkedPair()
        let (a, b, nodeA, nodeB) = (pair.a, pair.b, pair.nodeA, pair.nodeB)

        let sent = try b.run(["send", "--room", "ops", "deploy done"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [String: Any])
        #expect(reply["kind"] as? String == "room")
        let atA = try await nodeA.waitFor(event: "message", where: ["text": "deploy done"])
        #expect(atA["room"] as? String == "ops")
        #expect(atA["id"] as? String == reply["id"] as? String)

        let status = try a.run(["status", "--json"])
        #expect(status.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let peers = try #require(object["peers"] as? [[String: Any]])
        #expect(peers.first?["name"] as? String == "bob")
        #expect(peers.first?["state"] as? String == "linked")

        #expect(try a.historyTexts(["--room", "ops"]) == ["deploy done"])

        // Presence: once bob goes, alice's status says when she last saw him.
        nodeB.stop()
        try await nodeA.waitFor(event: "link-down", where: ["peer": "bob"])
        let after = try #require(try JSONSerialization.jsonObject(with: Data(try a.run(["status", "--json"]).stdout.utf8)) as? [String: Any])
        let bob = try #require((after["peers"] as? [[String: Any]])?.first)
        #expect(bob["state"] as? String == "offline")
        #expect(bob["last_seen"] is Int)
    }

    /// A person's mistakes get one clear sentence and a non-zero exit, never a stack trace.
    @Test func mistakesGetOneSentenceAndNonZeroExit() async throws {
        let a = TestHome("a")
        _ = try a.initialize(name: "alice")
        let cases: [([String], String)] = [
            (["peer", "add", "bob", "not-a-key"], "is not a peer key"),
            (["peer", "add", "bad name!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="], "is not 1 to 32"),
            (["peer", "remove", "nobody"], "No peer named nobody"),
            (["send", "hi"], "No node is running"),
            (["start", "--listen", "nonsense"], "is not HOST:PORT"),
        ]
        for (arguments, expected) in cases {
            let result = try a.run(arguments)
            #expect(result.status != 0, "\(arguments) should fail")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments) printed more than one line: \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
        }

        // A bad line in the peers file names its line number.
        let bad = TestHome("bad")
        _ = try bad.initialize(name: "bad")
        try "# comment\nbob not-a-key 127.0.0.1:1\n".write(toFile: bad.path + "/peers", atomically: true, encoding: .utf8)
        let badStart = try bad.run(["start", "--json", "--listen", "127.0.0.1:0"], stdin: "")
        #expect(badStart.status != 0)
        #expect(badStart.stderr.contains("line 2"), "\(badStart.stderr)")

        // A port in use.
        let running = try NodeProcess(home: a)
        let port = try await running.listenPort()
        let other = TestHome("other")
        _ = try other.initialize(name: "other")
        let clash = try other.run(["start", "--json", "--listen", "127.0.0.1:\(port)"], stdin: "")
        #expect(clash.status != 0)
        #expect(clash.stderr.contains("already in use"), "\(clash.stderr)")
        #expect(clash.stderr.split(separator: "\n").count == 1, "\(clash.stderr)")
    }
}
