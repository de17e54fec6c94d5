import MeshCrypto
import MeshNode
import MeshNoise
import MeshWire
import Testing

/// One side of a test mesh: an identity, optionally in a mesh with a pre-shared key.
private struct TestNode {
    let signingKey = SigningPrivateKey()
    let nickname: String
    let listenPort: UInt16
    let preSharedKey: SecureBytes?

    var key: SigningPublicKey { signingKey.publicKey }
    var identity: LinkIdentity {
        LinkIdentity(signingKey: signingKey, nickname: nickname, listenPort: listenPort, preSharedKey: preSharedKey)
    }
}

/// What the initiator's `start()` put on the wire, split as the responder reads it.
private struct Opening {
    let preamble: [UInt8]
    let message1: [UInt8]

    init(_ bytes: [UInt8]) throws {
        var decoder = FrameDecoder()
        decoder.append(bytes)
        let preamble = decoder.nextUnframed(count: Preamble.byteCount)
        let message1 = try decoder.next()
        self.preamble = try #require(preamble)
        self.message1 = try #require(message1)
        #expect(decoder.bufferedByteCount == 0, "start() sends exactly the preamble and one frame")
    }
}

/// A frame's payload, checking the frame holds nothing else.
private func unframe(_ frame: [UInt8]) throws -> [UInt8] {
    var decoder = FrameDecoder()
    decoder.append(frame)
    let payload = try decoder.next()
    #expect(decoder.bufferedByteCount == 0)
    return try #require(payload)
}

/// Alice dials Bob: both share a fresh psk exactly when `suite` is an IKpsk2 one.
private struct Scenario {
    let suite: Suite
    let alice: TestNode
    let bob: TestNode

    init(_ suite: Suite) {
        self.suite = suite
        let psk = suite.usesPreSharedKey ? SecureBytes(SecureRandom.bytes(count: 32)) : nil
        alice = TestNode(nickname: "alice", listenPort: 7001, preSharedKey: psk)
        bob = TestNode(nickname: "bob", listenPort: 0, preSharedKey: psk)
    }

    func initiator(pinning pinned: SigningPublicKey? = nil, as node: TestNode? = nil, timestamp: UInt64 = 1_000) throws -> InitiatorHandshake {
        try InitiatorHandshake(identity: (node ?? alice).identity, pinnedPeer: pinned ?? bob.key, cipher: suite.cipher, timestamp: timestamp)
    }

    /// Bob's answer to `opening`, trusting `trusted` and remembering `lastAccepted` for every peer.
    func respond(to opening: Opening, as node: TestNode? = nil, trusted: Set<SigningPublicKey>? = nil,
                 lastAccepted: UInt64? = nil, timestamp: UInt64 = 2_000) throws(HandshakeFailure) -> (message2: [UInt8], link: EstablishedLink) {
        var responder = ResponderHandshake(identity: (node ?? bob).identity)
        try responder.receive(preamble: opening.preamble)
        let trustedKeys = trusted ?? [alice.key]
        return try responder.receive(message1: opening.message1, timestamp: timestamp,
                                     pinnedStaticKey: { trustedKeys.contains($0) ? try? $0.keyAgreementKey() : nil })
            .unlessReplayed(lastAccepted: lastAccepted)
    }

    /// A message 1 built by hand from raw Noise, so its payload can say anything.
    func forgedMessage1(staticKey: KeyAgreementPrivateKey, payload: [UInt8]) throws -> Opening {
        let preamble = Preamble(suite: suite).encoded()
        var handshake = HandshakeState(protocol: suite.noiseProtocol, role: .initiator, prologue: preamble, staticKey: staticKey,
                                       remoteStaticKey: try bob.key.keyAgreementKey(), preSharedKey: alice.preSharedKey)
        return try Opening(preamble + Framing.frame(handshake.writeMessage(payload: payload)))
    }
}

/// Alice's key with the sign bit of x flipped: another Ed25519 encoding whose X25519 form is the same.
private func signFlipped(_ key: SigningPublicKey) throws -> SigningPublicKey {
    var raw = key.rawRepresentation
    raw[31] ^= 0x80
    let flipped = try SigningPublicKey(rawRepresentation: raw)
    #expect(try flipped.keyAgreementKey() == key.keyAgreementKey(), "the conversion is two-to-one")
    return flipped
}

