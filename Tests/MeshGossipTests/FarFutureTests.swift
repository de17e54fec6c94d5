import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// PROTOCOL.md 6 rule 2: an envelope more than 5 minutes ahead is kept aside, not counted as
/// invalid, until it is no longer ahead; the held set is bounded and deduplicated.
@Suite struct FarFutureTests {
    @Test func fiveMinutesAheadIsAcceptedAtOnce() throws {
        var bench = Bench()
        let envelope = try bench.room(timestamp: t0 + fiveMinutes)
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(actions.deliveries.count == 1)
        #expect(bench.engine.heldCount == 0)
    }

    @Test func moreThanFiveMinutesAheadIsHeldUntilNoLongerAhead() throws {
        var bench = Bench()
        let envelope = try bench.room(timestamp: t0 + fiveMinutes + 1)
        #expect(try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0) == [])
        #expect(bench.engine.heldCount == 1)
        #expect(!bench.store.contains(envelope.id), "a held envelope is not stored yet")

        #expect(try bench.engine.tick(now: t0 + fiveMinutes) == [], "still ahead of the clock")
        #expect(bench.engine.heldCount == 1)

        // "until it is no longer ahead": processed as if it had just arrived from `left`.
        let released = try bench.engine.tick(now: envelope.timestamp)
        #expect(released == [.deliver(Delivery(envelope: envelope, text: "hello")),
                             .send(envelope.withHops(1), to: bench.right)])
        #expect(bench.store.contains(envelope.id))
        #expect(bench.engine.heldCount == 0)
        #expect(try bench.engine.tick(now: envelope.timestamp + 1) == [])
    }

    @Test func heldEnvelopesAreNotCountedAsInvalid() throws {
        var bench = Bench()
        var actions: [GossipAction] = []
        for seq in 1...150 as ClosedRange<UInt64> {
            actions += try bench.engine.receive(try bench.room(seq: seq, timestamp: t0 + 3_600_000).encoded(),
                                                from: bench.left, now: t0)
        }
        #expect(actions.isEmpty)
        #expect(bench.engine.heldCount == 150)
    }

    @Test func theHeldSetIsDeduplicatedById() throws {
        var bench = Bench()
        let envelope = try bench.room(timestamp: t0 + 3_600_000)
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        // The same message relayed by another neighbour, further along: same id, other hops.
        let again = try bench.engine.receive(envelope.withHops(3).encoded(), from: bench.right, now: t0)
        #expect(again == [.dropped(from: bench.right, reason: .duplicate)])
        #expect(bench.engine.heldCount == 1)
        let released = try bench.engine.tick(now: envelope.timestamp)
        #expect(released.deliveries.count == 1)
        #expect(released.sends.map(\.to) == [bench.right], "forwarded as from the first sender")
    }

    @Test func aHeldEnvelopeWhoseSenderLeftIsStillStoredShownAndForwarded() throws {
        var bench = Bench()
        let third = SigningPrivateKey().publicKey
        bench.engine.linkUp(third)
        let envelope = try bench.room(timestamp: t0 + 3_600_000)
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        bench.engine.linkDown(bench.left)
        let released = try bench.engine.tick(now: envelope.timestamp)
        #expect(released.deliveries.count == 1)
        #expect(Set(released.sends.map(\.to)) == [bench.right, third])
        #expect(bench.store.contains(envelope.id))
    }

    @Test func heldEnvelopesAreReleasedNearestFirst() throws {
        var bench = Bench()
        let far = try bench.room("far", seq: 2, timestamp: t0 + 7_200_000)
        let near = try bench.room("near", seq: 1, timestamp: t0 + 3_600_000)
        _ = try bench.engine.receive(far.encoded(), from: bench.left, now: t0)
        _ = try bench.engine.receive(near.encoded(), from: bench.left, now: t0)
        #expect(try bench.engine.tick(now: t0 + 3_600_000).deliveries.map(\.text) == ["near"])
        #expect(try bench.engine.tick(now: t0 + 9_000_000).deliveries.map(\.text) == ["far"])
    }

    @Test func whenTheHeldSetIsFullTheFarthestAheadIsDropped() throws {
        var bench = Bench(configuration: .init(maxHeldEnvelopes: 3))
        let hour: UInt64 = 3_600_000
        let envelopes = try (1...3 as ClosedRange<UInt64>).map { try bench.room("\($0)", seq: $0, timestamp: t0 + $0 * hour) }
        for envelope in envelopes {
            #expect(try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0) == [])
        }
        // Nearer than the farthest held: the farthest (3, from left) makes room.
        let nearer = try bench.room("0.5", seq: 9, timestamp: t0 + hour / 2)
        #expect(try bench.engine.receive(nearer.encoded(), from: bench.right, now: t0)
                == [.dropped(from: bench.left, reason: .heldLimit)])
        // Farther than everything held: the newcomer itself is let go.
        let farthest = try bench.room("10", seq: 10, timestamp: t0 + 10 * hour)
        #expect(try bench.engine.receive(farthest.encoded(), from: bench.right, now: t0)
                == [.dropped(from: bench.right, reason: .heldLimit)])
        #expect(bench.engine.heldCount == 3)
        let released = try bench.engine.tick(now: t0 + 100 * hour)
        #expect(released.deliveries.map(\.text) == ["0.5", "1", "2"])
    }

    @Test func aStoreFailureDuringTickKeepsTheEnvelopeHeld() throws {
        let store = ScriptedStore()
        var bench = Bench(store: store)
        let envelope = try bench.room(timestamp: t0 + 3_600_000)
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        store.failInserts = true
        #expect(throws: ScriptedStore.Failure.self) { try bench.engine.tick(now: envelope.timestamp) }
        #expect(bench.engine.heldCount == 1)
        store.failInserts = false
        #expect(try bench.engine.tick(now: envelope.timestamp).deliveries.count == 1)
    }

    @Test func aStoreFailureAfterProgressReturnsWhatWasDoneAndKeepsTheRest() throws {
        let store = ScriptedStore()
        var bench = Bench(store: store)
        let first = try bench.room("first", seq: 1, timestamp: t0 + 3_600_000)
        let second = try bench.room("second", seq: 2, timestamp: t0 + 3_600_001)
        _ = try bench.engine.receive(first.encoded(), from: bench.left, now: t0)
        _ = try bench.engine.receive(second.encoded(), from: bench.left, now: t0)
        store.failInsertsAfter = 1
        // The first was stored: its delivery and forward must not be lost with the error.
        let actions = try bench.engine.tick(now: t0 + 3_600_001)
        #expect(actions.deliveries.map(\.text) == ["first"])
        #expect(actions.sends.count == 1)
        #expect(bench.engine.heldCount == 1)
        #expect(throws: ScriptedStore.Failure.self) { try bench.engine.tick(now: t0 + 3_600_001) }
        store.failInsertsAfter = nil
        #expect(try bench.engine.tick(now: t0 + 3_600_001).deliveries.map(\.text) == ["second"])
    }
}
