import Foundation
import MeshCrypto
import MeshHarness
@testable import MeshNode
import MeshWire
import NIOCore
import NIOPosix
import Testing

// Signatures checked beside the event loop (SignatureVerifier, docs/limits.md "Envelopes awaiting
// verification"): order, verdicts, what waits behind them, and the per-link backpressure. The
// node-level tests run a real node over loopback; they wait on events and PONGs, never on time.

/// Room envelopes by one author, seqs 1...count, signed now.
private func envelopes(_ count: Int, by author: SigningPrivateKey = SigningPrivateKey()) throws -> [Envelope] {
    let now = UInt64(Date().timeIntervalSince1970 * 1000)
    return try (1...count).map { seq in
        try Envelope.signed(kind: .room, by: author, seq: UInt64(seq), timestamp: now,
                            nickname: "tester", room: "general", recipient: nil, body: Array("m\(seq)".utf8))
    }
}

/// `envelope` with one bit of its signature flipped: it parses, and its signature does not verify.
private func forged(_ envelope: Envelope) throws -> Envelope {
    var bytes = envelope.encoded()
    bytes[bytes.count - 10] ^= 0x01
    return try Envelope.parse(bytes)
}

/// A one-thread pool whose thread the test occupies, so work given to it waits until `release()`.
private struct HeldPool {
    let pool: NIOThreadPool
    private let hold: DispatchSemaphore
    private let held: EventLoopFuture<Void>

    init(completingOn loop: EventLoop) {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let hold = DispatchSemaphore(value: 0)
        held = pool.runIfActive(eventLoop: loop) { hold.wait() }
        self.pool = pool
        self.hold = hold
    }

    /// Frees the thread for the work queued behind it.
    func release() async throws {
        hold.signal()
        try await held.get()
    }
}

@Suite(.serialized)
struct SignatureVerifierTests {
    /// What a verifier handed back, in the order it did, and the verifier itself; used on its loop only.
    private final class Deliveries: @unchecked Sendable {
        var log: [String] = []
        var verifier: SignatureVerifier<Int>?
    }