@Suite("Link handshake (PROTOCOL.md 4), back to back")
struct LinkHandshakeTests {
    @Test("both sides see each other's payload and the transports interoperate", arguments: Suite.allCases)
    func success(suite: Suite) throws {
        let scenario = Scenario(suite)
        var initiator = try scenario.initiator()
        #expect(initiator.suite == suite)
        let opening = try Opening(initiator.start())
        #expect(opening.preamble == Preamble(suite: suite).encoded())

        var (message2, bobLink) = try scenario.respond(to: opening)
        var aliceLink = try initiator.receive(message2: unframe(message2))

        #expect(aliceLink.suite == suite && bobLink.suite == suite)
        #expect(bobLink.remote == HandshakePayload(identity: scenario.alice.key, timestamp: 1_000, listenPort: 7001, nickname: "alice"))
        #expect(aliceLink.remote == HandshakePayload(identity: scenario.bob.key, timestamp: 2_000, listenPort: 0, nickname: "bob"))

        for round in 0..<3 {
            let ping: [UInt8] = [0x01] + [UInt8](repeating: UInt8(round), count: 8)
            #expect(try bobLink.transport.decrypt(aliceLink.transport.encrypt(ping)) == ping)
            let pong: [UInt8] = [0x02] + [UInt8](repeating: UInt8(round), count: 8)
            #expect(try aliceLink.transport.decrypt(bobLink.transport.encrypt(pong)) == pong)
        }
    }

    @Test("an initiator pinning a key the responder does not hold: the responder cannot decrypt message 1",
          arguments: Suite.allCases)
    func wrongPinnedKey(suite: Suite) throws {
        let scenario = Scenario(suite)
        var initiator = try scenario.initiator(pinning: SigningPrivateKey().publicKey)
        let opening = try Opening(initiator.start())
        #expect(throws: HandshakeFailure.decryptionFailed) { try scenario.respond(to: opening) }
    }

