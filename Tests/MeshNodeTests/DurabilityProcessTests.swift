import Foundation
import Testing

/// Issue 3's promises with real node processes: nothing lost, each message shown once, history
/// and sequence numbers that survive restarts, crashes and a lost store.
@Suite(.serialized, .enabled(if: MeshChatBinary.isAvailable, "build the meshchat executable first (scripts/test does)"))
struct DurabilityProcessTests {
    /// A line A–B–C where A and C dial B; returns the homes, keys and B's port.
    struct Line {
        let a = TestHome("a"), b = TestHome("b"), c = TestHome("c")
        let aKey: String, bKey: String, cKey: String

        init() throws {
            aKey = try a.initialize(name: "alice")
            bKey = try b.initialize(name: "bob")
            cKey = try c.initialize(name: "carol")
            try b.pin("alice", aKey)
            try b.pin("carol", cKey)
        }

        func pinB(at port: Int) throws {
            try a.pin("bob", bKey, "127.0.0.1:\(port)")
            try c.pin("bob", bKey, "127.0.0.1:\(port)")
        }
    }

    /// "A–B–C in a line, C stopped; A posts 500 messages; C starts and shows all 500, each exactly once."
    @Test func offlineNodeCatchesUp() async throws {
        let count = Int(ProcessInfo.processInfo.environment["MESHCHAT_CATCHUP_COUNT"] ?? "") ?? 500
        let line = try Line()
        let nodeB = try NodeProcess(home: line.b)
        try line.pinB(at: try await nodeB.listenPort())
        let nodeA = try NodeProcess(home: line.a)
        var nodeC = try NodeProcess(home: line.c)
        try await nodeC.waitFor(event: "link-up", where: ["peer": "bob"])
        nodeC.stop()

        try await nodeA.waitFor(event: "link-up", where: ["peer": "bob"])
        for index in 1...count { nodeA.type("catch-up \(index)") }
        try await nodeB.waitForDistinctMessages(count)

        let started = ContinuousClock.now
        nodeC = try NodeProcess(home: line.c)
        let shown = try await nodeC.waitForDistinctMessages(count)
        print("catch-up of \(count) messages over a fresh link: \(ContinuousClock.now - started) from process start")
        #expect(shown == count, "a message was shown more than once")
        let texts = Set(nodeC.allEvents.compactMap { $0["event"] as? String == "message" ? $0["text"] as? String : nil })
        #expect(texts == Set((1...count).map { "catch-up \($0)" }))
    }

    /// "A node stopped and started again shows its history, and its next message carries the next seq."
    @Test func restartKeepsHistoryAndSequence() async throws {
        let a = TestHome("a")
        _ = try a.initialize(name: "alice")
        var node = try NodeProcess(home: a)
        for index in 1...3 { node.type("before restart \(index)") }
        try await node.waitFor(event: "sent", where: ["seq": "3"])
        node.stop()

        node = try NodeProcess(home: a)
        try await node.waitFor(event: "ready")
        #expect(try a.historyTexts() == ["before restart 1", "before restart 2", "before restart 3"])
        node.type("after restart")
        try await node.waitFor(event: "sent", where: ["seq": "4"])
    }

