import Foundation
import Testing

/// `start --json` fed by a script: many lines in one write are posted together (one loop trip and
/// one store commit per run of room text) and a burst of events goes out in one write; neither may
/// change what is posted, shown or said, or its order.
@Suite("Script input and JSON output in bursts", .enabled(if: MeshChatBinary.isAvailable))
struct ScriptInputTests {
    @Test("lines written at once post in order; an over-long text fails alone and a command between them takes its place")
    func mixedLinesInOneWrite() async throws {
        let pair = try await LinkedPair()
        let tooLong = String(repeating: "x", count: 16385)
        pair.nodeA.type(["one", tooLong, "two", "/join other", "three"].joined(separator: "\n"))
        try await pair.nodeB.waitFor(event: "message", where: ["text": "three"])

        let aEvents = pair.nodeA.allEvents.filter { ["sent", "error"].contains($0["event"] as? String) }
        #expect(aEvents.map { $0["event"] as? String } == ["sent", "error", "sent", "sent"])
        #expect(aEvents.compactMap { $0["seq"] as? Int } == [1, 2, 3])
        #expect(aEvents.compactMap { $0["room"] as? String } == ["general", "general", "other"])
        let shown = pair.nodeB.allEvents.filter { $0["event"] as? String == "message" }
        #expect(shown.map { $0["text"] as? String } == ["one", "two", "three"])
        #expect(shown.map { $0["room"] as? String } == ["general", "general", "other"])
        #expect(try pair.b.historyTexts(["--room", "general"]) == ["one", "two"])
    }

    @Test("a flood of lines (several post batches) arrives whole, once each and in seq order, as one JSON object a line")
    func floodArrivesInOrder() async throws {
        let pair = try await LinkedPair()
        let count = 300
        pair.nodeA.type((1...count).map { "line \($0) with \"quotes\", a back\\slash and a tab\t." }.joined(separator: "\n"))
        let total = try await pair.nodeB.waitForDistinctMessages(count)
        #expect(total == count)
        let shown = pair.nodeB.allEvents.filter { $0["event"] as? String == "message" }
        #expect(shown.compactMap { $0["seq"] as? Int } == Array(1...count))
        #expect(shown.last?["text"] as? String == "line \(count) with \"quotes\", a back\\slash and a tab\t.")
        let sent = pair.nodeA.allEvents.filter { $0["event"] as? String == "sent" }
        #expect(sent.compactMap { $0["seq"] as? Int } == Array(1...count))
    }

    @Test("input with no newline (< /dev/zero) is dropped as it streams, said once, and the next line still posts")
    func anEndlessLineIsDroppedWithoutGrowingMemory() async throws {
        let home = TestHome("zero")
        _ = try home.initialize(name: "zed")
        let node = try NodeProcess(home: home)
        _ = try await node.listenPort()
        let before = try node.residentBytes()
        // 32 MiB of NUL bytes and no newline yet: the error comes before the line has ended.
        let chunk = Data(count: 1 << 20)
        for _ in 0..<32 { node.send(chunk) }
        let error = try await node.waitFor(event: "error")
        #expect((error["message"] as? String ?? "").contains("dropped"))
        // The write of the last MiB returned, so the node has read all but a pipe's worth of it.
        // Not under AddressSanitizer (scripts/test --sanitize address sets ASAN_OPTIONS): its
        // debug build's RSS grew 580 MB on this input with the default quarantine, and still past
        // the bound in one CI run with a 1 MiB quarantine, so there it says nothing about the node.
        // A release build reads 320 MiB of it in 0.36 s of CPU.
        if ProcessInfo.processInfo.environment["ASAN_OPTIONS"] == nil {
            #expect(try node.residentBytes() - before < 8 << 20)
        }
        node.send(Data("\r\nafter\n".utf8))
        try await node.waitFor(event: "sent", where: ["seq": "1"])
        #expect(node.allEvents.filter { $0["event"] as? String == "error" }.count == 1)
        #expect(try home.historyTexts(["--room", "general"]) == ["after"])
        node.stop()
    }
}
