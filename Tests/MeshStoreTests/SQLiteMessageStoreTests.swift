import Foundation
import GRDB
import MeshCrypto
import MeshGossip
import MeshStore
import MeshWire
import Testing

/// What only the durable store promises: transactions that roll back, state that survives a
/// reopen, retention that keeps frontiers, and refusal of damaged stores.
@Suite struct SQLiteMessageStoreTests {
    struct Boom: Error {}

    @Test func aThrowInsideATransactionRollsBackEveryInsert() throws {
        let store = try SQLiteMessageStore.inMemory()
        let alice = Author()
        let kept = try alice.room(1)
        #expect(try store.insert(kept) == .stored)
        let batch = try (2...4).map { try alice.room(UInt64($0)) }
        #expect(throws: Boom.self) {
            try store.transaction {
                for envelope in batch { _ = try store.insert(envelope) }
                try store.raiseOwnSeqFloor(to: 9)
                #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 4, highest: 4),
                        "read inside the transaction, the frontier sees its writes")
                throw Boom()
            }
        }
        #expect(try batch.allSatisfy { try !store.contains($0.id) })
        #expect(try store.messageCount == 1)
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 1, highest: 1))
        #expect(try store.ownSeqFloor() == 0)
        #expect(try store.insert(batch[0]) == .stored, "after a rollback the same envelope stores normally")
    }

    @Test func aNestedTransactionThatThrowsUndoesOnlyItsOwnWrites() throws {
        let store = try SQLiteMessageStore.inMemory()
        let alice = Author()
        let outer = try alice.room(1), inner = try alice.room(2)
        try store.transaction {
            _ = try store.insert(outer)
            #expect(throws: Boom.self) {
                try store.transaction {
                    _ = try store.insert(inner)
                    #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 2, highest: 2))
                    throw Boom()
                }
            }
        }
        #expect(try store.contains(outer.id))
        #expect(try !store.contains(inner.id))
        #expect(try store.highestSeq(author: alice.publicKey) == 1)
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 1, highest: 1))
    }

    /// The owner's highest seq is kept in memory once read (it is asked for every post), so each
    /// write that raises it must raise it there too, and every rollback must forget it: a stale
    /// value would reuse a seq or leave a gap in this node's own sequence.
    @Test func theOwnersHighestSeqFollowsEveryWriteAndForgetsRollbacks() throws {
        let me = Author()
        let store = try SQLiteMessageStore.inMemory(options: .init(retention: .default, owner: me.publicKey))
        #expect(try store.highestSeq(author: me.publicKey) == 0)
        #expect(try store.insert(try me.room(1)) == .stored)
        #expect(try store.highestSeq(author: me.publicKey) == 1, "a post raises it")
        #expect(try store.insert(try me.room(3)) == .stored)
        #expect(try store.highestSeq(author: me.publicKey) == 3, "an own envelope out of order raises it")
        try store.raiseOwnSeqFloor(to: 7)
        #expect(try store.highestSeq(author: me.publicKey) == 7, "the floor raises it")
        let aged = try me.room(9, timestamp: milliseconds(Date().addingTimeInterval(-91 * 24 * 3600)))
        #expect(try store.insert(aged) == .notStored)
        #expect(try store.highestSeq(author: me.publicKey) == 9, "an own envelope pruned on arrival raises it")

        #expect(throws: Boom.self) {
            try store.transaction {
                _ = try store.insert(try me.room(10))
                #expect(try store.highestSeq(author: me.publicKey) == 10, "inside the transaction it is seen")
                throw Boom()
            }
        }
        #expect(try store.highestSeq(author: me.publicKey) == 9, "a rollback forgets it")
        try store.transaction {
            _ = try store.insert(try me.room(10))
            #expect(throws: Boom.self) {
                try store.transaction {
                    try store.raiseOwnSeqFloor(to: 20)
                    throw Boom()
                }
            }
        }
        #expect(try store.highestSeq(author: me.publicKey) == 10, "a savepoint's rollback forgets only its own")
    }

    @Test func everythingCommittedSurvivesAReopen() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let alice = Author(), bob = Author(), me = Author()
        let envelopes = [try alice.room(1, hops: 4), try alice.room(3), try alice.direct(2, to: bob.publicKey)]
        var options = SQLiteMessageStore.Options()
        options.owner = me.publicKey
        do {
            let store = try SQLiteMessageStore(path: path, options: options)
            try store.transaction { for envelope in envelopes { _ = try store.insert(envelope) } }
            try store.raiseOwnSeqFloor(to: 41)
            try store.raiseOwnSeqFloor(to: 7)
            try store.setLastHandshakeTimestamp(1_700_000_000_123_456_789)
            try store.setLastAcceptedTimestamp(.max, from: bob.publicKey)
            try store.close()
        }
        let store = try SQLiteMessageStore(path: path, options: options)
        #expect(try store.messageCount == 3)
        let reread = try store.recent(room: nil, limit: 10)
        #expect(reread == envelopes)
        #expect(reread.map { $0.encoded() } == envelopes.map { $0.encoded() }, "byte-exact, hops as received")
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 3, highest: 3))
        #expect(try store.ownSeqFloor() == 41, "the floor only rises")
        #expect(try store.highestSeq(author: me.publicKey) == 41, "the next own seq is above the floor")
        #expect(try store.highestSeq(author: alice.publicKey) == 3)
        #expect(try store.lastHandshakeTimestamp() == 1_700_000_000_123_456_789)
        #expect(try store.lastAcceptedTimestamp(from: bob.publicKey) == .max)
        #expect(try store.lastAcceptedTimestamp(from: alice.publicKey) == nil)
        #expect(try store.integrityCheck())
    }

    /// Replay protection reads and writes through cached statements and single-statement commits:
    /// each read sees the last write, one made inside a transaction joins it, and a rollback undoes it.
    @Test func handshakeTimestampsReadBackTheLatestAndJoinATransaction() throws {
        struct Abort: Error {}
        let store = try SQLiteMessageStore.inMemory()
        let bob = Author()
        for timestamp: UInt64 in [5, 9, 7] {
            try store.setLastAcceptedTimestamp(timestamp, from: bob.publicKey)
            #expect(try store.lastAcceptedTimestamp(from: bob.publicKey) == timestamp)
            try store.setLastHandshakeTimestamp(timestamp + 1)
            #expect(try store.lastHandshakeTimestamp() == timestamp + 1)
        }
        #expect(throws: Abort.self) {
            try store.transaction {
                try store.setLastAcceptedTimestamp(100, from: bob.publicKey)
                #expect(try store.lastAcceptedTimestamp(from: bob.publicKey) == 100)
                throw Abort()
            }
        }
        #expect(try store.lastAcceptedTimestamp(from: bob.publicKey) == 7)
    }

    @Test func pruneByAgeKeepsTheFrontierAndHighestSeq() throws {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let clock = ManualClock(start)
        let options = SQLiteMessageStore.Options(
            retention: .init(maxAge: .seconds(3600), maxMessages: nil), now: { clock.now })
        let store = try SQLiteMessageStore.inMemory(options: options)
        let alice = Author()
        let startMs = milliseconds(start)
        // Seqs 1 and 2 are two hours old by the time of the prune; 3 is fresh; 5 leaves a gap at 4.
        for (seq, timestamp) in [(1, startMs), (2, startMs), (3, startMs + 7_000_000), (5, startMs + 7_000_000)] {
            #expect(try store.insert(try alice.room(UInt64(seq), timestamp: UInt64(timestamp))) == .stored)
        }
        let before = try store.frontier()[alice.publicKey]
        #expect(before == SeqFrontier(contiguous: 3, highest: 5))
        let later = start.addingTimeInterval(7200)
        #expect(try store.prune(now: later) == 2)
        #expect(try store.messageCount == 2)
        #expect(try store.frontier()[alice.publicKey] == before, "pruned seqs are never asked for again")
        #expect(try store.highestSeq(author: alice.publicKey) == 5)
        #expect(try store.prune(now: later) == 0)

        // Everything goes: the frontier stays.
        #expect(try store.prune(now: later.addingTimeInterval(7200)) == 2)
        #expect(try store.messageCount == 0)
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 5, highest: 5),
                "the gap at 4 lies below pruned messages and is given up")
        #expect(try store.highestSeq(author: alice.publicKey) == 5, "highestSeq never goes down")
    }

    @Test func pruneByCountKeepsTheNewestAndTheFrontier() throws {
        let store = try SQLiteMessageStore.inMemory(options: .init(retention: .init(maxAge: nil, maxMessages: 3)))
        let alice = Author(), bob = Author()
        // Bob's seq 1 never arrives, so all his seqs sit above a gap.
        let envelopes = [try alice.room(1), try bob.room(2), try alice.room(2), try bob.room(3), try alice.room(3)]
        for envelope in envelopes { _ = try store.insert(envelope) }
        #expect(try store.prune(now: Date()) == 2)
        #expect(try store.recent(room: nil, limit: 10) == Array(envelopes[2...]), "the oldest inserted go first")
        let frontier = try store.frontier()
        #expect(frontier[alice.publicKey] == SeqFrontier(contiguous: 3, highest: 3))
        #expect(frontier[bob.publicKey] == SeqFrontier(contiguous: 3, highest: 3),
                "bob's pruned seq 2 moves his frontier past it; 3 is held")
        #expect(try store.highestSeq(author: bob.publicKey) == 3)
        #expect(try store.prune(now: Date()) == 0)
    }

    @Test func anEnvelopeOlderThanTheWindowIsRefusedButCountsAsPruned() throws {
        let store = try SQLiteMessageStore.inMemory(options: .init(retention: .default))
        let alice = Author()
        let old = try alice.room(4, timestamp: milliseconds(Date().addingTimeInterval(-91 * 24 * 3600)))
        #expect(try store.insert(old) == .notStored)
        #expect(try !store.contains(old.id))
        #expect(try store.messageCount == 0)
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 4, highest: 4),
                "its seq is not asked for again")
        #expect(try store.insert(try alice.room(5)) == .stored, "a fresh one is stored")
        #expect(try store.frontier()[alice.publicKey] == SeqFrontier(contiguous: 5, highest: 5))
    }

    @Test func theDefaultRetentionSuitsAGroupChat() {
        let retention = SQLiteMessageStore.Retention.default
        #expect(retention.maxAge == .seconds(90 * 24 * 3600))
        #expect(retention.maxMessages == 1_000_000)
        #expect(SQLiteMessageStore.Options().synchronous == .normal)
    }

    @Test func integrityCheckIsOk() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMessageStore(path: directory.path(), options: .init(synchronous: .full))
        let alice = Author()
        for seq in 1...50 { _ = try store.insert(try alice.room(UInt64(seq))) }
        #expect(try store.integrityCheck())
    }

    // MARK: - Damage

    @Test func aFileThatIsNotSQLiteIsUnreadableAndLeftUnchanged() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.unreadable(path: path)) { try SQLiteMessageStore(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func anotherProgramsSQLiteDatabaseIsUnreadableAndLeftUnchanged() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE notes (text TEXT)") }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: StoreError.unreadable(path: path)) { try SQLiteMessageStore(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test func aStoreFromANewerVersionIsRefusedAndLeftUnchanged() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        try SQLiteMessageStore(path: path).close()
        // A newer MeshChat appended "v999"; rolling back to a rollback journal leaves one file to compare.
        try DatabaseQueue(path: path).writeWithoutTransaction { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999')")
            try db.execute(sql: "PRAGMA journal_mode = DELETE")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: StoreError.newerVersion(path: path)) { try SQLiteMessageStore(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test func aStoreOpenInAnotherNodeIsLocked() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let first = try SQLiteMessageStore(path: path)
        #expect(throws: StoreError.lockedByAnotherNode(path: path)) { try SQLiteMessageStore(path: path) }
        try first.close()
        let second = try SQLiteMessageStore(path: path)
        #expect(try second.messageCount == 0)
    }

    @Test func aMissingDirectoryCannotBeOpened() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("absent/store.sqlite")
        #expect(throws: StoreError.self) { try SQLiteMessageStore(path: path) }
    }

    @Test func everyErrorIsOneSentenceNamingTheFile() {
        let path = "/home/me/.meshchat/store.sqlite"
        let errors: [StoreError] = [
            .unreadable(path: path), .lockedByAnotherNode(path: path), .newerVersion(path: path),
            .cannotOpen(path: path, reason: "No such file or directory"), .failed(path: path, reason: "disk full"),
        ]
        for error in errors {
            #expect(error.description.contains(path))
            #expect(error.description.hasSuffix("."))
            #expect(error.description.dropLast().allSatisfy { $0 != "\n" })
        }
    }

    // MARK: - Throughput

    @Test func throughputOfGroupedAndSingleCommits() throws {
        let total = 10_000, group = 256
        let alice = Author()
        let envelopes = try (1...total).map { try alice.room(UInt64($0), "message \($0)") }
        func measure(_ durability: SQLiteMessageStore.Durability, grouped: Bool, count: Int) throws -> Double {
            let directory = try TemporaryDirectory()
            let store = try SQLiteMessageStore(path: directory.path(), options: .init(synchronous: durability))
            let clock = ContinuousClock()
            let elapsed = try clock.measure {
                if grouped {
                    for start in stride(from: 0, to: count, by: group) {
                        try store.transaction {
                            for envelope in envelopes[start..<min(start + group, count)] { _ = try store.insert(envelope) }
                        }
                    }
                } else {
                    for envelope in envelopes[..<count] { _ = try store.insert(envelope) }
                }
            }
            #expect(try store.messageCount == count)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return Double(count) / seconds
        }
        let normalGrouped = try measure(.normal, grouped: true, count: total)
        let normalSingle = try measure(.normal, grouped: false, count: total)
        let fullGrouped = try measure(.full, grouped: true, count: total)
        let fullSingle = try measure(.full, grouped: false, count: 1_000)
        print("MeshStore throughput (debug build): .normal groups of \(group): \(Int(normalGrouped)) msg/s; "
            + ".normal one per transaction: \(Int(normalSingle)) msg/s; .full groups of \(group): \(Int(fullGrouped)) msg/s; "
            + ".full one per transaction (1,000): \(Int(fullSingle)) msg/s")
    }
}
