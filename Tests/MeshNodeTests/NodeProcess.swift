import Foundation
import MeshHarness
import Testing

/// The `meshchat` executable under test: `$MESHCHAT_BIN`, else the debug build beside the package.
enum MeshChatBinary {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var path: String {
        ProcessInfo.processInfo.environment["MESHCHAT_BIN"] ?? packageRoot.appendingPathComponent(".build/debug/meshchat").path
    }
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }
}

/// The result of running a `meshchat` command to completion.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// A temporary home for one node, removed when the test's process exits.
struct TestHome {
    let path: String

    init(_ name: String) {
        path = NSTemporaryDirectory() + "meshchat-test-\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Runs `meshchat ARGS --home PATH` to completion.
    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runMeshChat(arguments + ["--home", path], stdin: stdin)
    }

    /// Creates the identity and returns the peer key.
    func initialize(name: String) throws -> String {
        let result = try run(["init", "--name", name])
        #expect(result.status == 0, "init failed: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The texts of `meshchat history --json` with `arguments`, oldest first.
    func historyTexts(_ arguments: [String] = []) throws -> [String] {
        try run(["history", "--json"] + arguments).stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["text"] as? String
        }
    }

    /// Pins a peer.
    func pin(_ name: String, _ key: String, _ address: String? = nil) throws {
        let result = try run(["peer", "add", name, key] + (address.map { [$0] } ?? []))
        #expect(result.status == 0, "peer add failed: \(result.stderr)")
    }
}

/// Two running nodes, alice and bob, linked: bob dials alice.
struct LinkedPair {
    let a = TestHome("a"), b = TestHome("b")
    let aKey: String, bKey: String
    let nodeA: NodeProcess, nodeB: NodeProcess

    init() async throws {
        aKey = try a.initialize(name: "alice")
        bKey = try b.initialize(name: "bob")
        try a.pin("bob", bKey)
        nodeA = try NodeProcess(home: a)
        try b.pin("alice", aKey, "127.0.0.1:\(try await nodeA.listenPort())")
        nodeB = try NodeProcess(home: b)
        try await nodeA.waitFor(event: "link-up", where: ["peer": "bob"])
        try await nodeB.waitFor(event: "link-up", where: ["peer": "alice"])
    }
}

/// Runs `meshchat` with `arguments` to completion, capturing both outputs.
func runMeshChat(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
    try runProgram(MeshChatBinary.path, arguments, stdin: stdin)
}

/// Runs a program to completion, capturing both outputs.
func runProgram(_ path: String, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    let stderrData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                         stderr: String(decoding: stderrData, as: UTF8.self))
}

/// One parsed JSON event; immutable once parsed, so it may cross tasks.
struct EventRecord: @unchecked Sendable {
    let fields: [String: Any]
}

/// A running `meshchat start --json` process whose JSON events the test awaits.
final class NodeProcess: @unchecked Sendable {
    // `lock` serialises `events` and `waiters`, written by the output reader's thread.
    private let lock = NSLock()
    private var events: [[String: Any]] = []
    private var waiters: [(id: UUID, predicate: @Sendable ([String: Any]) -> Bool, continuation: CheckedContinuation<EventRecord, Error>)] = []
    private let child: NodeChild
    let home: TestHome

    /// How long an awaited event may take before the test fails instead of hanging; a guard, not a measurement.
    static let eventTimeout: Duration = .seconds(20)

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    /// A node started with `extraArguments`.
    convenience init(home: TestHome, listen: String = "127.0.0.1:0", extraArguments: [String] = []) throws {
        try self.init(home: home, arguments: ["--listen", listen] + extraArguments)
    }

    private init(home: TestHome, arguments: [String]) throws {
        self.home = home
        child = NodeChild(binary: MeshChatBinary.path, name: home.path, arguments: ["--home", home.path] + arguments,
                          errors: .kept(limit: nil))
        try child.start { [weak self] lines, _ in self?.receive(lines) }
    }

