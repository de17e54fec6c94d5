import MeshCrypto
import MeshGossip
import MeshHarness
import MeshNode
import MeshStore
import MeshWire
import Testing

/// A received batch the store could not keep is not lost: SQLite rolls the whole batch back, the
/// node forgets which of its ids it took for stored, and when the sender offers them again
/// (its next sync does) they are checked and stored like new ones.
@Suite struct StoreFailureTests {
    @Test func aBatchThatFailedToStoreIsTakenWhenOfferedAgain() async throws {
        let store = try FailingStore(inner: SQLiteMessageStore.inMemory())
        let target = try await TargetNode(store: store)
        let client = try target.linkedClient()
        let first = try target.envelope(seq: 1, text: "first"), second = try target.envelope(seq: 2, text: "second")
        store.failing = second.id

        // Both frames in one write, so they arrive in one read and are stored as one batch: the
        // first is inserted, the second fails, and the transaction takes the first back out.
        try client.send(Framing.frame(client.encrypt(Plaintext.message(envelope: first.encoded()).encoded()))
                        + Framing.frame(client.encrypt(Plaintext.message(envelope: second.encoded()).encoded())))
        let failed = await target.events.first { if case .error(message: let text) = $0 { text.contains("Could not store 2") } else { false } }
        #expect(failed != nil, "the batch of two failed to store as one")

        store.failing = nil
        for envelope in [first, second] { try client.send(.message(envelope: envelope.withHops(1).encoded())) }
        for envelope in [first, second] {
            let shown = await target.events.first { if case .message(let message) = $0 { message.id == envelope.id } else { false } }
            #expect(shown != nil, "\(envelope.id) was dropped as a duplicate of a message that was never stored")
        }
        #expect(try store.inner.contains(first.id) && store.inner.contains(second.id))
        await target.stop()
    }

    @Test func nothingOfABatchThatFailedToStoreIsForwarded() async throws {
        let store = try FailingStore(inner: SQLiteMessageStore.inMemory())
        let target = try await TargetNode(store: store)
        let sender = try target.linkedClient(), neighbour = try target.linkedClient(as: target.bob)
        let first = try target.envelope(seq: 1, text: "first"), second = try target.envelope(seq: 2, text: "second")
        store.failing = second.id
        try sender.send(Framing.frame(sender.encrypt(Plaintext.message(envelope: first.encoded()).encoded()))
                        + Framing.frame(sender.encrypt(Plaintext.message(envelope: second.encoded()).encoded())))
        _ = await target.events.first { if case .error(message: let text) = $0 { text.contains("Could not store 2") } else { false } }

        // The next message is stored: the first envelope of the failed batch must not go out before it.
        let third = try target.envelope(seq: 3, text: "third")
        try sender.send(.message(envelope: third.encoded()))
        var forwarded: [MessageID] = []
        while forwarded.last != third.id, let plaintext = try neighbour.nextPlaintext() {
            if case .message(let bytes) = plaintext { forwarded.append(try Envelope.parse(bytes).id) }
        }
        #expect(forwarded == [third.id])
        await target.stop()
    }
}

/// The SQLite store, failing the insert of one chosen envelope as a full disk would.
private final class FailingStore: MessageStore, @unchecked Sendable {
    // Used from the node's loop only, and set by the test between the node's steps.
    let inner: SQLiteMessageStore
    var failing: MessageID?

    init(inner: SQLiteMessageStore) { self.inner = inner }

    func insert(_ envelope: Envelope) throws -> InsertOutcome {
        if envelope.id == failing { throw StoreError.failed(path: ":memory:", reason: "the test's full disk") }
        return try inner.insert(envelope)
    }
    func contains(_ id: MessageID) throws -> Bool { try inner.contains(id) }
    func highestSeq(author: SigningPublicKey) throws -> UInt64 { try inner.highestSeq(author: author) }
    func recent(room: String?, limit: Int) throws -> [Envelope] { try inner.recent(room: room, limit: limit) }
    func transaction<T>(_ body: () throws -> T) throws -> T { try inner.transaction(body) }
    func frontier() throws -> [SigningPublicKey: SeqFrontier] { try inner.frontier() }
    func envelopes(author: SigningPublicKey, after: UInt64, through: UInt64, limit: Int) throws -> [Envelope] {
        try inner.envelopes(author: author, after: after, through: through, limit: limit)
    }
}
