import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// PROTOCOL.md 6 rule 1: hostile bytes are dropped, the link is kept, and a peer that sends more
/// than 100 of them within a minute is disconnected once with BYE 3.
@Suite struct ValidationTests {
    @Test func aValidEnvelopeIsStoredDeliveredAndForwarded() throws {
        var bench = Bench()
        let envelope = try bench.room("hi")
        let actions = try bench.engine.receive(envelope.encoded(), from: bench.left, now: t0)
        #expect(bench.store.contains(envelope.id))
        #expect(actions.deliveries == [Delivery(envelope: envelope, text: "hi")])
        #expect(actions.sends.map(\.to) == [bench.right])
        #expect(actions.sends.first?.envelope == envelope.withHops(1))
    }

    /// Ways to break an encoded envelope so that it no longer parses exactly.
    enum Mangling: String, CaseIterable, Sendable {
        case empty, truncatedByOneByte, trailingByte, version2, reservedKind3, reservedKind0, nicknameLengthPastTheEnd

        func apply(_ bytes: [UInt8]) -> [UInt8] {
            var b = bytes
            switch self {
            case .empty: return []
            case .truncatedByOneByte: b.removeLast()
            case .trailingByte: b.append(0)
            case .version2: b[0] = 2
            case .reservedKind3: b[1] = 3
            case .reservedKind0: b[1] = 0
            case .nicknameLengthPastTheEnd: b[50] = 0xFF  // version, kind, author, seq, timestamp: 50 bytes
            }
            return b
        }
    }

    @Test(arguments: Mangling.allCases)
    func malformedBytesAreDroppedAndCounted(_ mangling: Mangling) throws {
        var bench = Bench()
        let bytes = mangling.apply(try bench.room().encoded())
        let actions = try bench.engine.receive(bytes, from: bench.left, now: t0)
        #expect(actions == [.dropped(from: bench.left, reason: .malformed)])
        #expect(bench.store.count == 0)
        #expect(bench.engine.linkedPeers == [bench.left, bench.right], "the connection is kept")
    }

    @Test func aFlippedByteInTheSignedPartFailsTheSignature() throws {
        var bench = Bench()
        let envelope = try bench.room("hello")
        var bytes = envelope.encoded()
        let body = envelope.signedBytes.count - 5  // the body is the last field of the signed part
        bytes[body] ^= 0x01  // "hello" becomes "iello": still valid UTF-8, no longer what was signed
        let actions = try bench.engine.receive(bytes, from: bench.left, now: t0)
        #expect(actions == [.dropped(from: bench.left, reason: .badSignature)])
        #expect(bench.store.count == 0)
    }

    @Test func aFlippedByteInTheSignatureFailsIt() throws {
        var bench = Bench()
        var bytes = try bench.room().encoded()
        bytes[bytes.count - 2] ^= 0x80  // the signature's last byte, just before hops
        let actions = try bench.engine.receive(bytes, from: bench.left, now: t0)
        #expect(actions == [.dropped(from: bench.left, reason: .badSignature)])
    }

    @Test func aSignatureByAnotherKeyFails() throws {
        var bench = Bench()
        let genuine = try bench.room()
        let forged = try bench.room(by: SigningPrivateKey())
        // The author field says `author`, the signature is by someone else.
        let bytes = genuine.signedBytes + forged.signature + [0]
        let actions = try bench.engine.receive(bytes, from: bench.left, now: t0)
        #expect(actions == [.dropped(from: bench.left, reason: .badSignature)])
    }

    @Test func hopsAreNotSignedSoARelayMayRaiseThem() throws {
        var bench = Bench()
        let envelope = try bench.room()
        var bytes = envelope.encoded()
        bytes[bytes.count - 1] = 5
        let actions = try bench.engine.receive(bytes, from: bench.left, now: t0)
        #expect(actions.deliveries.map(\.envelope) == [envelope.withHops(5)])
        #expect(actions.sends.map(\.envelope.hops) == [6])
    }

    @Test func aHundredInvalidEnvelopesWithinAMinuteAreTolerated() throws {
        var bench = Bench()
        var actions: [GossipAction] = []
        for i in 0..<100 {
            actions += try bench.engine.receive([1, 2, 3], from: bench.left, now: t0 + UInt64(i) * 600)
        }
        #expect(actions.disconnects.isEmpty)
        #expect(actions.dropReasons == Array(repeating: .malformed, count: 100))
    }

