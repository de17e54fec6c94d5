import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// Posting: the next seq, our clock, signed, stored, then sent with hops 0 to every link.
@Suite struct PostingTests {
    @Test func roomPostsTakeTheNextSeqAndGoToEveryLink() throws {
        var bench = Bench()
        let (first, actions) = try bench.engine.postRoom(text: "one", room: "general", nickname: "me", now: t0)
        #expect(first.seq == 1 && first.timestamp == t0 && first.hops == 0)
        #expect(first.author == bench.me.publicKey && first.hasValidSignature)
        #expect(first.kind == .room && first.room == "general" && first.nickname == "me" && first.recipient == nil)
        #expect(first.body == Array("one".utf8))
        #expect(actions == [bench.left, bench.right].sorted().map { .send(first, to: $0) })
        #expect(bench.store.contains(first.id))
        let (second, _) = try bench.engine.postRoom(text: "two", room: "general", nickname: "me", now: t0 + 1)
        #expect(second.seq == 2)
    }

    @Test func theSeqContinuesFromWhatTheStoreHolds() throws {
        let store = InMemoryMessageStore()
        let me = SigningPrivateKey()
        var engine = GossipEngine(identity: me, store: store)
        for _ in 1...3 { _ = try engine.postRoom(text: "x", room: "r", nickname: "me", now: t0) }
        // A restarted engine over the same store carries on with "no gaps".
        var restarted = GossipEngine(identity: me, store: store)
        #expect(try restarted.postRoom(text: "x", room: "r", nickname: "me", now: t0).envelope.seq == 4)
    }

    @Test func aDirectPostIsSealedToTheRecipient() throws {
        var bench = Bench()
        let recipient = SigningPrivateKey()
        let (envelope, actions) = try bench.engine.postDirect(text: "psst", to: recipient.publicKey, nickname: "me", now: t0)
        #expect(envelope.kind == .direct && envelope.room.isEmpty && envelope.recipient == recipient.publicKey)
        #expect(try SealedBox.open(envelope.body, with: recipient.keyAgreementKey()) == Array("psst".utf8))
        #expect(actions.sends.count == 2)

        var theirs = GossipEngine(identity: recipient, store: InMemoryMessageStore())
        let shown = try theirs.receive(envelope.encoded(), from: bench.me.publicKey, now: t0)
        #expect(shown.deliveries.map(\.text) == ["psst"])
    }

    @Test func postingWithNoLinksStillStores() throws {
        var engine = GossipEngine(identity: SigningPrivateKey(), store: InMemoryMessageStore())
        let (envelope, actions) = try engine.postRoom(text: "alone", room: "general", nickname: "me", now: t0)
        #expect(actions.isEmpty)
        #expect(try engine.store.contains(envelope.id))
    }

    @Test func invalidPostsAreTypedErrors() throws {
        var bench = Bench()
        let maximum = String(repeating: "x", count: 16384)
        #expect(throws: GossipError.invalidRoom) { try bench.engine.postRoom(text: "x", room: "", nickname: "me", now: t0) }
        #expect(throws: GossipError.invalidRoom) {
            try bench.engine.postRoom(text: "x", room: "bad\u{7}room", nickname: "me", now: t0)
        }
        #expect(throws: GossipError.invalidNickname) {
            try bench.engine.postRoom(text: "x", room: "general", nickname: String(repeating: "n", count: 33), now: t0)
        }
        #expect(throws: GossipError.invalidTextLength) { try bench.engine.postRoom(text: "", room: "general", nickname: "me", now: t0) }
        #expect(throws: GossipError.invalidTextLength) {
            try bench.engine.postRoom(text: maximum + "x", room: "general", nickname: "me", now: t0)
        }
        #expect(throws: GossipError.directToSelf) {
            try bench.engine.postDirect(text: "x", to: bench.me.publicKey, nickname: "me", now: t0)
        }
        #expect(throws: GossipError.invalidTextLength) {
            try bench.engine.postDirect(text: "", to: bench.left, nickname: "me", now: t0)
        }
        #expect(throws: GossipError.invalidTextLength) {
            try bench.engine.postDirect(text: maximum + "x", to: bench.left, nickname: "me", now: t0)
        }
        #expect(throws: GossipError.invalidNickname) {
            try bench.engine.postDirect(text: "x", to: bench.left, nickname: "", now: t0)
        }
        // All zeros is a small-order point: nothing can be sealed to it.
        let zero = try SigningPublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        #expect(throws: GossipError.invalidRecipient) { try bench.engine.postDirect(text: "x", to: zero, nickname: "me", now: t0) }
        #expect(bench.store.count == 0, "a refused post stores nothing")

        // The largest texts fit exactly.
        #expect(try bench.engine.postRoom(text: maximum, room: "general", nickname: "me", now: t0).envelope.body.count == 16384)
        #expect(try bench.engine.postDirect(text: maximum, to: bench.left, nickname: "me", now: t0).envelope.body.count == 16432)
    }

    @Test func errorsReadAsSentences() {
        #expect(GossipError.directToSelf.description == "A direct message cannot be sent to yourself.")
    }
}
