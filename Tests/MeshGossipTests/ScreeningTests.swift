import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// `screen` and `admit`, the two halves of `receive` that let a node check signatures off its loop:
/// a copy that arrives while the first is still waiting for its verdict is not verified again.
@Suite struct ScreeningTests {
    @Test func aCopyArrivingWhileTheFirstAwaitsItsVerdictIsADuplicate() throws {
        var bench = Bench()
        let envelope = try bench.room("hi")
        guard case .needsSignatureCheck = try bench.engine.screen(envelope.encoded(), from: bench.left, now: t0) else {
            Issue.record("a new envelope needs its signature checked"); return
        }
        // The same message relayed once more (another hop count), as a mesh delivers it over a second link.
        guard case .judged(let actions) = try bench.engine.screen(envelope.withHops(1).encoded(), from: bench.right, now: t0) else {
            Issue.record("a copy with the same signature was sent to be verified again"); return
        }
        #expect(actions == [.dropped(from: bench.right, reason: .duplicate)])
        #expect(bench.engine.counters.duplicates == 1)

        let admitted = try bench.engine.admit(envelope, signatureIsValid: true, from: bench.left, now: t0)
        #expect(admitted.deliveries == [Delivery(envelope: envelope, text: "hi")])
        #expect(bench.store.contains(envelope.id))
    }

    @Test func aCopyWithAnotherSignatureIsCheckedOnItsOwn() throws {
        var bench = Bench()
        let envelope = try bench.room("hi")
        var bytes = envelope.encoded()
        bytes[bytes.count - 10] ^= 0x01  // inside the signature: same id, another signature
        let forged = try Envelope.parse(bytes)
        #expect(forged.id == envelope.id)

        guard case .needsSignatureCheck = try bench.engine.screen(forged.encoded(), from: bench.left, now: t0),
              case .needsSignatureCheck = try bench.engine.screen(envelope.encoded(), from: bench.right, now: t0) else {
            Issue.record("a forged first copy must not make the genuine one a duplicate"); return
        }
        #expect(try bench.engine.admit(forged, signatureIsValid: false, from: bench.left, now: t0)
            == [.dropped(from: bench.left, reason: .badSignature)])
        #expect(try bench.engine.admit(envelope, signatureIsValid: true, from: bench.right, now: t0).deliveries.count == 1)
        #expect(bench.store.contains(envelope.id))
    }

    @Test func aNeighbourThatSentACopyIsNotSentItBack() throws {
        // Copies before the verdict, and copies after it while the forwards are due.
        for copiesArriveAfterAcceptance in [false, true] {
            var bench = Bench()
            let third = SigningPrivateKey().publicKey
            bench.engine.linkUp(third)
            let envelope = try bench.room("hi")
            let copies = [envelope.withHops(2).encoded(), envelope.withHops(3).encoded()]
            _ = try bench.engine.screen(envelope.encoded(), from: bench.left, now: t0)
            if !copiesArriveAfterAcceptance { for copy in copies { _ = try bench.engine.screen(copy, from: bench.right, now: t0) } }
            #expect(try bench.engine.admit(envelope, signatureIsValid: true, from: bench.left, now: t0).sends.isEmpty,
                    "forwards wait for takeForwards")
            if copiesArriveAfterAcceptance { for copy in copies { _ = try bench.engine.screen(copy, from: bench.right, now: t0) } }

            let sends = bench.engine.takeForwards().sends
            #expect(sends.map(\.to) == [third], "after acceptance: \(copiesArriveAfterAcceptance)")
            #expect(sends.map(\.envelope.hops) == [1])
            #expect(bench.engine.takeForwards().isEmpty, "each forward is handed out once")
        }
    }

    @Test func aNeighbourThatSentACopyWithAnotherSignatureIsStillSentTheMessage() throws {
        let envelope = try Bench().room("hi")
        var bytes = envelope.encoded()
        bytes[bytes.count - 10] ^= 0x01  // inside the signature: same id, another signature
        // Before the verdict, and after it while the forwards are due.
        for copyArrivesAfterAcceptance in [false, true] {
            var bench = Bench()
            _ = try bench.engine.screen(envelope.encoded(), from: bench.left, now: t0)
            if !copyArrivesAfterAcceptance { _ = try bench.engine.screen(bytes, from: bench.right, now: t0) }
            _ = try bench.engine.admit(envelope, signatureIsValid: true, from: bench.left, now: t0)
            if copyArrivesAfterAcceptance { _ = try bench.engine.screen(bytes, from: bench.right, now: t0) }
            #expect(bench.engine.takeForwards().sends.map(\.to) == [bench.right], "after acceptance: \(copyArrivesAfterAcceptance)")
        }
    }

    @Test func afterItsVerdictAnIdIsNoLongerAwaited() throws {
        var bench = Bench()
        let envelope = try bench.room("hi")
        _ = try bench.engine.screen(envelope.encoded(), from: bench.left, now: t0)
        // A bad verdict: nothing is stored, so a later copy is screened (and checked) afresh.
        _ = try bench.engine.admit(envelope, signatureIsValid: false, from: bench.left, now: t0)
        guard case .needsSignatureCheck = try bench.engine.screen(envelope.encoded(), from: bench.right, now: t0) else {
            Issue.record("an id stayed awaited after its verdict"); return
        }
        bench.engine.forgetUncommitted()
        guard case .needsSignatureCheck = try bench.engine.screen(envelope.encoded(), from: bench.right, now: t0) else {
            Issue.record("an id stayed awaited after forgetUncommitted"); return
        }
    }
}

