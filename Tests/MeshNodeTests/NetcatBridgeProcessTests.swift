import Foundation
import Testing

/// The real `openssl` and `nc` (Debian's netcat-openbsd), when both are installed.
enum NetcatTools {
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var available: Bool { find("openssl") != nil && find("nc") != nil }

    /// The tutorial's encryption options, shared by its sender and receiver.
    static let encOptions = "-aes-256-cbc -salt -base64 -pbkdf2"

    /// A private (0600) file holding `passphrase` and a newline, as `echo pass > file` writes it.
    static func passphraseFile(_ passphrase: String, mode: mode_t = 0o600) -> String {
        let path = NSTemporaryDirectory() + "meshchat-netcat-\(UUID().uuidString.prefix(8)).pass"
        FileManager.default.createFile(atPath: path, contents: Data((passphrase + "\n").utf8), attributes: [.posixPermissions: Int(mode)])
        return path
    }

    /// Runs the tutorial's sender to completion: `echo "$message" | openssl enc ... | nc -N host port`.
    @discardableResult
    static func send(_ message: String, passphrase: String, port: Int, extraEncOptions: String = "") throws -> CommandResult {
        try runShell("echo \"$M\" | openssl enc \(encOptions) \(extraEncOptions) -pass pass:\"$P\" | nc -N 127.0.0.1 \"$PORT\"",
                     environment: ["M": message, "P": passphrase, "PORT": "\(port)"])
    }

    static func runShell(_ script: String, environment: [String: String]) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A TCP port below 32768 that nothing listens on now (tests use port 0 or ports below 32768):
    /// random in 20000..<32768, checked by binding it, retried on conflict.
    static func freePortBelow32768() -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20000..<32768)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
        Issue.record("no free port below 32768")
        return 0
    }
}

/// The tutorial's receiver, restarting after every message:
/// `while true; do nc -l PORT | openssl enc -d ...; done`, its output collected.
final class TutorialReceiver: @unchecked Sendable {
    // `lock` serialises `output` and `waiters`, written by the pipe reader's thread.
    private let lock = NSLock()
    private var output = ""
    private var waiters: [(text: String, continuation: CheckedContinuation<Void, Never>)] = []
    private let process = Process()

    init(port: Int, passphrase: String) throws {
        // Foundation starts the shell as a process-group leader, so stopping its group stops its nc and openssl too.
        // nc's standard input is /dev/null so that it ends when the sender closes, as at a terminal after Ctrl-D.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "while true; do nc -l 127.0.0.1 \"$PORT\" < /dev/null | openssl enc -d \(NetcatTools.encOptions) -pass pass:\"$P\"; done"]
        process.environment = ProcessInfo.processInfo.environment.merging(["PORT": "\(port)", "P": passphrase]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            let ready: [CheckedContinuation<Void, Never>] = self.lock.withLock {
                self.output += String(decoding: data, as: UTF8.self)
                let ready = self.waiters.filter { self.output.contains($0.text) }.map(\.continuation)
                self.waiters.removeAll { self.output.contains($0.text) }
                return ready
            }
            ready.forEach { $0.resume() }
        }
        try process.run()
    }

    /// Everything the receiver printed so far.
    var text: String { lock.withLock { output } }

