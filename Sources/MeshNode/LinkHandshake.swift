import MeshCrypto
import MeshNoise
import MeshWire

// PROTOCOL.md section 4 as two pure state machines, one per side: bytes and timestamps in,
// bytes and an established link (or a typed failure) out. No socket, clock or hidden state:
// the caller reads frames, supplies the time and the trust decisions, and records timestamps.

/// What this node brings to a handshake: who it is, what it tells peers, and its mesh pre-shared key.
public struct LinkIdentity: Sendable {
    /// The node's Ed25519 identity (PROTOCOL.md 1).
    public let signingKey: SigningPrivateKey
    /// The X25519 form of `signingKey`, the Noise static key, derived once here: deriving it
    /// (a hash and a base-point multiplication) for every handshake was a fifth of a handshake's CPU.
    public let staticKey: KeyAgreementPrivateKey
    /// The display name sent in the handshake payload.
    public let nickname: String
    /// The TCP port this node listens on, 0 if none.
    public var listenPort: UInt16
    /// The mesh pre-shared key (32 bytes), if this node's mesh uses one: it then speaks only the IKpsk2 suites.
    public let preSharedKey: SecureBytes?

    /// Bundles a node's handshake identity.
    public init(signingKey: SigningPrivateKey, nickname: String, listenPort: UInt16, preSharedKey: SecureBytes?) {
        precondition(preSharedKey.map { $0.count == NoiseLimits.preSharedKeyByteCount } ?? true,
                     "a mesh pre-shared key is 32 random bytes (PROTOCOL.md 1)")
        precondition(Names.isValidNickname(nickname), "a nickname is a name of 1...32 bytes without Cc characters")
        self.signingKey = signingKey
        staticKey = signingKey.keyAgreementKey()
        self.nickname = nickname
        self.listenPort = listenPort
        self.preSharedKey = preSharedKey
    }

    /// The payload both handshake messages carry (PROTOCOL.md 4), stamped with `timestamp`.
    func payload(timestamp: UInt64) -> HandshakePayload {
        HandshakePayload(identity: signingKey.publicKey, timestamp: timestamp, listenPort: listenPort, nickname: nickname)
    }
}

/// Why a handshake ended without a link. Every case means "close the connection"; none carries key material
/// except ``untrusted(_:)``, whose public key the operator is told so they can pin it.
public enum HandshakeFailure: Error, Equatable, Sendable {
    /// The 8 preamble bytes are not `MESH`, version 1, a known suite and reserved 0.
    case badPreamble
    /// A suite this node does not accept: "psk suites iff it has a psk" (PROTOCOL.md 3).
    case unsupportedSuite
    /// A handshake message did not authenticate: another static key, prologue, suite or pre-shared key.
    case decryptionFailed
    /// The decrypted payload does not parse exactly (PROTOCOL.md 4).
    case malformedPayload
    /// The payload's identity does not convert to the static key the handshake authenticated.
    case identityMismatch
    /// The initiator's identity is not in this node's trusted-peers file.
    case untrusted(SigningPublicKey)
    /// Message 1's timestamp is not greater than the largest accepted from that peer.
    case replayed
    /// Message 2 names an identity other than the pinned key, or the pinned key cannot be a Noise static key.
    case unexpectedIdentity
    /// Bytes out of order or of an impossible shape (a short message, a low-order key, a call out of turn).
    case protocolViolation
}

/// A completed handshake: the suite, what the peer said about itself, and the transport keys.
public struct EstablishedLink: Sendable {
    /// The suite both sides ran.
    public let suite: Suite
    /// The peer's handshake payload; its identity is authenticated by the handshake.
    public let remote: HandshakePayload
    /// Split()'s CipherStates, oriented for this side (PROTOCOL.md 5).
    public var transport: TransportState

    /// Bundles a completed handshake (the state machines below make these; tests may too).
    public init(suite: Suite, remote: HandshakePayload, transport: TransportState) {
        self.suite = suite
        self.remote = remote
        self.transport = transport
    }
}

