import MeshCrypto
import MeshNoise
import Testing

/// Every protocol MeshChat speaks, as values.
let meshChatProtocols = meshChatProtocolNames.map { NoiseProtocol(name: $0)! }

/// Two parties with fresh random keys, ready to run one handshake.
struct HandshakePair {
    let initiatorStatic = KeyAgreementPrivateKey()
    let responderStatic = KeyAgreementPrivateKey()
    var initiator: HandshakeState
    var responder: HandshakeState

    init(_ noiseProtocol: NoiseProtocol, prologue: [UInt8] = Array("MESH".utf8),
         responderPrologue: [UInt8]? = nil, initiatorPSK: SecureBytes? = nil, responderPSK: SecureBytes? = nil,
         initiatorBelievesResponderIs believed: KeyAgreementPublicKey? = nil) {
        let psk = noiseProtocol.pattern.usesPreSharedKey ? SecureBytes(SecureRandom.bytes(count: 32)) : nil
        initiator = HandshakeState(protocol: noiseProtocol, role: .initiator, prologue: prologue, staticKey: initiatorStatic,
                                   remoteStaticKey: believed ?? responderStatic.publicKey, preSharedKey: initiatorPSK ?? psk)
        responder = HandshakeState(protocol: noiseProtocol, role: .responder, prologue: responderPrologue ?? prologue,
                                   staticKey: responderStatic, remoteStaticKey: nil, preSharedKey: responderPSK ?? psk)
    }
}

@Suite("HandshakeState back to back")
struct HandshakeStateTests {
    @Test("protocol names round-trip, and nothing else parses", arguments: meshChatProtocols)
    func protocolNames(noiseProtocol: NoiseProtocol) {
        #expect(NoiseProtocol(name: noiseProtocol.name) == noiseProtocol)
    }

    @Test func foreignProtocolNamesAreRejected() {
        for name in ["Noise_XX_25519_ChaChaPoly_BLAKE2b", "Noise_IK_448_ChaChaPoly_BLAKE2b", "Noise_IK_25519_ChaChaPoly_BLAKE2s",
                     "Noise_IKpsk1_25519_AESGCM_SHA256", "Noise_IK_25519_AESGCM_SHA256_", "IK_25519_AESGCM_SHA256", ""] {
            #expect(NoiseProtocol(name: name) == nil, "\(name)")
        }
    }

    @Test("a handshake completes and both transports interoperate", arguments: meshChatProtocols)
    func success(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol)
        #expect(pair.initiator.isMyTurnToWrite && !pair.responder.isMyTurnToWrite)
        let message1 = try pair.initiator.writeMessage(payload: Array("hello".utf8))
        #expect(try pair.responder.readMessage(message1) == Array("hello".utf8))
        #expect(pair.responder.remoteStaticKey == pair.initiatorStatic.publicKey)
        let message2 = try pair.responder.writeMessage(payload: Array("welcome".utf8))
        #expect(try pair.initiator.readMessage(message2) == Array("welcome".utf8))
        #expect(pair.initiator.isHandshakeComplete && pair.responder.isHandshakeComplete)
        #expect(pair.initiator.handshakeHash == pair.responder.handshakeHash)
        #expect(pair.initiator.handshakeHash.count == noiseProtocol.hash.outputByteCount)
        // IK message 1: e (32) + encrypted s (32 + 16) + payload + tag; message 2: e (32) + payload + tag.
        #expect(message1.count == 32 + 48 + 5 + 16)
        #expect(message2.count == 32 + 7 + 16)