    /// Waits until the output contains `text`, failing after `NodeProcess.eventTimeout` instead of hanging.
    func waitFor(_ text: String) async throws {
        let arrived = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let already = self.lock.withLock {
                        if self.output.contains(text) { return true }
                        self.waiters.append((text, continuation))
                        return false
                    }
                    if already { continuation.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: NodeProcess.eventTimeout)
                return false
            }
            let first = await group.next() ?? false
            if !first {
                // Release the waiter so the group can finish.
                let stale = self.lock.withLock { () -> [CheckedContinuation<Void, Never>] in
                    let matching = self.waiters.filter { $0.text == text }.map(\.continuation)
                    self.waiters.removeAll { $0.text == text }
                    return matching
                }
                stale.forEach { $0.resume() }
            }
            group.cancelAll()
            return first
        }
        if !arrived { throw NodeProcess.Timeout(description: "the netcat receiver never printed \(text); it printed: \(self.text)") }
    }

    /// Stops the shell loop and its nc and openssl.
    func stop() {
        guard process.isRunning else { return }
        // SIGKILL: a shell waiting on its pipeline does not act on SIGTERM until the pipeline ends.
        kill(-process.processIdentifier, SIGKILL)
        kill(process.processIdentifier, SIGKILL) // in case it was not its group's leader after all
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// The netcat bridge with the real tutorial pipelines (docs/netcat-bridge.md).
@Suite(.serialized, .enabled(if: MeshChatBinary.isAvailable, "build the meshchat executable first (scripts/test does)"),
       .enabled(if: NetcatTools.available, "the netcat bridge tests need openssl and nc (apt-get install openssl netcat-openbsd)"))
struct NetcatBridgeProcessTests {
    static let passphrase = "tutorial password"

    /// alice runs a bridge (with `bridgeArguments`), bob dials her; returns both and the bridge's port.
    func bridgedPair(_ bridgeArguments: [String] = []) async throws -> (alice: NodeProcess, bob: NodeProcess, bridgePort: Int) {
        let a = TestHome("a"), b = TestHome("b")
        let aKey = try a.initialize(name: "alice"), bKey = try b.initialize(name: "bob")
        try a.pin("bob", bKey)
        let alice = try NodeProcess(home: a, extraArguments: [
            "--netcat-listen", "127.0.0.1:0", "--netcat-passphrase-file", NetcatTools.passphraseFile(Self.passphrase),
        ] + bridgeArguments)
        let bridge = try await alice.waitFor(event: "netcat-bridge")
        let bridgePort = Int((bridge["listen"] as? String ?? "").split(separator: ":").last ?? "") ?? 0
        try b.pin("alice", aKey, "127.0.0.1:\(try await alice.listenPort())")
        let bob = try NodeProcess(home: b)
        try await alice.waitFor(event: "link-up", where: ["peer": "bob"])
        try await bob.waitFor(event: "link-up", where: ["peer": "alice"])
        return (alice, bob, bridgePort)
    }

    @Test func theTutorialSenderReachesARoomAtAnotherNodeAndAWrongPasswordIsDropped() async throws {
        let (alice, bob, port) = try await bridgedPair()
        defer { alice.stop(); bob.stop() }

        // Wrong password: reported at alice, naming where it came from, and nothing posted.
        let wrong = try NetcatTools.send("not for you", passphrase: "wrong password", port: port)
        #expect(wrong.status == 0, "\(wrong.stderr)")
        let error = try await alice.waitFor(event: "error")
        let report = error["message"] as? String ?? ""
        #expect(report.contains("127.0.0.1:") && report.contains("did not decrypt"), "\(report)")
        #expect(!report.contains(Self.passphrase) && !report.contains("wrong password"))

        // More than one message may be: cut, reported, nothing posted.
        // (nc may see the connection cut under it; only the node's side matters.)
        _ = try NetcatTools.runShell("head -c 40000 /dev/zero | tr '\\0' A | nc -N 127.0.0.1 \"$PORT\"", environment: ["PORT": "\(port)"])
        try await alice.waitFor(event: "error", after: error)

        // The tutorial's sender with the right password: posted by alice, marked, shown at bob.
        let sent = try NetcatTools.send("hello from the netcat side", passphrase: Self.passphrase, port: port)
        #expect(sent.status == 0, "\(sent.stderr)")
        let atBob = try await bob.waitFor(event: "message")
        #expect(atBob["text"] as? String == "[netcat] hello from the netcat side")
        #expect(atBob["from"] as? String == "alice")
        #expect(atBob["room"] as? String == "general")
        let atAlice = try await alice.waitFor(event: "message")
        #expect(atAlice["text"] as? String == "[netcat] hello from the netcat side")
        // The first message bob saw was the right one: the wrong one and the flood were never posted.
        #expect(bob.allEvents.filter { $0["event"] as? String == "message" }.count == 1)
        #expect(alice.allEvents.filter { $0["event"] as? String == "error" }.count == 2)
    }

    @Test func roomMessagesReachTheTutorialReceiverInOrderWhileItRestarts() async throws {
        let receiverPort = NetcatTools.freePortBelow32768()
        let (alice, bob, bridgePort) = try await bridgedPair(["--netcat-forward", "127.0.0.1:\(receiverPort)"])
        defer { alice.stop(); bob.stop() }

        // The receiver is not up yet: alice must keep this one and retry.
        bob.type("first, before the receiver is up")
        try await alice.waitFor(event: "message", where: ["text": "first, before the receiver is up"])
        let receiver = try TutorialReceiver(port: receiverPort, passphrase: Self.passphrase)
        defer { receiver.stop() }
        try await receiver.waitFor("bob: first, before the receiver is up\n")

        // Back to back, so the receiver's loop is restarting while the next ones arrive.
        bob.type("second")
        bob.type("third")
        try await alice.waitFor(event: "message", where: ["text": "third"])
        alice.type("fourth, alice's own")
        try await alice.waitFor(event: "sent")

        // What came in through the bridge is not sent back out to the netcat side.
        try NetcatTools.send("from the netcat side", passphrase: Self.passphrase, port: bridgePort)
        try await alice.waitFor(event: "message", where: ["text": "[netcat] from the netcat side"])
        bob.type("fifth")
        try await receiver.waitFor("bob: fifth\n")
        #expect(receiver.text == """
            bob: first, before the receiver is up
            bob: second
            bob: third
            alice: fourth, alice's own
            bob: fifth

            """)
    }

    @Test func badBridgeOptionsGetOneSentenceAndANonZeroExit() throws {
        let home = TestHome("a")
        _ = try home.initialize(name: "alice")
        let good = NetcatTools.passphraseFile(Self.passphrase)
        let cases: [(arguments: [String], says: String)] = [
            (["--netcat-listen", "127.0.0.1:0", "--netcat-passphrase-file", "/nonexistent/netcat.pass"], "does not exist"),
            (["--netcat-listen", "127.0.0.1:0", "--netcat-passphrase-file", NetcatTools.passphraseFile(Self.passphrase, mode: 0o644)], "can be read by others"),
            (["--netcat-listen", "127.0.0.1:0", "--netcat-passphrase-file", NetcatTools.passphraseFile("", mode: 0o600)], "is empty"),
            (["--netcat-listen", "localhost", "--netcat-passphrase-file", good], "is not HOST:PORT"),
            (["--netcat-listen", "127.0.0.1:0", "--netcat-passphrase-file", good, "--netcat-forward", "nowhere"], "is not HOST:PORT"),
            (["--netcat-listen", "127.0.0.1:0", "--netcat-passphrase-file", good, "--netcat-iter", "0"], "--netcat-iter must be"),
            (["--netcat-passphrase-file", good], "needs --netcat-listen"),
            (["--netcat-listen", "127.0.0.1:0"], "needs --netcat-passphrase-file"),
        ]
        for (arguments, says) in cases {
            let result = try home.run(["start", "--json", "--listen", "127.0.0.1:0"] + arguments, stdin: "")
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(says), "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains(Self.passphrase))
        }
    }
}
