import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// The in-memory store honours the `MessageStore` contract the SQLite store will also honour.
@Suite struct MessageStoreTests {
    @Test func insertIsIdempotentByIdAndTracksSequences() throws {
        let bench = Bench()
        let store = InMemoryMessageStore()
        let first = try bench.room("a", seq: 3)
        let reuse = try bench.room("b", seq: 3)
        #expect(store.highestSeq(author: bench.author.publicKey) == 0)
        #expect(store.insert(first) == .stored)
        #expect(store.insert(first.withHops(2)) == .notStored, "the id, not the hops, identifies an envelope")
        #expect(store.insert(reuse) == .storedReusingSeq)
        #expect(store.count == 2)
        #expect(store.highestSeq(author: bench.author.publicKey) == 3)
        #expect(store.highestSeq(author: bench.me.publicKey) == 0)
        #expect(store.insert(try bench.room("c", seq: 4)) == .stored)
    }

    @Test func recentIsOldestFirstAndFiltersByRoom() throws {
        let bench = Bench()
        let store = InMemoryMessageStore()
        let envelopes = [
            try bench.room("1", seq: 1, room: "a"), try bench.room("2", seq: 2, room: "b"),
            try bench.direct(Array("3".utf8), to: bench.left, seq: 3), try bench.room("4", seq: 4, room: "a"),
            try bench.room("5", seq: 5, room: "a"),
        ]
        for envelope in envelopes { _ = store.insert(envelope) }
        #expect(store.recent(room: "a", limit: 2) == [envelopes[3], envelopes[4]])
        #expect(store.recent(room: "a", limit: 10) == [envelopes[0], envelopes[3], envelopes[4]])
        #expect(store.recent(room: nil, limit: 3) == Array(envelopes[2...]))
        #expect(store.recent(room: "", limit: 10).isEmpty, "direct messages belong to no room")
        #expect(store.recent(room: nil, limit: 0).isEmpty)
    }
}