    @Test("an initiator the responder does not trust is refused, naming its key", arguments: Suite.allCases)
    func untrustedInitiator(suite: Suite) throws {
        let scenario = Scenario(suite)
        var initiator = try scenario.initiator()
        let opening = try Opening(initiator.start())
        #expect(throws: HandshakeFailure.untrusted(scenario.alice.key)) {
            try scenario.respond(to: opening, trusted: [SigningPrivateKey().publicKey])
        }
    }

    @Test("a replayed message 1 is refused; only a strictly greater timestamp passes", arguments: Suite.allCases)
    func replayedMessage1(suite: Suite) throws {
        let scenario = Scenario(suite)
        var initiator = try scenario.initiator(timestamp: 5_000)
        let opening = try Opening(initiator.start())
        let (_, firstLink) = try scenario.respond(to: opening)
        // The caller records the initiator's timestamp when it sends message 2.
        let recorded = firstLink.remote.timestamp
        #expect(recorded == 5_000)

        // The same bytes, to a second responder that remembers the recorded timestamp.
        #expect(throws: HandshakeFailure.replayed) { try scenario.respond(to: opening, lastAccepted: recorded) }
        #expect(throws: HandshakeFailure.replayed) { try scenario.respond(to: opening, lastAccepted: recorded + 1) }

        // A fresh handshake with an equal timestamp is also refused; one greater is accepted.
        var sameTime = try scenario.initiator(timestamp: recorded)
        #expect(throws: HandshakeFailure.replayed) { try scenario.respond(to: Opening(sameTime.start()), lastAccepted: recorded) }
        var later = try scenario.initiator(timestamp: recorded + 1)
        let (_, laterLink) = try scenario.respond(to: Opening(later.start()), lastAccepted: recorded)
        #expect(laterLink.remote.timestamp == recorded + 1)
    }

    @Test("a message 1 whose payload names a key other than its static key is refused before trust is asked",
          arguments: Suite.allCases)
    func identityNotMatchingStaticKey(suite: Suite) throws {
        let scenario = Scenario(suite)
        let mallory = SigningPrivateKey()
        // Alice's static key, but the payload claims to be Mallory; both are trusted.
        let claimingMallory = HandshakePayload(identity: mallory.publicKey, timestamp: 1, listenPort: 0, nickname: "alice")
        let opening = try scenario.forgedMessage1(staticKey: scenario.alice.signingKey.keyAgreementKey(), payload: claimingMallory.encoded())
        #expect(throws: HandshakeFailure.identityMismatch) {
            try scenario.respond(to: opening, trusted: [scenario.alice.key, mallory.publicKey])
        }
        // Mallory's own static key claiming to be Alice: the same refusal.
        let claimingAlice = HandshakePayload(identity: scenario.alice.key, timestamp: 1, listenPort: 0, nickname: "alice")
        let impostor = try scenario.forgedMessage1(staticKey: mallory.keyAgreementKey(), payload: claimingAlice.encoded())
        #expect(throws: HandshakeFailure.identityMismatch) {
            try scenario.respond(to: impostor, trusted: [scenario.alice.key, mallory.publicKey])
        }
    }

    @Test("the other Ed25519 key with Alice's X25519 form matches the static key but is not the trusted key",
          arguments: Suite.allCases)
    func twoToOneConversion(suite: Suite) throws {
        let scenario = Scenario(suite)
        let flipped = try signFlipped(scenario.alice.key)
        let payload = HandshakePayload(identity: flipped, timestamp: 1, listenPort: 0, nickname: "alice")
        let opening = try scenario.forgedMessage1(staticKey: scenario.alice.signingKey.keyAgreementKey(), payload: payload.encoded())
        #expect(throws: HandshakeFailure.untrusted(flipped)) { try scenario.respond(to: opening) }
    }

    @Test("message 2 must name the pinned key exactly", arguments: Suite.allCases)
    func message2Identity(suite: Suite) throws {
        let scenario = Scenario(suite)
        let bobStatic = scenario.bob.signingKey.keyAgreementKey()
        for (claimed, expected) in [(SigningPrivateKey().publicKey, HandshakeFailure.identityMismatch),
                                    (try signFlipped(scenario.bob.key), .unexpectedIdentity)] {
            var initiator = try scenario.initiator()
            let opening = try Opening(initiator.start())
            // Bob's side run by hand, so message 2's payload can name another key.
            var responder = HandshakeState(protocol: suite.noiseProtocol, role: .responder, prologue: opening.preamble,
                                           staticKey: bobStatic, remoteStaticKey: nil, preSharedKey: scenario.bob.preSharedKey)
            _ = try responder.readMessage(opening.message1)
            let payload = HandshakePayload(identity: claimed, timestamp: 2, listenPort: 0, nickname: "bob")
            let message2 = try responder.writeMessage(payload: payload.encoded())
            #expect(throws: expected) { try initiator.receive(message2: message2) }
        }
    }

    @Test("payloads that do not parse are refused", arguments: Suite.allCases)
    func malformedPayloads(suite: Suite) throws {
        let scenario = Scenario(suite)
        let good = HandshakePayload(identity: scenario.alice.key, timestamp: 1, listenPort: 0, nickname: "alice").encoded()
        var wrongVersion = good
        wrongVersion[0] = 2
        for payload in [[], good.dropLast(), good + [0], wrongVersion] as [[UInt8]] {
            let opening = try scenario.forgedMessage1(staticKey: scenario.alice.signingKey.keyAgreementKey(), payload: payload)
            #expect(throws: HandshakeFailure.malformedPayload) { try scenario.respond(to: opening) }
        }
    }

    @Test("preambles with wrong magic, version, reserved bytes, length or suite are refused", arguments: Suite.allCases)
    func invalidPreambles(suite: Suite) throws {
        let scenario = Scenario(suite)
        let preamble = Preamble(suite: suite).encoded()
        for index in [0, 3, 4, 6, 7] {
            var tampered = preamble
            tampered[index] ^= 0x01
            var responder = ResponderHandshake(identity: scenario.bob.identity)
            #expect(throws: HandshakeFailure.badPreamble, "byte \(index)") { try responder.receive(preamble: tampered) }
        }
        for bytes in [Array(preamble.prefix(7)), preamble + [0], []] {
            var responder = ResponderHandshake(identity: scenario.bob.identity)
            #expect(throws: HandshakeFailure.badPreamble) { try responder.receive(preamble: bytes) }
        }
        for unknownSuite: UInt8 in [0, 5, 0xff] {
            var tampered = preamble
            tampered[5] = unknownSuite
            var responder = ResponderHandshake(identity: scenario.bob.identity)
            #expect(throws: HandshakeFailure.unsupportedSuite) { try responder.receive(preamble: tampered) }
        }
    }

    @Test("a preamble changed in transit to another valid one makes message 1 fail: the prologue differs",
          arguments: Suite.allCases)
    func preambleChangedInTransit(suite: Suite) throws {
        let scenario = Scenario(suite)
        var initiator = try scenario.initiator()
        let opening = try Opening(initiator.start())
        // The other cipher of the same psk class, which Bob accepts: 1 <-> 2, 3 <-> 4.
        let other = Suite.suite(cipher: suite.cipher == .chaChaPoly ? .aesGCM : .chaChaPoly, preSharedKey: suite.usesPreSharedKey)
        let changed = Opening(preamble: Preamble(suite: other).encoded(), message1: opening.message1)
        var responder = ResponderHandshake(identity: scenario.bob.identity)
        try responder.receive(preamble: changed.preamble)
        #expect(responder.suite == other)
        #expect(throws: HandshakeFailure.decryptionFailed) {
            try responder.receive(message1: changed.message1, timestamp: 1, pinnedStaticKey: { try? $0.keyAgreementKey() })
        }
    }

    @Test("a wrong pre-shared key passes message 1 (psk2 mixes it at the end of message 2) and fails at the initiator",
          arguments: Suite.allCases.filter(\.usesPreSharedKey))
    func wrongPreSharedKey(suite: Suite) throws {
        let scenario = Scenario(suite)
        let otherMeshBob = TestNode(nickname: "bob", listenPort: 0, preSharedKey: SecureBytes(SecureRandom.bytes(count: 32)))
        var initiator = try scenario.initiator(pinning: otherMeshBob.key)
        let opening = try Opening(initiator.start())
        let (message2, _) = try scenario.respond(to: opening, as: otherMeshBob)
        #expect(throws: HandshakeFailure.decryptionFailed) { try initiator.receive(message2: unframe(message2)) }
    }

    @Test("a responder without a psk refuses the psk suites, and one with a psk refuses the others", arguments: Suite.allCases)
    func suiteAcceptance(suite: Suite) throws {
        let withoutPSK = TestNode(nickname: "plain", listenPort: 0, preSharedKey: nil)
        let withPSK = TestNode(nickname: "mesh", listenPort: 0, preSharedKey: SecureBytes(SecureRandom.bytes(count: 32)))
        let (accepting, refusing) = suite.usesPreSharedKey ? (withPSK, withoutPSK) : (withoutPSK, withPSK)
        var refused = ResponderHandshake(identity: refusing.identity)
        #expect(throws: HandshakeFailure.unsupportedSuite) { try refused.receive(preamble: Preamble(suite: suite).encoded()) }
        var accepted = ResponderHandshake(identity: accepting.identity)
        try accepted.receive(preamble: Preamble(suite: suite).encoded())
        #expect(accepted.suite == suite)
    }

    @Test("calls out of order are protocol violations")
    func outOfOrder() throws {
        let scenario = Scenario(.ikChaChaPolyBLAKE2b)
        let notStarted = try scenario.initiator()
        #expect(throws: HandshakeFailure.protocolViolation) { try notStarted.receive(message2: [1, 2, 3]) }
        var started = try scenario.initiator()
        let opening = try Opening(started.start())
        #expect(throws: HandshakeFailure.protocolViolation) { try started.start() }

        let noPreamble = ResponderHandshake(identity: scenario.bob.identity)
        #expect(throws: HandshakeFailure.protocolViolation) {
            try noPreamble.receive(message1: opening.message1, timestamp: 1, pinnedStaticKey: { try? $0.keyAgreementKey() })
        }
        var twice = ResponderHandshake(identity: scenario.bob.identity)
        try twice.receive(preamble: opening.preamble)
        #expect(throws: HandshakeFailure.protocolViolation) { try twice.receive(preamble: opening.preamble) }
    }

    @Test("short or truncated handshake messages fail without a link", arguments: Suite.allCases)
    func truncatedMessages(suite: Suite) throws {
        let scenario = Scenario(suite)
        var initiator = try scenario.initiator()
        let opening = try Opening(initiator.start())
        #expect(throws: HandshakeFailure.protocolViolation) {
            try scenario.respond(to: Opening(preamble: opening.preamble, message1: Array(opening.message1.prefix(20))))
        }
        #expect(throws: HandshakeFailure.decryptionFailed) {
            try scenario.respond(to: Opening(preamble: opening.preamble, message1: opening.message1.dropLast()))
        }
        let (message2, _) = try scenario.respond(to: opening)
        #expect(throws: HandshakeFailure.decryptionFailed) { try initiator.receive(message2: unframe(message2).dropLast()) }
    }

    @Test("a pinned key that has no X25519 form cannot be dialed")
    func unconvertiblePinnedKey() throws {
        let scenario = Scenario(.ikChaChaPolyBLAKE2b)
        // The neutral element (y = 1) is a small-order point libsodium refuses to convert.
        let neutral = try SigningPublicKey(rawRepresentation: [1] + [UInt8](repeating: 0, count: 31))
        #expect(throws: CryptoError.invalidKey) { try neutral.keyAgreementKey() }
        #expect(throws: HandshakeFailure.unexpectedIdentity) { try scenario.initiator(pinning: neutral) }
    }
}

extension Opening {
    init(preamble: [UInt8], message1: some Collection<UInt8>) {
        self.preamble = preamble
        self.message1 = Array(message1)
    }
}