/// Rule 3 for the copies a mesh delivers moments after the first: the engine remembers the ids it
/// stored last and drops those copies without a store lookup; what it forgot, the store still knows.
@Suite struct RecentlyStoredTests {
    @Test func aCopyOfARecentlyStoredMessageIsDroppedWithoutAskingTheStore() throws {
        let store = ScriptedStore()
        var bench = Bench(store: store)
        let envelope = try bench.room("hi")
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        let lookups = store.lookups

        guard case .judged(let actions) = try bench.engine.screen(envelope.withHops(1).encoded(), from: bench.right, now: t0) else {
            Issue.record("a copy of a stored message was sent to be verified"); return
        }
        #expect(actions == [.dropped(from: bench.right, reason: .duplicate)])
        #expect(store.lookups == lookups)
    }

    @Test func aSeqAboveItsAuthorsStoredSeqsIsNewWithoutAskingTheStore() throws {
        let store = ScriptedStore()
        var bench = Bench(store: store)
        _ = try bench.engine.receive(try bench.room("first", seq: 1).encoded(), from: bench.left, now: t0)

        for (text, seq, lookups) in [("second", 2, 0), ("seq 1 reused: another id", 1, 1)] as [(String, UInt64, Int)] {
            let before = store.lookups
            guard case .needsSignatureCheck = try bench.engine.screen(try bench.room(text, seq: seq).encoded(),
                                                                        from: bench.left, now: t0) else {
                Issue.record("a new id was judged without its signature check"); return
            }
            #expect(store.lookups == before + lookups, "seq \(seq)")
        }
    }

    @Test func aStoredMessageTheEngineNeverSawIsStillADuplicate() throws {
        let store = ScriptedStore()
        let envelope = try Bench().room("from an earlier run", seq: 3)
        _ = try store.insert(envelope)
        var bench = Bench(store: store)

        guard case .judged(let actions) = try bench.engine.screen(envelope.encoded(), from: bench.left, now: t0) else {
            Issue.record("a message stored before the engine started was sent to be verified"); return
        }
        #expect(actions == [.dropped(from: bench.left, reason: .duplicate)])
    }

    @Test func anIdNoLongerRememberedIsStillADuplicateThroughTheStore() throws {
        let store = ScriptedStore()
        var bench = Bench(store: store)
        let first = try bench.room("first", seq: 1)
        _ = try bench.engine.receive(first.encoded(), from: bench.left, now: t0)
        for seq in 2...UInt64(GossipEngine.recentlyStoredCapacity + 1) {
            _ = try bench.engine.admit(try bench.room("later", seq: seq), signatureIsValid: true, from: bench.left, now: t0)
        }
        let lookups = store.lookups

        guard case .judged(let actions) = try bench.engine.screen(first.withHops(1).encoded(), from: bench.right, now: t0) else {
            Issue.record("a stored message the engine forgot was sent to be verified"); return
        }
        #expect(actions == [.dropped(from: bench.right, reason: .duplicate)])
        #expect(store.lookups == lookups + 1)
    }

    @Test func afterARollBackACopyIsCheckedAgain() throws {
        let store = ScriptedStore()
        var bench = Bench(store: store)
        let envelope = try bench.room("hi")
        _ = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        // The transaction that stored it rolled back: the owner tells the engine it lost what it did.
        store.loseEverything()
        bench.engine.forgetUncommitted()

        guard case .needsSignatureCheck = try bench.engine.screen(envelope.withHops(1).encoded(), from: bench.right, now: t0) else {
            Issue.record("a copy of a message that was never committed was dropped as a duplicate"); return
        }
    }
}