/// The dialing side of PROTOCOL.md 4: preamble and message 1 out, message 2 in.
public struct InitiatorHandshake: Sendable {
    private enum State: Sendable {
        case readyToStart(HandshakeState)
        case awaitingMessage2(HandshakeState)
        /// A call out of order left nothing usable (`start()` twice, or its failure).
        case failed
    }

    /// The suite announced in the preamble.
    public let suite: Suite
    private let preamble: [UInt8]
    private let pinnedPeer: SigningPublicKey
    private let pinnedStaticKey: KeyAgreementPublicKey
    private let payload: HandshakePayload
    private var state: State

    /// Prepares a handshake with the peer pinned as `pinnedPeer`, with the ChaChaPoly or AESGCM
    /// suite and IKpsk2 exactly when `identity` has a pre-shared key. `timestamp` (ns since the
    /// epoch) must already be strictly greater than any this node sent before.
    ///
    /// `pinnedStaticKey` is the pinned key's X25519 form when the caller keeps it (``TrustedPeers``
    /// does); it is converted here otherwise.
    ///
    /// Throws ``HandshakeFailure/unexpectedIdentity`` for a pinned key libsodium cannot convert:
    /// "A key that libsodium cannot convert cannot be pinned." (PROTOCOL.md 1)
    public init(identity: LinkIdentity, pinnedPeer: SigningPublicKey, pinnedStaticKey: KeyAgreementPublicKey? = nil,
                cipher: AEADCipher, timestamp: UInt64, ephemeralKey: KeyAgreementPrivateKey? = nil) throws(HandshakeFailure) {
        // "The initiator's `rs` is the X25519 form of the pinned key of the peer it dialed."
        guard let pinnedStaticKey = pinnedStaticKey ?? (try? pinnedPeer.keyAgreementKey()) else { throw .unexpectedIdentity }
        // "An initiator uses the ChaChaPoly suite unless its operator chose AESGCM" (PROTOCOL.md 3).
        suite = Suite.suite(cipher: cipher, preSharedKey: identity.preSharedKey != nil)
        // "The Noise prologue is the 8 preamble bytes, so a preamble changed in transit makes the handshake fail."
        preamble = Preamble(suite: suite).encoded()
        self.pinnedPeer = pinnedPeer
        self.pinnedStaticKey = pinnedStaticKey
        payload = identity.payload(timestamp: timestamp)
        state = .readyToStart(HandshakeState(
            protocol: suite.noiseProtocol, role: .initiator, prologue: preamble,
            staticKey: identity.staticKey, remoteStaticKey: pinnedStaticKey,
            preSharedKey: identity.preSharedKey, ephemeralKey: ephemeralKey))
    }

    /// The first bytes on the connection: the 8-byte preamble followed by the framed message 1.
    public mutating func start() throws(HandshakeFailure) -> [UInt8] {
        guard case .readyToStart(var handshake) = state else {
            state = .failed
            throw .protocolViolation
        }
        state = .failed
        let message1 = try noise { () throws(NoiseError) in try handshake.writeMessage(payload: payload.encoded()) }
        state = .awaitingMessage2(handshake)
        // "Each handshake message travels in one frame." (PROTOCOL.md 4)
        return preamble + Framing.frame(message1)
    }