    @Test func batchesAndStepsLeaveInTheOrderTheyCameWithOneVerdictPerEnvelope() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let deliveries = Deliveries()
        let limit = SignatureVerifier<Int>.inlineBatchLimit
        // Off the loop, a lone envelope, off the loop with a forgery inside, on the loop.
        let sizes = [limit + 1, 1, limit + 2, limit]
        let all = try envelopes(sizes.reduce(0, +))
        let badIndex = limit + 3
        let bad = try forged(all[badIndex])
        let done = loop.makePromise(of: Void.self)
        try await loop.submit {
            let verifier = SignatureVerifier<Int>(work: OffLoopWork(eventLoop: loop, threads: .singleton)) { items, verdicts in
                for (item, valid) in zip(items, verdicts) { deliveries.log.append("\(item.tag)\(valid ? "" : " bad")") }
            }
            var next = 0
            func submitNext(_ count: Int) {
                verifier.submit((next..<next + count).map { .init(envelope: $0 == badIndex ? bad : all[$0], tag: $0) })
                next += count
            }
            submitNext(sizes[0])
            verifier.afterPending { deliveries.log.append("step A") }
            submitNext(sizes[1])
            submitNext(sizes[2])
            verifier.afterPending { deliveries.log.append("step B") }
            submitNext(sizes[3])
            verifier.afterPending { done.succeed() }
            #expect(!verifier.isIdle)
            deliveries.verifier = verifier
        }.get()
        try await done.futureResult.get()
        let log = try await loop.submit { deliveries.log }.get()
        var expected = (0..<sizes[0]).map { "\($0)" } + ["step A"]
        expected += (sizes[0]..<sizes[0] + sizes[1] + sizes[2]).map { $0 == badIndex ? "\($0) bad" : "\($0)" } + ["step B"]
        expected += (all.count - sizes[3]..<all.count).map { "\($0)" }
        #expect(log == expected)
        try await group.shutdownGracefully()
    }

    /// A small batch costs no handoff: it is verified on the loop at once. A larger one waits for a
    /// worker, and a small batch after it waits behind it, so verdicts still leave in order.
    @Test func aBatchUpToTheLimitIsVerifiedOnTheLoopAndALargerOneOnAWorker() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let held = HeldPool(completingOn: loop)
        let deliveries = Deliveries()
        let limit = SignatureVerifier<Int>.inlineBatchLimit
        let all = try envelopes(3 * limit + 1)
        func items(_ range: Range<Int>) -> [SignatureVerifier<Int>.Item] { range.map { .init(envelope: all[$0], tag: $0) } }
        let logAfterSmallBatch = try await loop.submit {
            let verifier = SignatureVerifier<Int>(work: OffLoopWork(eventLoop: loop, threads: held.pool)) { items, _ in
                deliveries.log += items.map { "\($0.tag)" }
            }
            deliveries.verifier = verifier
            verifier.submit(items(0..<limit))
            let logAfterSmallBatch = deliveries.log
            verifier.submit(items(limit..<2 * limit + 1))
            verifier.submit(items(2 * limit + 1..<3 * limit + 1))
            return logAfterSmallBatch
        }.get()
        #expect(logAfterSmallBatch == (0..<limit).map { "\($0)" }, "verified and handed back on the loop, no worker free")
        #expect(try await loop.submit { deliveries.log }.get().count == limit, "the larger batch waits for the worker")
        try await held.release()
        let done = loop.makePromise(of: Void.self)
        loop.execute { deliveries.verifier?.afterPending { done.succeed() } }
        try await done.futureResult.get()
        #expect(try await loop.submit { deliveries.log }.get() == all.indices.map { "\($0)" })
        try await held.pool.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    @Test func aStepRunsAtOnceWhenNothingIsPending() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let ran = try await loop.submit {
            let verifier = SignatureVerifier<Int>(work: OffLoopWork(eventLoop: loop, threads: .singleton)) { _, _ in }
            var ran = false
            verifier.afterPending { ran = true }
            return ran && verifier.isIdle
        }.get()
        #expect(ran)
        try await group.shutdownGracefully()
    }

    @Test func stoppedWithABatchOutItHandsNothingBackAndItsStopWaitsForTheBatch() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        // The pool's one thread is held, so the batch stays out until the test lets it go.
        let held = HeldPool(completingOn: loop)
        let deliveries = Deliveries()
        let all = try envelopes(SignatureVerifier<Int>.inlineBatchLimit + 3)
        let stopped = try await loop.submit {
            let verifier = SignatureVerifier<Int>(work: OffLoopWork(eventLoop: loop, threads: held.pool)) { items, _ in
                deliveries.log += items.map { "\($0.tag)" }
            }
            // Larger than what is verified on the loop, so it goes to the held worker.
            verifier.submit(all.prefix(SignatureVerifier<Int>.inlineBatchLimit + 1).enumerated().map { .init(envelope: $1, tag: $0) })
            verifier.afterPending { deliveries.log.append("step") }
            let stopped = verifier.stop()
            stopped.whenSuccess { deliveries.log.append("stopped") }
            // Work given after the stop is dropped too, a lone envelope and a step included.
            verifier.submit(all.suffix(2).enumerated().map { .init(envelope: $1, tag: $0 + 6) })
            verifier.submit([.init(envelope: all[0], tag: 8)])
            verifier.afterPending { deliveries.log.append("late step") }
            deliveries.verifier = verifier
            return stopped
        }.get()
        #expect(try await loop.submit { deliveries.log }.get() == [], "the stop waits while the batch is out")
        try await held.release()
        try await stopped.get()
        #expect(try await loop.submit { deliveries.log }.get() == ["stopped"])
        try await held.pool.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    // MARK: On a node

    @Test func aBadSignatureInTheMiddleIsCountedAndTheRestAreStoredInOrder() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        var sent = try envelopes(9)
        sent[4] = try forged(sent[4])
        // One write, so the node reads them together and verifies them as a batch.
        try client.send(sent.flatMap { try Framing.frame(client.encrypt(Plaintext.message(envelope: $0.encoded()).encoded())) })
        // The PONG is answered behind the envelopes, so every one of them has been judged.
        try client.ping()
        #expect(target.events.messages.map(\.seq) == [1, 2, 3, 4, 6, 7, 8, 9])
        let counters = try await target.node.status().counters
        #expect(counters.received == 9 && counters.invalid == 1 && counters.accepted == 8)
        await target.stop()
    }

    @Test func moreThanAHundredBadSignaturesInAMinuteIsStillByeThree() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        let bad = try envelopes(101).map(forged)
        try client.send(bad.prefix(100).flatMap { try Framing.frame(client.encrypt(Plaintext.message(envelope: $0.encoded()).encoded())) })
        // A hundred is the limit, not over it.
        try client.ping()
        try client.send(.message(envelope: bad[100].encoded()))
        #expect(try client.expectByeThenClose() == .tooManyInvalidEnvelopes)
        #expect(try await target.node.status().counters.invalid == 101)
        await target.stop()
    }

    @Test func aSyncDoneWaitsForTheEnvelopesBeforeIt() async throws {
        let target = try await TargetNode()
        let count = 300
        let answer = try envelopes(count)
        let author = answer[0].author
        let frontier = SyncMessage.frontier(last: true, entries: [FrontierEntry(author: author, contiguous: UInt64(count), highest: UInt64(count))])

        // Alice offers the author's messages and is asked for them.
        let alice = try target.linkedClient()
        try alice.sendPlaintextBytes(frontier.encoded())
        let requestID = try nextSyncRequest(alice).id
        // Bob offers the same; the node holds him back while alice answers (docs/sync-protocol.md 3).
        let bob = try target.linkedClient(as: target.bob)
        try bob.sendPlaintextBytes(frontier.encoded())
        #expect(try syncRequestsBeforePong(bob) == 0)

        // Alice's whole answer and its DONE in one write.
        var bytes = try answer.flatMap { try Framing.frame(alice.encrypt(Plaintext.message(envelope: $0.encoded()).encoded())) }
        bytes += try Framing.frame(alice.encrypt(SyncMessage.done(id: requestID).encoded()))
        try alice.send(bytes)
        try alice.ping()
        #expect(target.events.messages.count == count)
        // Had the DONE been handled before the answer was stored, the node would have found the
        // seqs missing and asked bob for them.
        #expect(try syncRequestsBeforePong(bob) == 0)
        await target.stop()
    }

    @Test func aLinkOverItsBytesAwaitingVerificationPausesAndResumesLosingNothing() async throws {
        let target = try await TargetNode { $0.limits.maxBytesAwaitingVerificationPerLink = 2048 }
        let client = try target.linkedClient()
        let sent = try envelopes(500)
        try client.send(sent.flatMap { try Framing.frame(client.encrypt(Plaintext.message(envelope: $0.encoded()).encoded())) })
        try client.ping()
        #expect(target.events.messages.map(\.seq) == Array(1...500))
        #expect(try await target.node.limitCounters().linkReadsPaused > 0)
        // Reading resumed for good: the link still answers.
        try client.ping()
        await target.stop()
    }

    @Test func aLinkClosedWhileItsBatchIsOutLeavesTheNodeWorking() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        let sent = try envelopes(400)
        try client.send(sent.flatMap { try Framing.frame(client.encrypt(Plaintext.message(envelope: $0.encoded()).encoded())) })
        client.disconnect()
        let down = await target.events.first { if case .linkDown(peer: "alice", _) = $0 { true } else { false } }
        #expect(down != nil)
        // What was read before the close is still stored in order; the node goes on serving others.
        let bob = try target.linkedClient(as: target.bob)
        let late = try target.envelope(by: target.bob, text: "after the close")
        try bob.send(.message(envelope: late.encoded()))
        try bob.ping()
        let fromTheClosedLink = target.events.messages.filter { $0.author == sent[0].author }.map(\.seq)
        #expect(fromTheClosedLink == fromTheClosedLink.indices.map { UInt64($0 + 1) }, "a prefix of what was sent, in order")
        #expect(target.events.messages.contains { $0.id == late.id })
        await target.stop()
    }
}

/// Reads from `client` until the node sends a SYNC_REQUEST; returns its id and ranges.
private func nextSyncRequest(_ client: WireClient) throws -> (id: UInt32, ranges: [SyncRange]) {
    while let plaintext = try client.nextPlaintext() {
        guard case .unknown(let type, let body) = plaintext,
              case .request(let id, let ranges) = try SyncMessage.parse(type: type, body: body) else { continue }
        return (id, ranges)
    }
    throw HarnessFailure("the node closed instead of sending a SYNC_REQUEST")
}

/// Sends a PING and counts the SYNC_REQUESTs the node sends before its PONG.
private func syncRequestsBeforePong(_ client: WireClient) throws -> Int {
    let token = SecureRandom.uint64()
    try client.send(.ping(token: token))
    var requests = 0
    while let plaintext = try client.nextPlaintext() {
        switch plaintext {
        case .pong(token):
            return requests
        case .unknown(let type, let body):
            if case .request = try SyncMessage.parse(type: type, body: body) { requests += 1 }
        default:
            continue
        }
    }
    throw HarnessFailure("the node closed instead of answering the PING")
}
