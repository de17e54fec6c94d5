import Foundation
import MeshCrypto
import MeshHarness
import MeshNode
#if canImport(Glibc)
import Glibc
#endif

/// Message texts the bench posts: an index the bench pairs post and shown times by, padded to
/// the 100 bytes of the room messages.
enum BenchText {
    static let bytes = 100
    static let marker = "m"

    static func padded(_ prefix: String) -> String {
        prefix + " " + String(repeating: "x", count: max(0, bytes - prefix.utf8.count - 1))
    }

    static func text(index: Int) -> String { padded(marker + String(index)) }
}

/// One event line from a node's standard output, with the bench's monotonic time of arrival.
struct EventLine: @unchecked Sendable {
    // Immutable after parsing; `fields` holds only JSON values.
    let name: String
    let arrival: UInt64
    let fields: [String: Any]
}

/// A real `meshchat start --json` process in a temporary home, driven exactly as a script would:
/// lines into standard input, JSON events out of standard output.
///
/// `message` events whose text the bench wrote are not kept whole: only their index and arrival
/// time, so that tens of thousands of them cost the bench little; other events are parsed and kept.
final class BenchNode: @unchecked Sendable {
    // `condition` guards `events`, `shown`, `counts` and `exited`; the reader thread writes them.
    private let condition = NSCondition()
    private var events: [EventLine] = []
    private var shown: [Int: UInt64] = [:]
    private var counts: [String: Int] = [:]
    private var exited = false

    let name: String
    let home: NodeHome
    private let child: NodeChild
    /// The bench's monotonic time just before the process was spawned.
    let spawnedAt: UInt64

    /// How much of the node's standard error a failure quotes.
    static let quotedErrorBytes = 2000

    /// Starts `meshchat start --json --home HOME --listen 127.0.0.1:0 ARGS` with `binary`.
    init(binary: String, name: String, home: String, arguments: [String] = []) throws {
        self.name = name
        self.home = NodeHome(explicit: home)
        child = NodeChild(binary: binary, name: name,
                          arguments: ["--home", home, "--listen", "127.0.0.1:0", "--name", name] + arguments,
                          errors: .kept(limit: Self.quotedErrorBytes))
        spawnedAt = Monotonic.now()
        try child.start(onLines: { [self] lines, arrival in receive(lines, arrival: arrival) },
                        onEnd: { [self] in
                            condition.lock()
                            exited = true
                            condition.broadcast()
                            condition.unlock()
                        })
        ChildProcesses.started(child.pid)
    }

    var pid: Int32 { child.pid }

    // MARK: Output

    private func receive(_ lines: [ArraySlice<UInt8>], arrival: UInt64) {
        let parsed = lines.map { Self.parse($0, arrival: arrival) }
        condition.lock()
        for (index, event) in parsed {
            if let index { shown[index] = arrival; counts["message", default: 0] += 1 }
            if let event { events.append(event); counts[event.name, default: 0] += 1 }
        }
        condition.broadcast()
        condition.unlock()
    }

    private static let textKey = Array("\"text\":\"\(BenchText.marker)".utf8)
    private static let messageKey = Array("\"event\":\"message\"".utf8)
    private static let sentKey = Array("\"event\":\"sent\"".utf8)