    private func receive(_ lines: [ArraySlice<UInt8>]) {
        var ready: [(CheckedContinuation<EventRecord, Error>, [String: Any])] = []
        lock.withLock {
            for line in lines {
                guard var object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { continue }
                object[Self.orderKey] = events.count // so a test can wait for the next event after one it saw
                events.append(object)
                waiters.removeAll { waiter in
                    guard waiter.predicate(object) else { return false }
                    ready.append((waiter.continuation, object))
                    return true
                }
            }
        }
        for (continuation, object) in ready { continuation.resume(returning: EventRecord(fields: object)) }
    }

    /// Every event seen so far.
    var allEvents: [[String: Any]] { lock.withLock { events } }

    /// What the node wrote to standard error.
    var stderr: String { child.errors }

    /// Waits for the first event (already seen or future) that satisfies `predicate`; fails after
    /// `eventTimeout` instead of hanging.
    @discardableResult
    func waitFor(_ description: String, _ predicate: @escaping @Sendable ([String: Any]) -> Bool) async throws -> [String: Any] {
        let id = UUID()
        let record: EventRecord = try await withCheckedThrowingContinuation { continuation in
            let seen: EventRecord? = lock.withLock {
                if let hit = events.first(where: predicate) { return EventRecord(fields: hit) }
                waiters.append((id, predicate, continuation))
                return nil
            }
            if let seen { return continuation.resume(returning: seen) }
            // Weak: a strong capture kept every node alive (and running) for the guard's 20 s, past
            // the end of its test and often past the test process's exit. A waiter keeps its node alive.
            Task { [weak self] in
                try? await Task.sleep(for: Self.eventTimeout)
                guard let self else { return }
                let expired = self.lock.withLock { () -> CheckedContinuation<EventRecord, Error>? in
                    guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return self.waiters.remove(at: index).continuation
                }
                expired?.resume(throwing: Timeout(description: "no \(description) event from \(self.home.path); stderr: \(self.stderr)"))
            }
        }
        return record.fields
    }

    /// The field the harness adds to each event: its position in the node's output.
    static let orderKey = "_order"

    /// Waits for an event named `name` whose fields include `fields`, later than the event `after` if given.
    /// Predicates run under the harness lock, so they must not call back into the harness.
    @discardableResult
    func waitFor(event name: String, where fields: [String: String] = [:], after earlier: [String: Any]? = nil) async throws -> [String: Any] {
        let floor = earlier?[Self.orderKey] as? Int ?? -1
        return try await waitFor("\(name) \(fields)") { event in
            event["event"] as? String == name && (event[Self.orderKey] as? Int ?? 0) > floor
                && fields.allSatisfy { key, value in "\(event[key] ?? "")" == value }
        }
    }

    /// Waits until `count` distinct message ids have been shown; returns how many message events
    /// there were in all (more than `count` would mean a message was shown twice).
    @discardableResult
    func waitForDistinctMessages(_ count: Int, where matches: @escaping @Sendable ([String: Any]) -> Bool = { _ in true }) async throws -> Int {
        var seen = Set<String>(), total = 0, scanned = 0
        while true {
            let events = allEvents
            for event in events[scanned...] where event["event"] as? String == "message" && matches(event) {
                seen.insert(event["id"] as? String ?? "")
                total += 1
            }
            scanned = events.count
            if seen.count >= count { return total }
            try await waitFor(event: "message", after: events.last)
        }
    }

    /// The port from the `ready` event.
    func listenPort() async throws -> Int {
        let ready = try await waitFor(event: "ready")
        let listen = ready["listen"] as? String ?? ""
        return Int(listen.split(separator: ":").last ?? "") ?? 0
    }

    /// Types a line into the node, as a script would.
    func type(_ line: String) {
        do { try child.post(line) } catch { Issue.record(error) }
    }

    /// Writes raw bytes to the node's standard input, newline or not.
    func send(_ bytes: Data) {
        do { try child.write(Array(bytes)) } catch { Issue.record(error) }
    }

    /// The node's resident memory (`VmRSS`), in bytes.
    func residentBytes() throws -> Int {
        guard let kibibytes = NodeChild.statusKiB("VmRSS", of: child.pid) else { throw HarnessFailure("no VmRSS for \(home.path)") }
        return kibibytes * 1024
    }

    /// Stops the node with SIGTERM (it closes its links with BYE 6) and waits for it to exit.
    func stop() { child.stop() }

    /// Kills the node with SIGKILL.
    func kill() { child.kill() }

    deinit { kill() }
}
