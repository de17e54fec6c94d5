import CSodium

/// An Ed25519 public key: a node's identity and, as base64 text, the *peer key* people pin.
public struct SigningPublicKey: Hashable, Sendable, Comparable {
    /// The 32 raw bytes.
    public let rawRepresentation: [UInt8]

    /// The length of a raw Ed25519 public key.
    public static let byteCount = Int(crypto_sign_PUBLICKEYBYTES)

    /// Wraps 32 raw bytes. Any 32 bytes are accepted here; whether they form a usable key is
    /// decided where it matters (signature checks, conversion to X25519).
    public init<C: Collection>(rawRepresentation bytes: C) throws(CryptoError) where C.Element == UInt8 {
        try self.init(rawRepresentation: Array(bytes))
    }

    /// Wraps 32 raw bytes, sharing the array's storage: the generic form runs unspecialised when
    /// called from another module, and two keys are made for every envelope parsed.
    public init(rawRepresentation bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidKey }
        rawRepresentation = bytes
    }

    /// The bytes in one call rather than one `combine` per byte (the synthesised conformance):
    /// keys index the links, peers and frontiers looked up for every message.
    public func hash(into hasher: inout Hasher) {
        rawRepresentation.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Parses a peer key: canonical standard base64 with padding of 32 bytes (PROTOCOL.md 1).
    /// "Text that is not canonical base64 is rejected, so two strings never name one key."
    public init(base64 text: String) throws(CryptoError) {
        guard let bytes = Base64.decodeCanonical(text), bytes.count == Self.byteCount else { throw .invalidKey }
        rawRepresentation = bytes
    }

    /// The peer key as text (44 characters).
    public var base64: String { Base64.encode(rawRepresentation) }

    /// Whether `signature` is a valid Ed25519 signature of `message` by this key, with the
    /// semantics of `crypto_sign_verify_detached` (PROTOCOL.md 6).
    public func isValidSignature(_ signature: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        isValidSignature(Array(signature), for: Array(message))
    }

    /// `isValidSignature` for arrays (an envelope's signature and signed part), without the
    /// generic form's unspecialised copies when called from another module.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        _ = Sodium.initialised
        guard signature.count == Int(crypto_sign_BYTES) else { return false }
        return signature.withUnsafeBufferPointer { s in
            message.withUnsafeBufferPointer { m in
                rawRepresentation.withUnsafeBufferPointer { pk in
                    crypto_sign_verify_detached(s.baseAddress!, m.baseAddress, UInt64(m.count), pk.baseAddress!) == 0
                }
            }
        }
    }

    /// The X25519 form of this key (`crypto_sign_ed25519_pk_to_curve25519`). Throws for keys
    /// libsodium cannot convert; such a key cannot be pinned (PROTOCOL.md 1).
    public func keyAgreementKey() throws(CryptoError) -> KeyAgreementPublicKey {
        _ = Sodium.initialised
        var out = [UInt8](repeating: 0, count: KeyAgreementPublicKey.byteCount)
        let rc = out.withUnsafeMutableBufferPointer { o in
            rawRepresentation.withUnsafeBufferPointer { crypto_sign_ed25519_pk_to_curve25519(o.baseAddress!, $0.baseAddress!) }
        }
        try check(rc == 0, else: .invalidKey)
        return try KeyAgreementPublicKey(rawRepresentation: out)
    }

    /// Orders keys by memcmp of the raw bytes, as the duplicate-link rule needs (PROTOCOL.md 4).
    public static func < (lhs: SigningPublicKey, rhs: SigningPublicKey) -> Bool {
        lhs.rawRepresentation.lexicographicallyPrecedes(rhs.rawRepresentation)
    }
}

extension SigningPublicKey: CustomStringConvertible {
    public var description: String { base64 }
}

/// An Ed25519 secret key (libsodium's 64-byte form: seed followed by public key).
public struct SigningPrivateKey: Sendable {
    /// The secret bytes; handle with care.
    public let rawRepresentation: SecureBytes
    /// The matching public key.
    public let publicKey: SigningPublicKey

    /// The length of libsodium's Ed25519 secret key.
    public static let byteCount = Int(crypto_sign_SECRETKEYBYTES)

    /// A new random key pair (`crypto_sign_keypair`).
    public init() {
        _ = Sodium.initialised
        var pk = [UInt8](repeating: 0, count: SigningPublicKey.byteCount)
        let sk = try! SecureBytes(count: Self.byteCount) { sk in
            let rc = crypto_sign_keypair(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            precondition(rc == 0, "crypto_sign_keypair failed")
        }
        rawRepresentation = sk
        publicKey = try! SigningPublicKey(rawRepresentation: pk)
    }

    /// Restores a key from libsodium's 64-byte secret key. Throws if the embedded public half
    /// does not match the seed, so a damaged key file is caught at load.
    public init(rawRepresentation bytes: SecureBytes) throws(CryptoError) {
        _ = Sodium.initialised
        guard bytes.count == Self.byteCount else { throw .invalidKey }
        let seed = bytes.prefix(Int(crypto_sign_SEEDBYTES))
        var pk = [UInt8](repeating: 0, count: SigningPublicKey.byteCount)
        let regenerated = try SecureBytes(count: Self.byteCount) { (sk) throws(CryptoError) in
            let rc = seed.withUnsafeBytes { s in
                crypto_sign_seed_keypair(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                         s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            try check(rc == 0, else: .invalidKey)
        }
        guard regenerated == bytes else { throw .invalidKey }
        rawRepresentation = bytes
        publicKey = try SigningPublicKey(rawRepresentation: pk)
    }

    /// The detached Ed25519 signature of `message` (64 bytes).
    public func signature(for message: some Collection<UInt8>) -> [UInt8] {
        let msg = Array(message)
        var sig = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        let rc = rawRepresentation.withUnsafeBytes { sk in
            msg.withUnsafeBufferPointer { m in
                crypto_sign_detached(&sig, nil, m.baseAddress, UInt64(m.count), sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(rc == 0, "crypto_sign_detached failed")
        return sig
    }

    /// The X25519 form of this key (`crypto_sign_ed25519_sk_to_curve25519`): the node's Noise static key.
    public func keyAgreementKey() -> KeyAgreementPrivateKey {
        let raw = try! SecureBytes(count: KeyAgreementPrivateKey.byteCount) { out in
            let rc = rawRepresentation.withUnsafeBytes { sk in
                crypto_sign_ed25519_sk_to_curve25519(out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                     sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            precondition(rc == 0, "crypto_sign_ed25519_sk_to_curve25519 failed")
        }
        return try! KeyAgreementPrivateKey(rawRepresentation: raw)
    }
}

extension SigningPrivateKey: CustomStringConvertible {
    public var description: String { "SigningPrivateKey(public: \(publicKey.base64))" }
}