    /// A bench message's index, or the parsed event; `sent` events are counted by name only.
    private static func parse(_ line: ArraySlice<UInt8>, arrival: UInt64) -> (Int?, EventLine?) {
        if end(of: messageKey, in: line) != nil, let textEnd = end(of: textKey, in: line) {
            var index = 0, digits = 0
            var position = textEnd
            while position < line.endIndex, (48...57).contains(line[position]) {
                index = index * 10 + Int(line[position] - 48)
                digits += 1
                position += 1
            }
            if digits > 0 { return (index, nil) }
        }
        if end(of: sentKey, in: line) != nil { return (nil, EventLine(name: "sent", arrival: arrival, fields: [:])) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let name = object["event"] as? String else { return (nil, nil) }
        return (nil, EventLine(name: name, arrival: arrival, fields: object))
    }

    /// The index just past the first `key` in `line`, if it is there: a plain byte search.
    /// Foundation's generic `firstRange(of:)` did this at a tenth of the speed and took 7% of the
    /// machine in the 30-node mesh, CPU the nodes being measured then went without.
    private static func end(of key: [UInt8], in line: ArraySlice<UInt8>) -> Int? {
        line.withUnsafeBufferPointer { haystack in
            key.withUnsafeBufferPointer { key in
                guard let first = key.first, haystack.count >= key.count else { return nil }
                for start in 0...(haystack.count - key.count)
                where haystack[start] == first && memcmp(haystack.baseAddress! + start, key.baseAddress!, key.count) == 0 {
                    return line.startIndex + start + key.count
                }
                return nil
            }
        }
    }

    // MARK: Waiting

    /// Waits until `condition` holds (it runs under the lock), or `timeout` seconds pass (then throws).
    private func waitUntil(_ what: String, timeout: Double, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        self.condition.lock()
        defer { self.condition.unlock() }
        while !condition() {
            let problem = child.errors.trimmingCharacters(in: .whitespacesAndNewlines)
            if exited { throw BenchFailure("\(name) exited before \(what): \(problem)") }
            if !self.condition.wait(until: deadline) && !condition() {
                throw BenchFailure("\(name) gave no \(what) within \(Int(timeout)) s; stderr: \(problem)")
            }
        }
    }

    /// Waits for the first event named `event`.
    @discardableResult
    func waitFor(event: String, timeout: Double = 30) throws -> EventLine {
        var hit: EventLine?
        try waitUntil(event + " event", timeout: timeout) {
            hit = events.first { $0.name == event }
            return hit != nil
        }
        return hit!
    }

    /// Waits until at least `count` events named `event` arrived.
    func waitFor(count: Int, of event: String, timeout: Double = 30) throws {
        try waitUntil("\(count) \(event) events", timeout: timeout) { counts[event, default: 0] >= count }
    }

    /// How many events named `event` arrived so far (bench messages count as `message`).
    func count(of event: String) -> Int {
        condition.lock(); defer { condition.unlock() }
        return counts[event, default: 0]
    }

    /// The `ready` event's key and port.
    func ready(timeout: Double = 30) throws -> (key: SigningPublicKey, port: Int, at: UInt64) {
        let event = try waitFor(event: "ready", timeout: timeout)
        guard let keyText = event.fields["key"] as? String, let key = try? SigningPublicKey(base64: keyText),
              let listen = event.fields["listen"] as? String, let port = listen.split(separator: ":").last.flatMap({ Int($0) })
        else { throw BenchFailure("\(name)'s ready event has no key or port") }
        return (key, port, event.arrival)
    }

    /// Arrival times of the bench messages shown so far, by index.
    var shownTimes: [Int: UInt64] {
        condition.lock(); defer { condition.unlock() }
        return shown
    }

    /// Waits until messages with every index in `indices` were shown, or nothing new arrived for
    /// `quiet` seconds; returns how many of them were shown.
    @discardableResult
    func waitForShown(_ indices: some Collection<Int>, quiet: Double) -> Int {
        condition.lock()
        defer { condition.unlock() }
        var have = indices.count(where: { shown[$0] != nil })
        while have < indices.count && !exited {
            let before = have
            let waited = condition.wait(until: Date().addingTimeInterval(quiet))
            have = indices.count(where: { shown[$0] != nil })
            if !waited && have == before { break }
        }
        return have
    }

    // MARK: Input

    /// Writes one line to the node's standard input (text or a command), blocking if the pipe is full.
    func post(_ line: String) throws { try child.post(line) }

    /// Writes many lines at once; a full pipe blocks, which is the node's back pressure.
    func write(_ bytes: [UInt8]) throws { try child.write(bytes) }

    /// Pins `peer` under `name`, with its address if this node is to dial it. The node picks the
    /// change up by itself, as it does when a person runs `meshchat peer add`.
    func pin(_ name: String, key: SigningPublicKey, port: Int?) throws {
        try home.addPeer(PinnedPeer(name: name, key: key, address: port.map { HostPort(host: "127.0.0.1", port: $0) }))
    }

    /// Resident set size in KiB.
    var residentKiB: Double? { NodeChild.statusKiB("VmRSS", of: pid).map(Double.init) }

    /// How long a node may take to exit after SIGTERM before it is killed: a SIGTERM that lands right
    /// after `ready`, before the node listens for signals, can be lost.
    static let stopGraceSeconds = 5.0

    /// Stops the node with SIGTERM (it closes links with BYE 6), SIGKILL after `stopGraceSeconds`.
    func stop() {
        child.stop(killAfter: Self.stopGraceSeconds)
        ChildProcesses.stopped(pid)
    }
}

/// A temporary folder for the run's homes and files, removed at the end.
struct Workspace {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "meshchat-bench.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchFailure("cannot make a temporary folder") }
        path = String(cString: made)
    }

    /// A fresh home path (not yet created; the node creates it 0700).
    func home(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `binary ARGS` to completion and returns its exit status and standard output.
func run(_ binary: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
