import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// The engine's counters (`meshchat status --json`'s `counters`, read by the benchmark): every
/// envelope from a neighbour counts as received, and as exactly one of accepted, duplicate or invalid
/// once the engine has decided about it.
@Suite struct CounterTests {
    @Test func aFreshEngineCountsNothing() {
        #expect(Bench().engine.counters == GossipCounters())
    }

    @Test func copiesFromTwoNeighboursAreOneAcceptedAndOneDuplicate() throws {
        var bench = Bench()
        let envelope = try bench.room()
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        _ = try bench.engine.receive(envelope.withHops(1).encoded(), from: bench.right, now: t0)
        let counters = bench.engine.counters
        #expect(counters.received == 2)
        #expect(counters.accepted == 1)
        #expect(counters.duplicates == 1)
        #expect(counters.invalid == 0)
    }

    @Test func malformedAndBadlySignedEnvelopesCountAsInvalid() throws {
        var bench = Bench()
        var tampered = try bench.room().encoded()
        tampered[tampered.count - 2] ^= 1 // a byte of the signature: it no longer verifies
        _ = try bench.engine.receive(tampered, from: bench.left, now: t0)
        _ = try bench.engine.receive([1, 2, 3], from: bench.left, now: t0)
        #expect(bench.engine.counters.received == 2)
        #expect(bench.engine.counters.invalid == 2)
        #expect(bench.engine.counters.accepted == 0)
    }

    /// Rule 3 is checked before the signature: the id covers every signed field, so a copy of a held
    /// message is dropped without verifying it again (a mesh delivers each message several times).
    @Test func aCopyOfAHeldMessageIsADuplicateWithoutASecondSignatureCheck() throws {
        var bench = Bench()
        let envelope = try bench.room()
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        var copy = envelope.encoded()
        copy[copy.count - 2] ^= 1 // its signature no longer verifies: only a check would notice
        let actions = try bench.engine.receive(copy, from: bench.right, now: t0)
        #expect(bench.engine.counters.duplicates == 1)
        #expect(bench.engine.counters.invalid == 0)
        #expect(actions.allSatisfy { if case .dropped(_, .duplicate) = $0 { true } else { false } })
    }

    @Test func ownPostsAreNotCountedAsReceived() throws {
        var bench = Bench()
        _ = try bench.engine.postRoom(text: "mine", room: "general", nickname: "me", now: t0)
        #expect(bench.engine.counters == GossipCounters())
    }

    @Test func aHeldEnvelopeIsAcceptedWhenReleasedAndItsSecondCopyIsADuplicate() throws {
        var bench = Bench()
        let far = try bench.room("far", timestamp: t0 + 2 * fiveMinutes)
        _ = try bench.engine.receive(far.encoded(), from: bench.left, now: t0)
        _ = try bench.engine.receive(far.encoded(), from: bench.right, now: t0)
        #expect(bench.engine.counters.received == 2)
        #expect(bench.engine.counters.duplicates == 1)
        #expect(bench.engine.counters.accepted == 0)
        _ = try bench.engine.tick(now: t0 + 2 * fiveMinutes)
        #expect(bench.engine.counters.accepted == 1)
        #expect(bench.engine.counters.received == 2)
    }
}
