import CSodium

/// An X25519 public key: a Noise static or ephemeral public key.
public struct KeyAgreementPublicKey: Hashable, Sendable {
    /// The 32 raw bytes.
    public let rawRepresentation: [UInt8]

    /// The length of an X25519 public key (Noise's DHLEN).
    public static let byteCount = Int(crypto_scalarmult_BYTES)

    /// Wraps 32 raw bytes.
    public init<C: Collection>(rawRepresentation bytes: C) throws(CryptoError) where C.Element == UInt8 {
        guard bytes.count == Self.byteCount else { throw .invalidKey }
        rawRepresentation = Array(bytes)
    }
}

/// An X25519 private key.
public struct KeyAgreementPrivateKey: Sendable {
    /// The secret scalar.
    public let rawRepresentation: SecureBytes
    /// The matching public key.
    public let publicKey: KeyAgreementPublicKey

    /// The length of an X25519 private key.
    public static let byteCount = Int(crypto_scalarmult_SCALARBYTES)

    /// A new random key pair (Noise's GENERATE_KEYPAIR).
    public init() {
        let raw = SecureBytes(SecureRandom.bytes(count: Self.byteCount))
        self = try! KeyAgreementPrivateKey(rawRepresentation: raw)
    }

    /// Restores a private key from its 32 bytes and derives the public key.
    public init(rawRepresentation bytes: SecureBytes) throws(CryptoError) {
        _ = Sodium.initialised
        guard bytes.count == Self.byteCount else { throw .invalidKey }
        var pk = [UInt8](repeating: 0, count: KeyAgreementPublicKey.byteCount)
        let rc = bytes.withUnsafeBytes { crypto_scalarmult_base(&pk, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        try check(rc == 0, else: .invalidKey)
        rawRepresentation = bytes
        publicKey = try KeyAgreementPublicKey(rawRepresentation: pk)
    }

    /// Noise's DH(key_pair, public_key): X25519 (`crypto_scalarmult`). Throws for a low-order
    /// public key, whose all-zero output libsodium refuses.
    public func sharedSecret(with peer: KeyAgreementPublicKey) throws(CryptoError) -> SecureBytes {
        try SecureBytes(count: KeyAgreementPublicKey.byteCount) { (out) throws(CryptoError) in
            let rc = rawRepresentation.withUnsafeBytes { sk in
                peer.rawRepresentation.withUnsafeBufferPointer { pk in
                    crypto_scalarmult(out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      sk.baseAddress!.assumingMemoryBound(to: UInt8.self), pk.baseAddress!)
                }
            }
            try check(rc == 0, else: .invalidKey)
        }
    }
}

extension KeyAgreementPrivateKey: CustomStringConvertible {
    public var description: String { "KeyAgreementPrivateKey(redacted)" }
}

/// Anonymous public-key encryption to an X25519 key (libsodium sealed boxes), used for
/// direct messages (PROTOCOL.md 6, kind 2).
public enum SealedBox {
    /// The bytes a sealed box adds to its plaintext (an ephemeral key and a tag).
    public static let overhead = crypto_box_sealbytes()

    /// `crypto_box_seal` of `plaintext` to `recipient`.
    public static func seal(_ plaintext: [UInt8], to recipient: KeyAgreementPublicKey) -> [UInt8] {
        _ = Sodium.initialised
        var out = [UInt8](repeating: 0, count: plaintext.count + overhead)
        let rc = plaintext.withUnsafeBufferPointer { p in
            crypto_box_seal(&out, p.baseAddress, UInt64(p.count), recipient.rawRepresentation)
        }
        precondition(rc == 0, "crypto_box_seal failed")
        return out
    }

    /// `crypto_box_seal_open` with the recipient's key pair; throws if the box does not open.
    public static func open(_ box: [UInt8], with recipient: KeyAgreementPrivateKey) throws(CryptoError) -> [UInt8] {
        _ = Sodium.initialised
        guard box.count >= overhead else { throw .authenticationFailure }
        var out = [UInt8](repeating: 0, count: box.count - overhead)
        let rc = recipient.rawRepresentation.withUnsafeBytes { sk in
            box.withUnsafeBufferPointer { c in
                crypto_box_seal_open(&out, c.baseAddress!, UInt64(c.count), recipient.publicKey.rawRepresentation,
                                     sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        try check(rc == 0, else: .authenticationFailure)
        return out
    }
}
