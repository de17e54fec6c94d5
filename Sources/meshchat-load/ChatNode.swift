import Foundation
import MeshHarness

/// One `meshchat start --json` process driven through its standard input and read through its
/// JSON events (DESIGN.md), the way a script drives a node.
///
/// A reader thread parses the events; `lock` serialises everything it publishes.
final class ChatNode: @unchecked Sendable {
    /// A `message` event of the load test, stamped when the driver read it.
    struct Receipt {
        /// The text's phase tag, sender and index: which message this is.
        let tag: LoadText
        /// When the driver read the event (monotonic ns).
        let receivedAt: UInt64
    }

    /// A node did not do what the driver waited for.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let name: String
    let home: String
    private let child: NodeChild
    private let lock = NSLock()
    private var receipts: [Receipt] = []
    private var eventCounts: [String: Int] = [:]
    private var rejectionReasons: [String: Int] = [:]
    private var readyListen: String?
    private var linkedPeers: Set<String> = []

    /// Starts `binary start --json --home home --listen listen`, its standard error into home/stderr.log.
    init(binary: String, name: String, home: String, listen: String) throws {
        self.name = name
        self.home = home
        child = NodeChild(binary: binary, name: name, arguments: ["--home", home, "--listen", listen],
                          errors: .file(home + "/stderr.log"))
        try child.start { [self] lines, receivedAt in
            for line in lines { parse(line: Data(line), receivedAt: receivedAt) }
        }
    }

    /// The process id, for /proc/PID/status.
    var pid: Int32 { child.pid }

    private func parse(line: Data, receivedAt: UInt64) {
        guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
              let event = object["event"] as? String else { return }
        lock.withLock {
            eventCounts[event, default: 0] += 1
            switch event {
            case "message":
                if let text = object["text"] as? String, let tag = LoadText(parsing: text) {
                    receipts.append(Receipt(tag: tag, receivedAt: receivedAt))
                }
            case "rejected":
                rejectionReasons[object["reason"] as? String ?? "?", default: 0] += 1
            case "ready":
                readyListen = object["listen"] as? String
            case "link-up":
                if let peer = object["peer"] as? String { linkedPeers.insert(peer) }
            case "link-down":
                if let peer = object["peer"] as? String { linkedPeers.remove(peer) }
            default:
                break
            }
        }
    }

    /// Posts `text` to the node's current room, as a person typing it would.
    func post(_ text: String) throws {
        do {
            try child.post(text)
        } catch {
            throw Failure(description: "\(name) stopped reading its input; see \(home)/stderr.log")
        }
    }

    /// The load-test messages received so far.
    var allReceipts: [Receipt] { lock.withLock { receipts } }

    /// How many events of each kind the node wrote.
    var counts: [String: Int] { lock.withLock { eventCounts } }

    /// How many `rejected` events the node wrote, by reason.
    var rejections: [String: Int] { lock.withLock { rejectionReasons } }

    /// Waits for the `ready` event and returns the port it listens on.
    func listenPort(within seconds: Double = 20) throws -> UInt16 {
        let listen = try waitFor("ready", within: seconds) { $0.readyListen }
        guard let port = listen.split(separator: ":").last.flatMap({ UInt16($0) }) else {
            throw Failure(description: "\(name) is listening on \(listen), which has no port")
        }
        return port
    }

    /// Waits until the node has a link up with `peer`.
    func waitForLink(to peer: String, within seconds: Double = 20) throws {
        _ = try waitFor("a link to \(peer)", within: seconds) { $0.linkedPeers.contains(peer) ? true : nil }
    }

    private func waitFor<T>(_ what: String, within seconds: Double, _ check: (ChatNode) -> T?) throws -> T {
        let deadline = Monotonic.now() + UInt64(seconds * 1e9)
        while Monotonic.now() < deadline {
            if let value = lock.withLock({ check(self) }) { return value }
            guard child.isRunning else { throw Failure(description: "\(name) exited; see \(home)/stderr.log") }
            usleep(20_000)
        }
        throw Failure(description: "\(name) gave no \(what) within \(Int(seconds)) s; see \(home)/stderr.log")
    }

    /// Stops the node with SIGTERM (it closes its links with BYE 6) and waits for it to exit.
    func stop() { child.stop() }
}

/// The text of one load-test message: "load PHASE SENDER INDEX SENT_NS", where SENT_NS is the
/// driver's monotonic clock when it wrote the line, so the receiver's event gives the latency.
struct LoadText: Hashable {
    let phase: String
    let sender: String
    let index: Int
    let sentAt: UInt64

    var text: String { "load \(phase) \(sender) \(index) \(sentAt)" }

    init(phase: String, sender: String, index: Int, sentAt: UInt64) {
        self.phase = phase
        self.sender = sender
        self.index = index
        self.sentAt = sentAt
    }

    /// Parses a text this driver wrote; nil for any other text.
    init?(parsing text: String) {
        let parts = text.split(separator: " ")
        guard parts.count == 5, parts[0] == "load", let index = Int(parts[3]), let sentAt = UInt64(parts[4]) else { return nil }
        self.init(phase: String(parts[1]), sender: String(parts[2]), index: index, sentAt: sentAt)
    }
}
