import MeshCrypto

/// Noise's CipherState (section 5.1): a key `k`, possibly empty, and a nonce `n`.
public struct CipherState: Sendable {
    /// The AEAD this state encrypts with.
    public let cipher: AEADCipher
    private var k: SecureBytes?
    private var n: UInt64 = 0

    /// An empty CipherState (no key), as InitializeKey(empty) leaves it.
    public init(cipher: AEADCipher) {
        self.cipher = cipher
    }

    /// A CipherState holding `key`, nonce 0.
    public init(cipher: AEADCipher, key: SecureBytes) {
        self.cipher = cipher
        initializeKey(key)
    }

    /// The next nonce to be used; after N messages since InitializeKey it is N.
    public var nonce: UInt64 { n }

    /// InitializeKey(key): sets `k = key` and `n = 0`.
    public mutating func initializeKey(_ key: SecureBytes?) {
        precondition(key.map { $0.count == AEADCipher.keyByteCount } ?? true, "a cipher key is 32 bytes")
        k = key
        n = 0
    }

    /// HasKey(): whether `k` is non-empty.
    public var hasKey: Bool { k != nil }

    /// SetNonce(nonce): sets `n`; used for tests and out-of-order transports.
    public mutating func setNonce(_ nonce: UInt64) {
        n = nonce
    }

    /// EncryptWithAd(ad, plaintext): ENCRYPT(k, n++, ad, plaintext), or the plaintext itself while there is no key.
    public mutating func encryptWithAd(_ associatedData: [UInt8], plaintext: some Collection<UInt8>) throws(NoiseError) -> [UInt8] {
        guard let k else { return Array(plaintext) }
        try checkNonce()
        let ciphertext = cipher.seal(key: k, nonce: cipher.noiseNonce(n), associatedData: associatedData, plaintext: plaintext)
        n += 1
        return ciphertext
    }

    /// DecryptWithAd(ad, ciphertext): DECRYPT(k, n++, ad, ciphertext), or the ciphertext itself while there is no key.
    ///
    /// "If an authentication failure occurs in DECRYPT() then n is not incremented and an error
    /// is signaled to the caller." (Noise section 5.1)
    public mutating func decryptWithAd(_ associatedData: [UInt8], ciphertext: some Collection<UInt8>) throws(NoiseError) -> [UInt8] {
        guard let k else { return Array(ciphertext) }
        try checkNonce()
        let plaintext: [UInt8]
        do {
            plaintext = try cipher.open(key: k, nonce: cipher.noiseNonce(n), associatedData: associatedData, ciphertext: ciphertext)
        } catch {
            throw .decryptionFailed
        }
        n += 1
        return plaintext
    }

    /// Rekey(): `k = REKEY(k)`; the nonce is unchanged.
    public mutating func rekey() {
        guard let k else { preconditionFailure("Rekey() on a CipherState without a key") }
        self.k = cipher.rekey(k)
    }

    /// "If incrementing n results in 2^64-1, then any further EncryptWithAd() or DecryptWithAd()
    /// calls will signal an error to the caller." (Noise section 5.1)
    private func checkNonce() throws(NoiseError) {
        if n == NoiseLimits.reservedNonce { throw .nonceExhausted }
    }
}

extension CipherState: CustomStringConvertible {
    /// The cipher and nonce, never the key.
    public var description: String { "CipherState(\(cipher.noiseName), hasKey: \(hasKey), n: \(n))" }
}

extension AEADCipher {
    /// The 96-bit nonce for counter `n`: "32 bits of zeros followed by little-endian encoding of n"
    /// for ChaChaPoly (Noise section 12.3), "... big-endian encoding of n" for AESGCM (section 12.4).
    func noiseNonce(_ n: UInt64) -> [UInt8] {
        let counter: UInt64
        switch self {
        case .chaChaPoly: counter = n.littleEndian
        case .aesGCM: counter = n.bigEndian
        }
        return [0, 0, 0, 0] + withUnsafeBytes(of: counter) { Array($0) }
    }

    /// REKEY(k): "the first 32 bytes from ENCRYPT(k, maxnonce, zerolen, zeros), where maxnonce
    /// equals 2^64-1, zerolen is a zero-length byte sequence, and zeros is a sequence of 32 bytes
    /// filled with zeros." (Noise section 4.2)
    func rekey(_ k: SecureBytes) -> SecureBytes {
        var sealed = seal(key: k, nonce: noiseNonce(NoiseLimits.reservedNonce), associatedData: [],
                          plaintext: [UInt8](repeating: 0, count: AEADCipher.keyByteCount))
        // The spare 16 bytes (tag) are not secret, but the leading 32 are the new key: wipe the copy.
        defer { sealed.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return SecureBytes(sealed.prefix(AEADCipher.keyByteCount))
    }
}
