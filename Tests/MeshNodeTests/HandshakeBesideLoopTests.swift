import Dispatch
import MeshCrypto
import MeshHarness
import MeshNode
import MeshWire
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

    /// A node on `worker` with Alice linked (her message 1 answered while the thread was free).
    /// Its handshake timeout is long enough that no held message 1 is abandoned on a slow run
    /// (the whole suite under ThreadSanitizer).
    private func linkedTarget(on worker: WorkerThread) async throws -> (TargetNode, alice: WireClient) {
        let target = try await TargetNode {
            $0.workThreads = worker.pool
            $0.handshakeTimeout = .seconds(300)
        }
        return (target, try target.linkedClient())
    }

    private func stop(_ target: TargetNode, _ worker: WorkerThread) async throws {
        await target.stop()
        try await worker.pool.shutdownGracefully()
    }

    @Test func messagesKeepFlowingWhileAHandshakeIsAnswered() async throws {
        let worker = WorkerThread()
        let (target, alice) = try await linkedTarget(on: worker)
        worker.hold()
        let bob = try WireClient(port: target.port)
        try bob.startHandshake(as: target.bob, to: target.node.key)

        // A lone envelope is verified on the loop: shown while Bob's message 1 waits for the worker.
        try alice.send(.message(envelope: try target.envelope(seq: 1).encoded()))
        try alice.ping()
        #expect(target.events.messages.map(\.seq) == [1])
        #expect(!bob.hasInput(within: 0.2), "message 2 waits for the worker thread, not the loop")

        worker.release()
        try bob.finishHandshake()
        try bob.ping()
        try await stop(target, worker)
    }

    @Test func aReplayArrivingWhileTheOriginalIsAnsweredIsRefused() async throws {
        let worker = WorkerThread()
        let (target, _) = try await linkedTarget(on: worker)
        worker.hold()
        let original = try WireClient(port: target.port)
        try original.startHandshake(as: target.bob, to: target.node.key)
        let replay = try WireClient(port: target.port)
        try replay.send(original.opening)

        // Both are answered on the worker before either is checked; the loop's check sends message 2
        // for whichever comes back first and refuses the other.
        worker.release()
        let answers = try [original, replay].map { try $0.nextFrame() }
        #expect(answers.compactMap { $0 }.count == 1)
        #expect(await target.rejection("replayed handshake") != nil)
        try await stop(target, worker)
    }

    @Test func aPeerUnpinnedWhileItsMessage1IsAnsweredIsRefused() async throws {
        let worker = WorkerThread()
        let (target, alice) = try await linkedTarget(on: worker)
        worker.hold()
        let bob = try WireClient(port: target.port)
        try bob.startHandshake(as: target.bob, to: target.node.key)
        // Bob's message 1 was in the node's socket before Alice's PING, so the node has read it.
        try alice.ping()

        try NodeHome(explicit: target.directory).removePeer(named: "bob")
        #expect(await target.events.first { $0 == .notice("bob is no longer trusted; its link is closed.") } != nil)
        worker.release()
        #expect(try bob.readUntilClosed() == [], "no message 2 for a key unpinned meanwhile")
        #expect(await target.rejection("key not pinned")?.key == target.bob.publicKey)
        try await stop(target, worker)
    }
}