    /// "A node whose store was deleted but whose identity remains does not reuse a seq."
    @Test func lostStoreDoesNotReuseASequenceNumber() async throws {
        let a = TestHome("a"), b = TestHome("b")
        let aKey = try a.initialize(name: "alice"), bKey = try b.initialize(name: "bob")
        try b.pin("alice", aKey)
        let nodeB = try NodeProcess(home: b)
        let bPort = try await nodeB.listenPort()
        try a.pin("bob", bKey, "127.0.0.1:\(bPort)")
        var nodeA = try NodeProcess(home: a)
        try await nodeA.waitFor(event: "link-up", where: ["peer": "bob"])
        for index in 1...3 { nodeA.type("first life \(index)") }
        try await nodeB.waitForDistinctMessages(3)
        nodeA.stop()
        nodeB.stop()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: a.path + "/store.sqlite" + suffix) }

        // Alone, it refuses to post rather than guess its seq.
        nodeA = try NodeProcess(home: a)
        nodeA.type("too early")
        let refusal = try await nodeA.waitFor(event: "error")
        #expect((refusal["message"] as? String)?.contains("sequence number") == true)

        let nodeB2 = try NodeProcess(home: b, listen: "127.0.0.1:\(bPort)")
        try await nodeB2.waitFor(event: "link-up", where: ["peer": "alice"])
        // Its own messages come back through sync; then it posts with the next seq.
        try await nodeA.waitForDistinctMessages(3) { $0["author"] as? String == aKey }
        nodeA.type("second life")
        let sent = try await nodeA.waitFor(event: "sent")
        #expect(sent["seq"] as? Int == 4)
        let atB = try await nodeB2.waitFor(event: "message", where: ["text": "second life"])
        #expect(atB["seq"] as? Int == 4)
    }

    /// "A store that is unreadable, locked by another running node, or from a newer version gets one
    /// clear sentence and is never overwritten."
    @Test func damagedStoreIsRefusedAndLeftAlone() async throws {
        let a = TestHome("a")
        _ = try a.initialize(name: "alice")
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: a.path + "/store.sqlite"))
        let result = try a.run(["start", "--json", "--listen", "127.0.0.1:0"], stdin: "")
        #expect(result.status != 0)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("store.sqlite"), "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.path + "/store.sqlite")) == garbage)

        // Locked: a second node on the same home is refused while the first runs.
        let b = TestHome("b")
        _ = try b.initialize(name: "bob")
        let running = try NodeProcess(home: b)
        try await running.waitFor(event: "ready")
        let second = try b.run(["start", "--json", "--listen", "127.0.0.1:0"], stdin: "")
        #expect(second.status != 0)
        #expect(second.stderr.split(separator: "\n").count == 1, "\(second.stderr)")
        #expect(second.stderr.contains("another running"), "\(second.stderr)")
    }

    /// "Two halves of a four-node mesh post while apart; after they meet again every node holds the union."
    @Test func partitionHeals() async throws {
        let homes = (0..<4).map { TestHome("p\($0)") }
        let keys = try homes.enumerated().map { try $0.element.initialize(name: "n\($0.offset)") }
        let nodes = try homes.map { try NodeProcess(home: $0) }
        var ports: [Int] = []
        for node in nodes { ports.append(try await node.listenPort()) }
        // Halves {0,1} and {2,3}: 0 dials 1, 3 dials 2; each side pins the other.
        try homes[1].pin("n0", keys[0])
        try homes[0].pin("n1", keys[1], "127.0.0.1:\(ports[1])")
        try homes[2].pin("n3", keys[3])
        try homes[3].pin("n2", keys[2], "127.0.0.1:\(ports[2])")
        try await nodes[0].waitFor(event: "link-up", where: ["peer": "n1"])
        try await nodes[3].waitFor(event: "link-up", where: ["peer": "n2"])
        for index in 1...5 {
            nodes[0].type("left \(index)")
            nodes[3].type("right \(index)")
        }
        try await nodes[1].waitForDistinctMessages(5)
        try await nodes[2].waitForDistinctMessages(5)

        // Heal: 1 and 2 pin each other while running; 1 dials 2.
        try homes[2].pin("n1", keys[1])
        try homes[1].pin("n2", keys[2], "127.0.0.1:\(ports[2])")
        // Posters show the other half's five; relays show all ten. Every store holds the union.
        for (index, node) in nodes.enumerated() {
            let expected = index == 0 || index == 3 ? 5 : 10
            let shown = try await node.waitForDistinctMessages(expected)
            #expect(shown == expected, "a message was shown twice at \(node.home.path)")
            let texts = Set(try homes[index].historyTexts(["--limit", "100"]))
            #expect(texts == Set((1...5).flatMap { ["left \($0)", "right \($0)"] }), "node \(index) holds \(texts.sorted())")
        }
    }

    /// "While A streams 5,000 messages through B to C, B is killed with SIGKILL and restarted; C ends
    /// with all 5,000, each shown once; every store passes PRAGMA integrity_check."
    @Test func relayKilledMidStream() async throws {
        let count = 5000
        let line = try Line()
        var nodeB = try NodeProcess(home: line.b)
        let port = try await nodeB.listenPort()
        try line.pinB(at: port)
        let nodeA = try NodeProcess(home: line.a), nodeC = try NodeProcess(home: line.c)
        try await nodeA.waitFor(event: "link-up", where: ["peer": "bob"])
        try await nodeC.waitFor(event: "link-up", where: ["peer": "bob"])

        for index in 1...count { nodeA.type("stream \(index)") }
        try await nodeC.waitForDistinctMessages(count / 10)
        nodeB.kill()
        nodeB = try NodeProcess(home: line.b, listen: "127.0.0.1:\(port)")
        let shown = try await nodeC.waitForDistinctMessages(count)
        #expect(shown == count, "a message was shown more than once")

        for node in [nodeA, nodeB, nodeC] { node.stop() }
        for home in [line.a, line.b, line.c] {
            let check = try runProgram("/usr/bin/sqlite3", [home.path + "/store.sqlite", "PRAGMA integrity_check"])
            #expect(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(home.path): \(check.stdout) \(check.stderr)")
        }
    }
}