    /// Completes the handshake with message 2's frame payload (without its length prefix).
    ///
    /// Any failure means "the node at that address does not hold the pinned key, does not trust
    /// us, or uses a different suite or pre-shared key" (PROTOCOL.md 4); the caller says so and
    /// never retries with a weaker suite.
    public consuming func receive(message2: [UInt8]) throws(HandshakeFailure) -> EstablishedLink {
        guard case .awaitingMessage2(var handshake) = state else { throw .protocolViolation }
        let plaintext = try noise { () throws(NoiseError) in try handshake.readMessage(message2) }
        guard handshake.isHandshakeComplete else { throw .protocolViolation }
        let remote = try HandshakePayload.parsed(plaintext)
        // The responder's static key was fixed in advance (`<- s`), so message 2 decrypting
        // proves the peer holds it. "The initiator checks that the identity in message 2 is the
        // pinned key": the pinned key converts to that static key by construction, so only
        // another identity is converted, to tell one that does not match the static key apart
        // from the other Ed25519 key with the same X25519 form (conversion is two-to-one).
        guard remote.identity == pinnedPeer else {
            throw remote.identity.convertsForward(to: pinnedStaticKey) ? .unexpectedIdentity : .identityMismatch
        }
        return EstablishedLink(suite: suite, remote: remote, transport: handshake.split())
    }
}

/// The listening side of PROTOCOL.md 4: preamble and message 1 in, message 2 out.
public struct ResponderHandshake: Sendable {
    private enum State: Sendable {
        case awaitingPreamble
        case awaitingMessage1(Suite, HandshakeState)
        /// A refused preamble, or a call out of order: the connection is to be closed.
        case failed
    }

    private let identity: LinkIdentity
    private var state: State = .awaitingPreamble

    /// Waits for a preamble on a freshly accepted connection.
    public init(identity: LinkIdentity) {
        self.identity = identity
    }

    /// The suite the initiator announced, once the preamble was accepted.
    public var suite: Suite? {
        switch state {
        case .awaitingMessage1(let suite, _): suite
        case .awaitingPreamble, .failed: nil
        }
    }

    /// Checks the first 8 bytes. "The listening node (the responder) closes the connection without
    /// a reply if the magic, version or reserved bytes are wrong or it does not accept the suite." (PROTOCOL.md 3)
    public mutating func receive(preamble: [UInt8]) throws(HandshakeFailure) {
        guard case .awaitingPreamble = state else {
            state = .failed
            throw .protocolViolation
        }
        state = .failed
        let parsed: Preamble
        do {
            parsed = try Preamble.parse(preamble)
        } catch .unknownSuite {
            throw .unsupportedSuite
        } catch {
            throw .badPreamble
        }
        // Suites 1 and 2 are "accepted by every node without a mesh pre-shared key", 3 and 4 "by
        // every node with a mesh pre-shared key" (PROTOCOL.md 3).
        guard parsed.suite.usesPreSharedKey == (identity.preSharedKey != nil) else { throw .unsupportedSuite }
        state = .awaitingMessage1(parsed.suite, HandshakeState(
            protocol: parsed.suite.noiseProtocol, role: .responder, prologue: preamble,
            staticKey: identity.staticKey, remoteStaticKey: nil,
            preSharedKey: identity.preSharedKey))
    }

    /// Reads message 1's frame payload and, if checks 1 and 2 of PROTOCOL.md 4 pass, answers it:
    /// message 2 (framed) and the link, which the replay check (3) still has to release.
    /// `timestamp` stamps message 2. `pinnedStaticKey` answers the trusted-peers file: the X25519
    /// form of a pinned identity, nil for one that is not pinned.
    ///
    /// Pure and `Sendable`, so a node runs it (four X25519 operations and a key pair) beside its
    /// event loop and makes the replay check, which reads its store, back on the loop.
    ///
    /// With psk2 a wrong pre-shared key shows only when the first transport frame fails to
    /// decrypt, so the caller counts the link as established only after that frame.
    public consuming func receive(message1: [UInt8], timestamp: UInt64,
                                  pinnedStaticKey: (SigningPublicKey) -> KeyAgreementPublicKey?) throws(HandshakeFailure)
        -> AnsweredMessage1 {
        guard case .awaitingMessage1(let suite, var handshake) = state else { throw .protocolViolation }
        let plaintext = try noise { () throws(NoiseError) in try handshake.readMessage(message1) }
        guard let initiatorStaticKey = handshake.remoteStaticKey else { throw .protocolViolation }

        // 1. "closes without a reply if the payload does not parse or its identity does not match
        //    the initiator's static key": compared by converting the identity forward (PROTOCOL.md 1),
        //    for a pinned identity with the form converted when it was pinned.
        let remote = try HandshakePayload.parsed(plaintext)
        guard let pinned = pinnedStaticKey(remote.identity) else {
            guard remote.identity.convertsForward(to: initiatorStaticKey) else { throw .identityMismatch }
            // 2. "closes without a reply if that identity is not in its trusted-peers file".
            throw .untrusted(remote.identity)
        }
        guard constantTimeEquals(pinned.rawRepresentation, initiatorStaticKey.rawRepresentation) else { throw .identityMismatch }
        // 4. "otherwise sends message 2": made here, sent only once `AnsweredMessage1` passes check 3.
        let message2 = try noise { () throws(NoiseError) in
            try handshake.writeMessage(payload: identity.payload(timestamp: timestamp).encoded())
        }
        guard handshake.isHandshakeComplete else { throw .protocolViolation }
        return AnsweredMessage1(message2: Framing.frame(message2),
                                link: EstablishedLink(suite: suite, remote: remote, transport: handshake.split()))
    }
}

