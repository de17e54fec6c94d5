import Dispatch
import Foundation
import MeshCrypto
import MeshHarness
import MeshNode
import MeshWire
import NIOConcurrencyHelpers
import NIOPosix
import Testing

/// A node answers message 1 on its worker threads, not on its event loop, and makes the replay
/// and trust checks back on the loop before message 2 goes out (docs/performance.md 15).
///
/// Each test gives the node one worker thread and occupies it, so a message 1 stays unanswered
/// until the test lets the thread go.
@Suite(.serialized)
struct HandshakeBesideLoopTests {
    /// A node's one worker thread, which the test can occupy.
    private final class WorkerThread: Sendable {
        let pool = NIOThreadPool(numberOfThreads: 1)
        private let gate = DispatchSemaphore(value: 0)

        init() { pool.start() }

        /// Occupies the thread until `release()`: work handed to it meanwhile waits, in order.
        func hold() { pool.submit { [gate] _ in gate.wait() } }

        func release() { gate.signal() }
    }

    /// A node on a worker thread the test holds, with Alice linked (her message 1 answered before
    /// the hold) and Bob's message 1 sent and waiting for the worker. The node's handshake timeout
    /// is long enough that Bob's is not abandoned on a slow run (the suite under ThreadSanitizer).
    private struct HeldHandshake {
        let worker = WorkerThread()
        let target: TargetNode
        let alice: WireClient
        let bob: WireClient

        init() async throws {
            target = try await TargetNode { [worker] in
                $0.workThreads = worker.pool
                $0.handshakeTimeout = .seconds(300)
            }
            alice = try target.linkedClient()
            worker.hold()
            bob = try WireClient(port: target.port)
            try bob.startHandshake(as: target.bob, to: target.node.key)
        }

        /// Returns once the node has read Bob's message 1 and handed it to the held worker. Bob's
        /// connection was in the node's accept queue, and his message 1 in its socket, before the
        /// first PING: the loop accepts him at the latest in the tick that answers it, and reads him
        /// at the latest in the tick that reads the second, where a step runs before any task a
        /// test submits next (a stop).
        func bobsMessage1IsOut() throws {
            try alice.ping()
            try alice.ping()
        }

        func stop() async throws {
            await target.stop()
            try await worker.pool.shutdownGracefully()
        }
    }

    @Test func messagesKeepFlowingWhileAHandshakeIsAnswered() async throws {
        let held = try await HeldHandshake()
        // A lone envelope is verified on the loop: shown while Bob's message 1 waits for the worker.
        try held.alice.send(.message(envelope: try held.target.envelope(seq: 1).encoded()))
        try held.alice.ping()
        #expect(held.target.events.messages.map(\.seq) == [1])
        #expect(!held.bob.hasInput(within: 0.2), "message 2 waits for the worker thread, not the loop")

        held.worker.release()
        try held.bob.finishHandshake()
        try held.bob.ping()
        try await held.stop()
    }

    @Test func aReplayArrivingWhileTheOriginalIsAnsweredIsRefused() async throws {
        let held = try await HeldHandshake()
        let replay = try WireClient(port: held.target.port)
        try replay.send(held.bob.opening)

        // Both are answered on the worker before either is checked; the loop's check sends message 2
        // for whichever comes back first and refuses the other.
        held.worker.release()
        let answers = try [held.bob, replay].map { try $0.nextFrame() }
        #expect(answers.compactMap { $0 }.count == 1)
        #expect(await held.target.rejection("replayed handshake") != nil)
        try await held.stop()
    }

    @Test func aPeerUnpinnedWhileItsMessage1IsAnsweredIsRefused() async throws {
        let held = try await HeldHandshake()
        try held.bobsMessage1IsOut()

        try NodeHome(explicit: held.target.directory).removePeer(named: "bob")
        #expect(await held.target.events.first { $0 == .notice("bob is no longer trusted; its link is closed.") } != nil)
        held.worker.release()
        #expect(try held.bob.readUntilClosed() == [], "no message 2 for a key unpinned meanwhile")
        #expect(await held.target.rejection("key not pinned")?.key == held.target.bob.publicKey)
        try await held.stop()
    }

