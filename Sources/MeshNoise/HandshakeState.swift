import MeshCrypto

/// Noise's HandshakeState (section 5.3) for IK and IKpsk2: a SymmetricState plus the DH keys
/// `s, e, rs, re`, the psk, and the remaining message patterns.
///
/// A value type with no clock, socket or hidden randomness beyond GENERATE_KEYPAIR, which an
/// injected ephemeral key replaces. `split()` consumes it and returns a ``TransportState`` that
/// holds nothing of the handshake: the chaining key, `e` and `s` go with the handshake.
public struct HandshakeState: Sendable {
    /// The protocol this handshake runs.
    public let `protocol`: NoiseProtocol
    /// Whether this party sent or will send the first message.
    public let role: NoiseRole
    private var symmetricState: SymmetricState
    private let s: KeyAgreementPrivateKey
    private var e: KeyAgreementPrivateKey?
    private var rs: KeyAgreementPublicKey?
    private var re: KeyAgreementPublicKey?
    private let psk: SecureBytes?
    /// Index into the pattern's message patterns of the next message to write or read.
    private var messageIndex = 0

    /// Initialize(handshake_pattern, initiator, prologue, s, e, rs, re = empty, psk).
    ///
    /// The initiator must pass the responder's static key (`<- s` is a pre-message of IK); the
    /// responder learns the initiator's from message 1 and passes nil. A psk is required exactly
    /// for IKpsk2. `ephemeralKey` is for test vectors; by default one is generated when needed.
    public init(protocol: NoiseProtocol, role: NoiseRole, prologue: [UInt8], staticKey: KeyAgreementPrivateKey,
                remoteStaticKey: KeyAgreementPublicKey?, preSharedKey: SecureBytes?,
                ephemeralKey: KeyAgreementPrivateKey? = nil) {
        precondition((role == .initiator) == (remoteStaticKey != nil), "IK: only the initiator knows rs in advance")
        precondition(`protocol`.pattern.usesPreSharedKey == (preSharedKey != nil), "a psk is required exactly for psk patterns")
        precondition(preSharedKey.map { $0.count == NoiseLimits.preSharedKeyByteCount } ?? true, "a psk is 32 bytes")
        self.protocol = `protocol`
        self.role = role
        symmetricState = SymmetricState(protocolName: `protocol`.name, cipher: `protocol`.cipher, hash: `protocol`.hash)
        s = staticKey
        e = ephemeralKey
        rs = remoteStaticKey
        psk = preSharedKey
        symmetricState.mixHash(prologue)
        // "Calls MixHash() once for each public key listed in the pre-messages": IK's is the responder's s.
        for token in `protocol`.pattern.responderPreMessage {
            switch token {
            case .s: symmetricState.mixHash(role == .responder ? s.publicKey.rawRepresentation : remoteStaticKey!.rawRepresentation)
            case .e, .ee, .es, .se, .ss, .psk: preconditionFailure("IK's pre-message holds only s")
            }
        }
    }

    /// The remote party's static key: known from the start for the initiator, after message 1 for the responder.
    public var remoteStaticKey: KeyAgreementPublicKey? { rs }

    /// Whether every message pattern has been written or read, so `split()` may be called.
    public var isHandshakeComplete: Bool { messageIndex == `protocol`.pattern.messagePatterns.count }

    /// Whether the next message is ours to write (false once the handshake is complete).
    public var isMyTurnToWrite: Bool {
        !isHandshakeComplete && (messageIndex % 2 == 0) == (role == .initiator)
    }

    /// GetHandshakeHash(): `h`, identical on both sides once the handshake completes.
    public var handshakeHash: [UInt8] { symmetricState.getHandshakeHash() }

    /// WriteMessage(payload, message_buffer): the next handshake message carrying `payload`.
    ///
    /// On a thrown error the state is unchanged; a failed handshake should be abandoned anyway.
    public mutating func writeMessage(payload: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard isMyTurnToWrite else { throw .wrongTurn }
        var next = self
        var message: [UInt8] = []
        for token in `protocol`.pattern.messagePatterns[messageIndex] {
            switch token {
            case .e:
                let ephemeral = next.e ?? KeyAgreementPrivateKey()
                next.e = ephemeral
                message += ephemeral.publicKey.rawRepresentation
                next.mixEphemeral(ephemeral.publicKey)
            case .s:
                message += try next.symmetricState.encryptAndHash(s.publicKey.rawRepresentation)
            case .ee, .es, .se, .ss:
                try next.mixDH(token)
            case .psk:
                next.symmetricState.mixKeyAndHash(psk!)
            }
        }
        message += try next.symmetricState.encryptAndHash(payload)
        // "All Noise messages are less than or equal to 65535 bytes in length." (Noise section 3)
        guard message.count <= NoiseLimits.maxMessageByteCount else { throw .messageTooLong }
        next.messageIndex += 1
        self = next
        return message
    }