/// A responder's answer to a message 1 that passed checks 1 and 2, held back until the replay check.
public struct AnsweredMessage1: Sendable {
    private let message2: [UInt8]
    private let link: EstablishedLink

    fileprivate init(message2: [UInt8], link: EstablishedLink) {
        self.message2 = message2
        self.link = link
    }

    /// What the initiator said about itself; its identity is authenticated.
    public var remote: HandshakePayload { link.remote }

    /// 3. "closes without a reply if the timestamp is not greater than the largest it has
    /// accepted from that peer (a replayed message 1)": `lastAccepted` is that largest, nil if
    /// none. Otherwise returns message 2 to send and the link; the caller records the initiator's
    /// timestamp when it sends message 2 ("it records the timestamp when it sends message 2").
    public consuming func unlessReplayed(lastAccepted: UInt64?) throws(HandshakeFailure) -> (message2: [UInt8], link: EstablishedLink) {
        if let lastAccepted, link.remote.timestamp <= lastAccepted { throw .replayed }
        return (message2, link)
    }
}

extension Suite {
    /// The Noise protocol of the suite table (PROTOCOL.md 3).
    public var noiseProtocol: NoiseProtocol {
        NoiseProtocol(pattern: usesPreSharedKey ? .IKpsk2 : .IK, cipher: cipher, hash: hash)
    }
}

extension SigningPublicKey {
    /// Whether this identity's X25519 form is `staticKey`. Always converts the Ed25519 key forward:
    /// "The conversion is two-to-one, so a node compares by converting pinned keys forward, never
    /// by converting an X25519 key back." (PROTOCOL.md 1)
    func convertsForward(to staticKey: KeyAgreementPublicKey) -> Bool {
        guard let converted = try? keyAgreementKey() else { return false }
        return constantTimeEquals(converted.rawRepresentation, staticKey.rawRepresentation)
    }
}

extension HandshakePayload {
    /// Parses a decrypted payload, any wire error becoming ``HandshakeFailure/malformedPayload``.
    static func parsed(_ bytes: [UInt8]) throws(HandshakeFailure) -> HandshakePayload {
        do {
            return try HandshakePayload.parse(bytes)
        } catch {
            throw .malformedPayload
        }
    }
}

/// Runs one Noise step, mapping its errors: an authentication failure stays one opaque case;
/// anything else a peer can cause in a handshake (a short message, a low-order key, a message
/// out of turn) is a protocol violation.
private func noise<T>(_ step: () throws(NoiseError) -> T) throws(HandshakeFailure) -> T {
    do {
        return try step()
    } catch {
        switch error {
        case .decryptionFailed: throw .decryptionFailed
        case .messageTooLong, .malformedMessage, .nonceExhausted, .invalidRemoteKey, .wrongTurn: throw .protocolViolation
        }
    }
}