    @Test func aNodeStoppedWithAHandshakeStepOutClosesTheConnectionAndWaitsForTheStep() async throws {
        let held = try await HeldHandshake()
        try held.bobsMessage1IsOut()
        let stopped = StopFlag()
        let node = held.target.node
        let stopping = Task {
            await node.stop()
            stopped.set()
        }
        // Read on a thread of its own: the read blocks until the node closes, and the stop, a task,
        // needs a thread of the cooperative pool meanwhile (a slow run, other suites blocking the rest).
        nonisolated(unsafe) let bob = held.bob
        let bobsBytes = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try bob.readUntilClosed() }) }
        }
        #expect(bobsBytes == [], "the stop closes Bob's connection without message 2")
        // Nothing to await for a stop that must not finish yet: a bounded wait, as `hasInput(within:)`.
        try await Task.sleep(for: .milliseconds(200))
        #expect(!stopped.isSet, "the stop waits for the step still out on the worker, so nothing reaches a closed loop")
        held.worker.release()
        await stopping.value
        try await held.worker.pool.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: held.target.directory)
    }

    private final class StopFlag: Sendable {
        private let lock = NIOLockedValueBox(false)
        var isSet: Bool { lock.withLockedValue { $0 } }
        func set() { lock.withLockedValue { $0 = true } }
    }

    @Test func aDialMakesMessage1AndReadsMessage2BesideTheLoop() async throws {
        let worker = WorkerThread()
        let (listener, port) = try LoopbackSocket.listen()
        // Held before the node starts, so its dial to Alice's address waits for the worker at once.
        worker.hold()
        let target = try await TargetNode(aliceAddress: HostPort(host: "127.0.0.1", port: port)) { [worker] in
            $0.workThreads = worker.pool
            $0.handshakeTimeout = .seconds(300)
        }
        let connection = try listener.accept()
        #expect(!connection.hasInput(within: 0.2), "message 1 waits for the worker thread")
        worker.release()

        // Alice answers as a responder would.
        var responder = ResponderHandshake(identity: LinkIdentity(signingKey: target.alice, nickname: "alice",
                                                                  listenPort: 0, preSharedKey: nil))
        try responder.receive(preamble: try Self.read(Preamble.byteCount, from: connection))
        let (message2, link) = try responder.receive(message1: try Self.readFrame(from: connection), timestamp: HandshakeTimestamps.next(),
                                                     pinnedStaticKey: { $0 == target.node.key ? try? $0.keyAgreementKey() : nil })
            .unlessReplayed(lastAccepted: nil)
        worker.hold()
        try connection.send(message2)
        #expect(!connection.hasInput(within: 0.2), "message 2 is read on the worker thread")
        worker.release()

        // "Right after the handshake the initiator sends a PING." (PROTOCOL.md 4)
        var transport = link.transport
        guard case .ping = try Plaintext.parse(transport.decrypt(try Self.readFrame(from: connection))) else {
            Issue.record("the node's first transport frame is not a PING")
            return
        }
        #expect(await target.events.first { if case .linkUp = $0 { true } else { false } } != nil)
        connection.close()
        await target.stop()
        try await worker.pool.shutdownGracefully()
    }

    /// Exactly `count` bytes from `socket`; fails instead of hanging if they do not come.
    private static func read(_ count: Int, from socket: LoopbackSocket) throws -> [UInt8] {
        guard socket.hasInput(within: 10) else { throw HarnessFailure("nothing from the node within 10 s") }
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try socket.receiveExactly(into: $0) }
        return bytes
    }

    /// The payload of the next frame from `socket`.
    private static func readFrame(from socket: LoopbackSocket) throws -> [UInt8] {
        let length = try read(Framing.lengthPrefixBytes, from: socket)
        return try read(Int(length[0]) << 8 | Int(length[1]), from: socket)
    }
}