    /// ReadMessage(message, payload_buffer): processes the peer's next handshake message and returns its payload.
    ///
    /// On a thrown error the state is unchanged; a failed handshake should be abandoned anyway.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !isHandshakeComplete, !isMyTurnToWrite else { throw .wrongTurn }
        guard message.count <= NoiseLimits.maxMessageByteCount else { throw .messageTooLong }
        var next = self
        var rest = message[...]
        for token in `protocol`.pattern.messagePatterns[messageIndex] {
            switch token {
            case .e:
                let remoteEphemeral = try Self.readPublicKey(from: &rest, byteCount: KeyAgreementPublicKey.byteCount)
                next.re = remoteEphemeral
                next.mixEphemeral(remoteEphemeral)
            case .s:
                // "Sets temp to the next DHLEN + 16 bytes of the message if HasKey() == True, or to the next DHLEN bytes otherwise."
                let byteCount = KeyAgreementPublicKey.byteCount + (next.symmetricState.cipherState.hasKey ? AEADCipher.tagByteCount : 0)
                guard rest.count >= byteCount else { throw .malformedMessage }
                let plaintext = try next.symmetricState.decryptAndHash(Array(rest.prefix(byteCount)))
                rest = rest.dropFirst(byteCount)
                next.rs = try Self.publicKey(plaintext)
            case .ee, .es, .se, .ss:
                try next.mixDH(token)
            case .psk:
                next.symmetricState.mixKeyAndHash(psk!)
            }
        }
        let payload = try next.symmetricState.decryptAndHash(Array(rest))
        next.messageIndex += 1
        self = next
        return payload
    }

    /// Split() after the last handshake message: the transport, oriented by role (PROTOCOL.md 5:
    /// "the initiator encrypts with the first and decrypts with the second, the responder the reverse").
    public consuming func split() -> TransportState {
        precondition(isHandshakeComplete, "Split() before the handshake is complete")
        let (c1, c2) = symmetricState.split()
        switch role {
        case .initiator: return TransportState(sending: c1, receiving: c2)
        case .responder: return TransportState(sending: c2, receiving: c1)
        }
    }

    /// The `e` token: MixHash(e.public_key), and in a psk handshake also MixKey(e.public_key):
    /// "In a PSK handshake, all of these calls are followed by MixKey(e.public_key)." (Noise section 9.2)
    private mutating func mixEphemeral(_ publicKey: KeyAgreementPublicKey) {
        symmetricState.mixHash(publicKey.rawRepresentation)
        if `protocol`.pattern.usesPreSharedKey {
            symmetricState.mixKey(SecureBytes(publicKey.rawRepresentation))
        }
    }

    /// The DH tokens: `ee` = DH(e, re); `es` = DH(e, rs) for the initiator, DH(s, re) for the
    /// responder; `se` the mirror of `es`; `ss` = DH(s, rs). Each result goes through MixKey.
    private mutating func mixDH(_ token: HandshakePattern.Token) throws(NoiseError) {
        let local: KeyAgreementPrivateKey?, remote: KeyAgreementPublicKey?
        switch (token, role) {
        case (.ee, _): (local, remote) = (e, re)
        case (.es, .initiator), (.se, .responder): (local, remote) = (e, rs)
        case (.es, .responder), (.se, .initiator): (local, remote) = (s, re)
        case (.ss, _): (local, remote) = (s, rs)
        case (.e, _), (.s, _), (.psk, _): preconditionFailure("not a DH token")
        }
        guard let local, let remote else { preconditionFailure("IK always has both keys of a DH token by then") }
        do {
            symmetricState.mixKey(try local.sharedSecret(with: remote))
        } catch {
            // libsodium refuses a low-order point, whose shared secret would be all zeros.
            throw .invalidRemoteKey
        }
    }

    private static func readPublicKey(from rest: inout ArraySlice<UInt8>, byteCount: Int) throws(NoiseError) -> KeyAgreementPublicKey {
        guard rest.count >= byteCount else { throw .malformedMessage }
        defer { rest = rest.dropFirst(byteCount) }
        return try publicKey(rest.prefix(byteCount))
    }

    private static func publicKey(_ bytes: some Collection<UInt8>) throws(NoiseError) -> KeyAgreementPublicKey {
        do {
            return try KeyAgreementPublicKey(rawRepresentation: bytes)
        } catch {
            throw .malformedMessage
        }
    }
}

extension HandshakeState: CustomStringConvertible {
    /// The protocol, role and progress; never a key.
    public var description: String {
        "HandshakeState(\(`protocol`.name), \(role), message \(messageIndex) of \(`protocol`.pattern.messagePatterns.count))"
    }
}
