import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// PROTOCOL.md 6 rules 3 and 4: dedup by id, sequence reuse, store before show and send,
/// forwarding with the hop limit, direct messages shown only where they open.
@Suite struct AcceptanceTests {
    @Test func aSecondCopyIsDroppedEvenWithOtherHops() throws {
        var bench = Bench()
        let envelope = try bench.room()
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
                == [.dropped(from: bench.left, reason: .duplicate)])
        #expect(try bench.engine.receive(envelope.withHops(4).encoded(), from: bench.right, now: t0)
                == [.dropped(from: bench.right, reason: .duplicate)])
        #expect(bench.store.count == 1)
    }

    @Test func aReusedSequenceNumberIsKeptWithAWarning() throws {
        var bench = Bench()
        let first = try bench.room("first", seq: 7)
        let second = try bench.room("second", seq: 7)
        _ = try bench.engine.receive(first.encoded(), from: bench.left, now: t0)
        let actions = try bench.engine.receive(second.encoded(), from: bench.left, now: t0)
        #expect(actions.first == .sequenceReused(author: bench.author.publicKey, seq: 7))
        #expect(actions.deliveries.map(\.text) == ["second"])
        #expect(actions.sends.count == 1)
        #expect(bench.store.contains(first.id) && bench.store.contains(second.id))
    }

    @Test func nothingIsShownOrSentUnlessStored() throws {
        let store = ScriptedStore()
        var bench = Bench(store: store)
        let envelope = try bench.room()
        store.failInserts = true
        #expect(throws: ScriptedStore.Failure.self) {
            try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        }
        #expect(store.log == ["highestSeq", "insert"])
        // Nothing was remembered outside the store: once it works, the same bytes go through.
        store.failInserts = false
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(actions.deliveries.count == 1 && actions.sends.count == 1)
        #expect(store.base.contains(envelope.id))
    }

    @Test func forwardsToEveryOtherLinkedPeerWithOneMoreHop() throws {
        var bench = Bench()
        let extra = (0..<3).map { _ in SigningPrivateKey().publicKey }
        extra.forEach { bench.engine.linkUp($0) }
        let envelope = try bench.room(hops: 2)
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(actions.sends.map(\.to) == ([bench.right] + extra).sorted())
        #expect(actions.sends.allSatisfy { $0.envelope == envelope.withHops(3) })
    }

    @Test func atTheHopLimitItIsShownButNotForwarded() throws {
        var bench = Bench(configuration: .init(hopLimit: 3))
        let below = try bench.engine.receive(try bench.room(seq: 1, hops: 2).encoded(), from: bench.left, now: t0)
        #expect(below.sends.map(\.envelope.hops) == [3])
        let at = try bench.engine.receive(try bench.room(seq: 2, hops: 3).encoded(), from: bench.left, now: t0)
        #expect(at.sends.isEmpty)
        #expect(at.deliveries.count == 1)
        #expect(bench.store.count == 2)
    }

    @Test func theHopLimitIsClampedTo254() throws {
        #expect(GossipConfiguration(hopLimit: 255).hopLimit == 254)
        var configuration = GossipConfiguration()
        #expect(configuration.hopLimit == 8)
        configuration.hopLimit = .max
        #expect(configuration.hopLimit == WireBounds.maxHopLimit)
        var bench = Bench(configuration: configuration)
        let actions = try bench.engine.receive(try bench.room(hops: 254).encoded(), from: bench.left, now: t0)
        #expect(actions.sends.isEmpty)
    }

    @Test func aDirectMessageToUsIsOpenedAndShown() throws {
        var bench = Bench()
        let envelope = try bench.direct(Array("psst".utf8), to: bench.me.publicKey)
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(actions.deliveries == [Delivery(envelope: envelope, text: "psst")])
        #expect(actions.deliveries.first?.kind == .direct)
        #expect(actions.sends.map(\.to) == [bench.right], "forwarded like any other envelope")
    }

    @Test func aDirectMessageForSomeoneElseIsStoredAndForwardedButNotShown() throws {
        var bench = Bench()
        let envelope = try bench.direct(Array("psst".utf8), to: SigningPrivateKey().publicKey)
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(actions == [.send(envelope.withHops(1), to: bench.right)])
        #expect(bench.store.contains(envelope.id))
    }

    @Test func aDirectMessageToUsThatDoesNotOpenIsStoredAndForwardedButNotShown() throws {
        var bench = Bench()
        // Addressed to us, sealed to someone else.
        let envelope = try bench.direct(Array("psst".utf8), to: bench.me.publicKey,
                                        sealedTo: SigningPrivateKey().publicKey)
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(actions == [.dropped(from: bench.left, reason: .undecryptableDirect),
                            .send(envelope.withHops(1), to: bench.right)])
        #expect(bench.store.contains(envelope.id))
    }

    @Test func aDirectMessageToUsHoldingInvalidUTF8IsNotShown() throws {
        var bench = Bench()
        let envelope = try bench.direct([0x68, 0xC3, 0x28], to: bench.me.publicKey)
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(actions.deliveries.isEmpty)
        #expect(actions.dropReasons == [.undecryptableDirect])
        #expect(actions.sends.count == 1)
        #expect(bench.store.contains(envelope.id))
    }

    @Test func ourOwnMessageComingBackIsADuplicate() throws {
        var bench = Bench()
        let (envelope, _) = try bench.engine.postRoom(text: "hi", room: "general", nickname: "me", now: t0)
        let echo = try bench.engine.receive(envelope.withHops(1).encoded(), from: bench.left, now: t0)
        #expect(echo == [.dropped(from: bench.left, reason: .duplicate)])
    }
}
