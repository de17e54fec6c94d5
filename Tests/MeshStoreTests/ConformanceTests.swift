import Foundation
import MeshCrypto
import MeshGossip
import MeshStore
import MeshWire
import Testing

/// Every `MessageStore` method, with the expectations `InMemoryMessageStore` sets, run against the
/// reference and the SQLite store alike.
@Suite struct ConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func insertIsIdempotentByIdAndKeepsReusedSeqs(kind: StoreKind) throws {
        let (store, directory) = try kind.make()
        defer { withExtendedLifetime(directory) {} }
        let alice = Author(), bob = Author()
        let first = try alice.room(3, "a"), reuse = try alice.room(3, "b")
        #expect(try store.highestSeq(author: alice.publicKey) == 0)
        #expect(try !store.contains(first.id))
        #expect(try store.insert(first) == .stored)
        #expect(try store.contains(first.id))
        #expect(try store.insert(first.withHops(2)) == .notStored, "the id, not the hops, identifies an envelope")
        #expect(try store.insert(reuse) == .storedReusingSeq, "a reused seq with another id is kept (PROTOCOL.md 6 rule 3)")
        #expect(try store.insert(reuse) == .notStored)
        #expect(try store.highestSeq(author: alice.publicKey) == 3)
        #expect(try store.highestSeq(author: bob.publicKey) == 0)
        #expect(try store.recent(room: nil, limit: 10) == [first, reuse])
    }

    @Test(arguments: StoreKind.allCases)
    func aReusedSeqIsReportedWhereverItFalls(kind: StoreKind) throws {
        let (store, directory) = try kind.make()
        defer { withExtendedLifetime(directory) {} }
        let alice = Author(), bob = Author()
        for seq: UInt64 in [1, 2, 3, 5] { #expect(try store.insert(try alice.room(seq)) == .stored) }
        #expect(try store.insert(try alice.room(2, "again")) == .storedReusingSeq, "below the contiguous seq")
        #expect(try store.insert(try alice.room(5, "again")) == .storedReusingSeq, "the highest, beyond a gap")
        #expect(try store.insert(try alice.room(4)) == .stored, "filling the gap")
        #expect(try store.insert(try alice.room(5, "thrice")) == .storedReusingSeq, "the highest, contiguous")
        #expect(try store.insert(try alice.room(6)) == .stored, "the next seq")
        #expect(try store.insert(try bob.room(5)) == .stored, "another author's seq is his own")
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 6, highest: 6))
    }

    @Test(arguments: StoreKind.allCases)
    func recentIsOldestFirstAndFiltersByRoom(kind: StoreKind) throws {
        let (store, directory) = try kind.make()
        defer { withExtendedLifetime(directory) {} }
        let alice = Author(), bob = Author()
        let envelopes = [
            try alice.room(1, "1", room: "a"), try alice.room(2, "2", room: "b"),
            try alice.direct(3, to: bob.publicKey), try alice.room(4, "4", room: "a", hops: 3),
            try alice.room(5, "5", room: "a"),
        ]
        for envelope in envelopes { #expect(try store.insert(envelope) == .stored) }
        #expect(try store.recent(room: "a", limit: 2) == [envelopes[3], envelopes[4]])
        #expect(try store.recent(room: "a", limit: 10) == [envelopes[0], envelopes[3], envelopes[4]])
        #expect(try store.recent(room: nil, limit: 3) == Array(envelopes[2...]))
        #expect(try store.recent(room: "", limit: 10).isEmpty, "direct messages belong to no room")
        #expect(try store.recent(room: "zzz", limit: 10).isEmpty)
        #expect(try store.recent(room: nil, limit: 0).isEmpty)
        #expect(try store.recent(room: nil, limit: 1).first?.hops == 0)
        #expect(try store.recent(room: "a", limit: 2).first?.hops == 3, "hops as received")
    }

    @Test(arguments: StoreKind.allCases)
    func frontierWithGapsReusedSeqsAndUnknownAuthors(kind: StoreKind) throws {
        let (store, directory) = try kind.make()
        defer { withExtendedLifetime(directory) {} }
        let alice = Author(), bob = Author(), carol = Author()
        #expect(try store.frontier().isEmpty)
        for seq: UInt64 in [1, 2, 4, 6] { _ = try store.insert(try alice.room(seq)) }
        _ = try store.insert(try alice.room(4, "reused"))
        _ = try store.insert(try bob.room(2))
        var frontier = try store.frontier()
        #expect(frontier[alice.publicKey] == SeqFrontier(contiguous: 2, highest: 6))
        #expect(frontier[bob.publicKey] == SeqFrontier(contiguous: 0, highest: 2), "seq 1 missing")
        #expect(frontier[carol.publicKey] == nil, "an unknown author has no frontier")
        #expect(frontier.count == 2)

        _ = try store.insert(try alice.room(3))
        frontier = try store.frontier()
        #expect(frontier[alice.publicKey] == SeqFrontier(contiguous: 4, highest: 6), "filling the gap runs through 4")
        _ = try store.insert(try alice.room(5))
        _ = try store.insert(try bob.room(1))
        frontier = try store.frontier()
        #expect(frontier[alice.publicKey] == SeqFrontier(contiguous: 6, highest: 6))
        #expect(frontier[bob.publicKey] == SeqFrontier(contiguous: 2, highest: 2))
    }

    @Test(arguments: StoreKind.allCases)
    func envelopesByRange(kind: StoreKind) throws {
        let (store, directory) = try kind.make()
        defer { withExtendedLifetime(directory) {} }
        let alice = Author(), bob = Author()
        // Inserted out of seq order: the answer is in seq order all the same.
        for seq: UInt64 in [5, 1, 3, 2, 4] { _ = try store.insert(try alice.room(seq)) }
        let reused = try alice.room(3, "again")
        _ = try store.insert(reused)
        _ = try store.insert(try bob.room(2))

        let seqs = { (after: UInt64, through: UInt64, limit: Int) throws -> [UInt64] in
            try store.envelopes(author: alice.publicKey, after: after, through: through, limit: limit).map(\.seq)
        }
        #expect(try seqs(0, 5, 100) == [1, 2, 3, 3, 4, 5], "a reused seq gives several")
        #expect(try seqs(1, 3, 100) == [2, 3, 3])
        #expect(try seqs(2, 5, 2) == [3, 3])
        #expect(try seqs(0, .max, 100) == [1, 2, 3, 3, 4, 5])
        #expect(try seqs(5, .max, 100).isEmpty)
        #expect(try seqs(3, 3, 100).isEmpty)
        #expect(try seqs(4, 2, 100).isEmpty)
        #expect(try seqs(0, 5, 0).isEmpty)
        #expect(try seqs(.max - 1, .max, 10).isEmpty)
        let three = try store.envelopes(author: alice.publicKey, after: 2, through: 3, limit: 10)
        #expect(three.count == 2 && three.contains(reused))
        #expect(try store.envelopes(author: bob.publicKey, after: 0, through: 10, limit: 10).map(\.seq) == [2])
        #expect(try store.envelopes(author: Author().publicKey, after: 0, through: 10, limit: 10).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func transactionCommitsItsInserts(kind: StoreKind) throws {
        let (store, directory) = try kind.make()
        defer { withExtendedLifetime(directory) {} }
        let alice = Author()
        let batch = try (1...5).map { try alice.room(UInt64($0)) }
        let stored = try store.transaction { try batch.map { try store.insert($0) } }
        #expect(stored == Array(repeating: .stored, count: 5))
        #expect(try batch.allSatisfy { try store.contains($0.id) })
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 5, highest: 5))
        let nested = try store.transaction { try store.transaction { try store.insert(try alice.room(6)) } }
        #expect(nested == .stored)
        #expect(try store.highestSeq(author: alice.publicKey) == 6)
    }
}