    @Test func theHundredAndFirstWithinAMinuteDisconnectsOnce() throws {
        var bench = Bench()
        var actions: [GossipAction] = []
        for i in 0..<100 {
            actions += try bench.engine.receive([1, 2, 3], from: bench.left, now: t0 + UInt64(i) * 599)
        }
        #expect(actions.disconnects.isEmpty)
        let last = try bench.engine.receive([1, 2, 3], from: bench.left, now: t0 + 59_999)
        #expect(last == [.dropped(from: bench.left, reason: .malformed),
                         .disconnect(bench.left, .tooManyInvalidEnvelopes)])
        var later: [GossipAction] = []
        for i in 0..<200 {
            later += try bench.engine.receive([1, 2, 3], from: bench.left, now: t0 + 60_000 + UInt64(i))
        }
        #expect(later.disconnects.isEmpty, "the disconnect is asked for once per link")
    }

    @Test func badSignaturesCountLikeMalformedBytes() throws {
        var bench = Bench()
        var bytes = try bench.room().encoded()
        bytes[bytes.count - 2] ^= 1
        var actions: [GossipAction] = []
        for _ in 0...100 { actions += try bench.engine.receive(bytes, from: bench.left, now: t0) }
        #expect(actions.disconnects.count == 1)
    }

    @Test func theWindowSlides() throws {
        var bench = Bench()
        var actions: [GossipAction] = []
        for _ in 0..<100 { actions += try bench.engine.receive([1], from: bench.left, now: t0) }
        // A minute later the first hundred have left the window.
        for _ in 0..<100 { actions += try bench.engine.receive([1], from: bench.left, now: t0 + 60_000) }
        #expect(actions.disconnects.isEmpty)
        // Half a minute later the second hundred are still inside it.
        actions += try bench.engine.receive([1], from: bench.left, now: t0 + 90_000)
        #expect(actions.disconnects.map(\.0) == [bench.left])
    }

    @Test func tickForgetsInvalidEnvelopesThatLeftTheWindow() throws {
        var bench = Bench()
        for _ in 0..<100 { _ = try bench.engine.receive([1], from: bench.left, now: t0) }
        _ = try bench.engine.tick(now: t0 + 60_000)
        var actions: [GossipAction] = []
        for _ in 0..<100 { actions += try bench.engine.receive([1], from: bench.left, now: t0 + 60_000) }
        #expect(actions.disconnects.isEmpty)
    }

    @Test func countsArePerPeerAndValidEnvelopesDoNotCount() throws {
        var bench = Bench()
        var actions: [GossipAction] = []
        for i in 0..<100 {
            actions += try bench.engine.receive([1], from: bench.left, now: t0)
            actions += try bench.engine.receive([1], from: bench.right, now: t0)
            actions += try bench.engine.receive(try bench.room(seq: UInt64(i) + 1).encoded(), from: bench.left, now: t0)
        }
        #expect(actions.disconnects.isEmpty)
        #expect(actions.deliveries.count == 100)
    }

    @Test func aNewLinkStartsWithACleanRecord() throws {
        var bench = Bench()
        for _ in 0...100 { _ = try bench.engine.receive([1], from: bench.left, now: t0) }
        bench.engine.linkDown(bench.left)
        bench.engine.linkUp(bench.left)
        var actions: [GossipAction] = []
        for _ in 0..<100 { actions += try bench.engine.receive([1], from: bench.left, now: t0) }
        #expect(actions.disconnects.isEmpty)
        actions = try bench.engine.receive([1], from: bench.left, now: t0)
        #expect(actions.disconnects.count == 1)
    }

    @Test func envelopesFromAPeerThatIsNotLinkedAreNotCountedOrEchoed() throws {
        var bench = Bench()
        let stranger = SigningPrivateKey().publicKey
        var actions: [GossipAction] = []
        for _ in 0...200 { actions += try bench.engine.receive([1], from: stranger, now: t0) }
        #expect(actions.disconnects.isEmpty)
        // A valid one is still accepted and goes to both linked neighbours.
        let valid = try bench.engine.receive(try bench.room().encoded(), from: stranger, now: t0)
        #expect(Set(valid.sends.map(\.to)) == [bench.left, bench.right])
    }

    @Test func aLimitOfZeroDisconnectsOnTheFirstInvalidEnvelope() throws {
        var bench = Bench(configuration: .init(invalidEnvelopeLimit: 0))
        let actions = try bench.engine.receive([1], from: bench.left, now: t0)
        #expect(actions.disconnects.map(\.1) == [.tooManyInvalidEnvelopes])
    }
}
