import MeshCrypto

/// Bounds that come from the Noise specification (revision 34) itself.
public enum NoiseLimits {
    /// "All Noise messages are less than or equal to 65535 bytes in length." (Noise section 3)
    public static let maxMessageByteCount = 65535
    /// The largest transport plaintext: one maximal message less its AEAD tag (PROTOCOL.md 5: "at most 65519 bytes").
    public static let maxTransportPayloadByteCount = maxMessageByteCount - AEADCipher.tagByteCount
    /// A pre-shared key is "a 32-byte secret value" (Noise section 9.1).
    public static let preSharedKeyByteCount = 32
    /// "The maximum n value (2^64-1) is reserved for other use." (Noise section 5.1)
    public static let reservedNonce = UInt64.max
}

/// The handshake patterns MeshChat speaks (PROTOCOL.md 3).
public enum HandshakePattern: Sendable, Hashable, CaseIterable {
    /// `<- s ... -> e, es, s, ss  <- e, ee, se` (Noise section 7.5).
    case IK
    /// IK with `psk` appended to the second message (Noise section 9.4).
    case IKpsk2

    /// The pattern's name inside a protocol name.
    public var name: String {
        switch self {
        case .IK: "IK"
        case .IKpsk2: "IKpsk2"
        }
    }

    /// Whether the pattern carries a psk token, which changes how `e` is processed (Noise section 9.2).
    public var usesPreSharedKey: Bool {
        switch self {
        case .IK: false
        case .IKpsk2: true
        }
    }

    /// The responder's pre-message (`<- s`): both patterns start with it.
    var responderPreMessage: [Token] { [.s] }

    /// The message patterns, initiator first, alternating.
    var messagePatterns: [[Token]] {
        switch self {
        case .IK: [[.e, .es, .s, .ss], [.e, .ee, .se]]
        case .IKpsk2: [[.e, .es, .s, .ss], [.e, .ee, .se, .psk]]
        }
    }

    /// The tokens of Noise section 7.1 and section 9 that these patterns use.
    enum Token {
        case e, s, ee, es, se, ss, psk
    }
}

/// A full Noise protocol: `Noise_<pattern>_25519_<cipher>_<hash>` (Noise section 8).
public struct NoiseProtocol: Sendable, Hashable {
    /// The handshake pattern.
    public let pattern: HandshakePattern
    /// The AEAD of every CipherState.
    public let cipher: AEADCipher
    /// The hash of the SymmetricState.
    public let hash: HashFunction

    /// The DH function's name; X25519 is the only one MeshChat uses.
    static let dhName = "25519"

    /// Combines a pattern with a cipher and a hash.
    public init(pattern: HandshakePattern, cipher: AEADCipher, hash: HashFunction) {
        self.pattern = pattern
        self.cipher = cipher
        self.hash = hash
    }

    /// Parses a protocol name; nil for anything but IK/IKpsk2 over 25519 with ChaChaPoly or AESGCM and BLAKE2b or SHA256.
    public init?(name: String) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "Noise", parts[2] == Substring(Self.dhName),
              let pattern = HandshakePattern.allCases.first(where: { $0.name == parts[1] }),
              let cipher = [AEADCipher.chaChaPoly, .aesGCM].first(where: { $0.noiseName == parts[3] }),
              let hash = [HashFunction.blake2b, .sha256].first(where: { $0.noiseName == parts[4] })
        else { return nil }
        self.init(pattern: pattern, cipher: cipher, hash: hash)
    }

    /// The protocol name, for example `Noise_IK_25519_ChaChaPoly_BLAKE2b`.
    public var name: String {
        "Noise_\(pattern.name)_\(Self.dhName)_\(cipher.noiseName)_\(hash.noiseName)"
    }
}

extension NoiseProtocol: CustomStringConvertible {
    /// The protocol name.
    public var description: String { name }
}

/// Which side of the handshake this party plays.
public enum NoiseRole: Sendable, Hashable {
    /// The party that sends the first message (the dialing node).
    case initiator
    /// The party that holds the static key the initiator knows in advance.
    case responder
}

/// What a peer (or exhausted state) can make a Noise operation fail with.
///
/// Authentication failures are one opaque case, whatever failed to verify.
public enum NoiseError: Error, Equatable, Sendable {
    /// A ciphertext did not authenticate (wrong key, tampered bytes, different prologue or psk, truncated tag).
    case decryptionFailed
    /// A message or plaintext above the 65535-byte Noise limit.
    case messageTooLong
    /// A handshake message too short to hold the public keys its pattern requires.
    case malformedMessage
    /// The nonce reached the reserved value 2^64-1; a new handshake is needed.
    case nonceExhausted
    /// A public key that gives no usable DH result (a low-order point).
    case invalidRemoteKey
    /// A write or read out of the pattern's order, or after the handshake completed.
    case wrongTurn
}