        var initiator = pair.initiator.split()
        var responder = pair.responder.split()
        for round in 0..<5 {
            let ping: [UInt8] = [UInt8(round)] + Array("ping".utf8)
            #expect(try responder.decrypt(initiator.encrypt(ping)) == ping)
            let pong = Array(repeating: UInt8(round), count: round)
            #expect(try initiator.decrypt(responder.encrypt(pong)) == pong)
        }
        // Each direction has its own key: a party cannot read its own messages.
        let own = try initiator.encrypt([1, 2, 3])
        #expect(throws: NoiseError.decryptionFailed) { try initiator.decrypt(own) }
    }

    @Test("the responder learns a key only from a valid message 1; the initiator knows it from the start", arguments: meshChatProtocols)
    func remoteStaticKeys(noiseProtocol: NoiseProtocol) {
        let pair = HandshakePair(noiseProtocol)
        #expect(pair.initiator.remoteStaticKey == pair.responderStatic.publicKey)
        #expect(pair.responder.remoteStaticKey == nil)
    }

    @Test("an initiator that pins the wrong responder key fails at the responder on message 1", arguments: meshChatProtocols)
    func wrongResponderStatic(noiseProtocol: NoiseProtocol) throws {
        // IK's `es` is DH(e, rs) on the initiator's side: with the wrong rs the responder, computing
        // DH(s, re), derives another key and cannot decrypt the initiator's static key.
        var pair = HandshakePair(noiseProtocol, initiatorBelievesResponderIs: KeyAgreementPrivateKey().publicKey)
        let message1 = try pair.initiator.writeMessage(payload: [])
        #expect(throws: NoiseError.decryptionFailed) { try pair.responder.readMessage(message1) }
        #expect(pair.responder.remoteStaticKey == nil)
    }

    @Test("a different prologue fails at message 1", arguments: meshChatProtocols)
    func differentPrologue(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol, prologue: [1, 2, 3], responderPrologue: [1, 2, 4])
        let message1 = try pair.initiator.writeMessage(payload: [])
        #expect(throws: NoiseError.decryptionFailed) { try pair.responder.readMessage(message1) }
    }

    @Test("IKpsk2 with different psks: message 1 is read, message 2 fails at the initiator",
          arguments: meshChatProtocols.filter { $0.pattern == .IKpsk2 })
    func wrongPreSharedKey(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol, initiatorPSK: SecureBytes(SecureRandom.bytes(count: 32)),
                                 responderPSK: SecureBytes(SecureRandom.bytes(count: 32)))
        // psk2 mixes the psk at the end of message 2, so message 1 still authenticates.
        _ = try pair.responder.readMessage(pair.initiator.writeMessage(payload: []))
        let message2 = try pair.responder.writeMessage(payload: [])
        #expect(throws: NoiseError.decryptionFailed) { try pair.initiator.readMessage(message2) }
        #expect(!pair.initiator.isHandshakeComplete)
    }

    @Test("any flipped byte of either handshake message fails to decrypt, and leaves the reader's state unchanged",
          arguments: meshChatProtocols)
    func tamperedMessages(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol)
        let message1 = try pair.initiator.writeMessage(payload: Array("payload one".utf8))
        for index in message1.indices {
            var tampered = message1
            tampered[index] ^= 0x01
            #expect(throws: NoiseError.decryptionFailed) { try pair.responder.readMessage(tampered) }
        }
        // The failures did not advance the responder: the genuine message still reads.
        #expect(try pair.responder.readMessage(message1) == Array("payload one".utf8))
        let message2 = try pair.responder.writeMessage(payload: Array("payload two".utf8))
        for index in message2.indices {
            var tampered = message2
            tampered[index] ^= 0x80
            #expect(throws: NoiseError.decryptionFailed) { try pair.initiator.readMessage(tampered) }
        }
        #expect(try pair.initiator.readMessage(message2) == Array("payload two".utf8))
    }

    @Test("truncated handshake messages are malformed or fail to decrypt", arguments: meshChatProtocols)
    func truncatedMessages(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol)
        let message1 = try pair.initiator.writeMessage(payload: [])
        // Too short for `e`, then too short for the encrypted `s`.
        #expect(throws: NoiseError.malformedMessage) { try pair.responder.readMessage(Array(message1.prefix(31))) }
        #expect(throws: NoiseError.malformedMessage) { try pair.responder.readMessage(Array(message1.prefix(32 + 47))) }
        // Long enough for the keys but without a whole payload tag.
        #expect(throws: NoiseError.decryptionFailed) { try pair.responder.readMessage(Array(message1.dropLast())) }
        #expect(throws: NoiseError.malformedMessage) { try pair.responder.readMessage([]) }
    }

    @Test("a low-order ephemeral key is refused", arguments: meshChatProtocols)
    func lowOrderEphemeral(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol)
        var message1 = try pair.initiator.writeMessage(payload: [])
        message1.replaceSubrange(0..<32, with: [UInt8](repeating: 0, count: 32))
        #expect(throws: NoiseError.invalidRemoteKey) { try pair.responder.readMessage(message1) }
    }

    @Test("messages out of turn are refused", arguments: meshChatProtocols)
    func wrongTurn(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol)
        #expect(throws: NoiseError.wrongTurn) { try pair.responder.writeMessage(payload: []) }
        #expect(throws: NoiseError.wrongTurn) { try pair.initiator.readMessage([UInt8](repeating: 9, count: 64)) }
        let message1 = try pair.initiator.writeMessage(payload: [])
        #expect(throws: NoiseError.wrongTurn) { try pair.initiator.writeMessage(payload: []) }
        _ = try pair.responder.readMessage(message1)
        _ = try pair.initiator.readMessage(pair.responder.writeMessage(payload: []))
        #expect(throws: NoiseError.wrongTurn) { try pair.initiator.writeMessage(payload: []) }
        #expect(throws: NoiseError.wrongTurn) { try pair.responder.readMessage(message1) }
    }

    @Test("handshake messages above 65535 bytes are refused", arguments: meshChatProtocols)
    func messageTooLong(noiseProtocol: NoiseProtocol) throws {
        var pair = HandshakePair(noiseProtocol)
        // Message 1 adds 32 + 48 + 16 bytes to its payload.
        let overhead = 32 + 48 + 16
        #expect(throws: NoiseError.messageTooLong) {
            try pair.initiator.writeMessage(payload: [UInt8](repeating: 0, count: NoiseLimits.maxMessageByteCount - overhead + 1))
        }
        #expect(throws: NoiseError.messageTooLong) {
            try pair.responder.readMessage([UInt8](repeating: 0, count: NoiseLimits.maxMessageByteCount + 1))
        }
        let largest = try pair.initiator.writeMessage(payload: [UInt8](repeating: 7, count: NoiseLimits.maxMessageByteCount - overhead))
        #expect(largest.count == NoiseLimits.maxMessageByteCount)
        #expect(try pair.responder.readMessage(largest).count == NoiseLimits.maxMessageByteCount - overhead)
    }

    @Test("an injected ephemeral key makes a handshake reproducible", arguments: meshChatProtocols)
    func injectedEphemeral(noiseProtocol: NoiseProtocol) throws {
        let s = KeyAgreementPrivateKey(), rs = KeyAgreementPrivateKey().publicKey, e = KeyAgreementPrivateKey()
        let psk = noiseProtocol.pattern.usesPreSharedKey ? SecureBytes(SecureRandom.bytes(count: 32)) : nil
        func message1() throws -> [UInt8] {
            var state = HandshakeState(protocol: noiseProtocol, role: .initiator, prologue: [], staticKey: s,
                                       remoteStaticKey: rs, preSharedKey: psk, ephemeralKey: e)
            return try state.writeMessage(payload: [42])
        }
        let first = try message1()
        #expect(try message1() == first)
        #expect(Array(first.prefix(32)) == e.publicKey.rawRepresentation)
    }
}
