import MeshCrypto

/// Noise's CipherState (section 5.1): a key `k`, possibly empty, and a nonce `n`.
public struct CipherState: Sendable {
    /// The AEAD this state encrypts with.
    public let cipher: AEADCipher
    private var k: SecureBytes?
    /// `k` keyed into reusable OpenSSL contexts, so a message costs a nonce change, not a key setup.
    /// Shared by copies of this state until one of them uses it (`ownKey`).
    private var keyed: AEADKey?
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
        keyed = key.map { AEADKey(cipher: cipher, key: $0) }
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
        guard keyed != nil else { return Array(plaintext) }
        let input = Array(plaintext)
        let count = input.count + AEADCipher.tagByteCount
        // The buffer helpers rethrow untyped errors, so the typed one is carried out by hand.
        var failure: NoiseError?
        let ciphertext = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            associatedData.withUnsafeBytes { ad in
                input.withUnsafeBytes { p in
                    do throws(NoiseError) { initialized = try encryptWithAd(ad, plaintext: p, into: UnsafeMutableRawBufferPointer(output)) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return ciphertext
    }

    /// EncryptWithAd into `output`, which holds at least `plaintext.count + AEADCipher.tagByteCount`
    /// bytes (just the plaintext's count while there is no key); returns the bytes written.
    /// The transport encrypts this way, in place in the outgoing frame: `plaintext` may be the
    /// first bytes of `output` (`AEADKey.seal`).
    public mutating func encryptWithAd(_ associatedData: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
                                       into output: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard let keyed = ownKey() else {
            output.copyMemory(from: plaintext)
            return plaintext.count
        }
        try checkNonce()
        let written = withNoiseNonce(n) { keyed.seal(nonce: $0, associatedData: associatedData, plaintext: plaintext, into: output) }
        n += 1
        return written
    }

    /// DecryptWithAd(ad, ciphertext): DECRYPT(k, n++, ad, ciphertext), or the ciphertext itself while there is no key.
    ///
    /// "If an authentication failure occurs in DECRYPT() then n is not incremented and an error
    /// is signaled to the caller." (Noise section 5.1)
    public mutating func decryptWithAd(_ associatedData: [UInt8], ciphertext: some Collection<UInt8>) throws(NoiseError) -> [UInt8] {
        guard keyed != nil else { return Array(ciphertext) }
        let input = Array(ciphertext)
        guard input.count >= AEADCipher.tagByteCount else { throw .decryptionFailed }
        var failure: NoiseError?
        let plaintext = [UInt8](unsafeUninitializedCapacity: input.count - AEADCipher.tagByteCount) { output, initialized in
            associatedData.withUnsafeBytes { ad in
                input.withUnsafeBytes { c in
                    do throws(NoiseError) { initialized = try decryptWithAd(ad, ciphertext: c, into: UnsafeMutableRawBufferPointer(output)) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return plaintext
    }

    /// DecryptWithAd into `output`, which holds at least `ciphertext.count - AEADCipher.tagByteCount`
    /// bytes (the ciphertext's count while there is no key); returns the bytes written. On an
    /// authentication failure `n` is unchanged and `output` holds nothing to use.
    public mutating func decryptWithAd(_ associatedData: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer,
                                       into output: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard let keyed = ownKey() else {
            output.copyMemory(from: ciphertext)
            return ciphertext.count
        }
        try checkNonce()
        let written: Int
        do {
            written = try withNoiseNonce(n) { nonce throws(CryptoError) in
                try keyed.open(nonce: nonce, associatedData: associatedData, ciphertext: ciphertext, into: output)
            }
        } catch {
            throw .decryptionFailed
        }
        n += 1
        return written
    }

    /// The key's contexts, this state's alone: a copy of the state that still shares them gets a
    /// key of its own first (copy on write), so two copies never use one `AEADKey` at once, on one
    /// thread or two (it has no lock). Nil while there is no key.
    private mutating func ownKey() -> AEADKey? {
        guard let k else { return nil }
        if !isKnownUniquelyReferenced(&keyed) { keyed = AEADKey(cipher: cipher, key: k) }
        return keyed
    }

    /// Calls `body` with the 12-byte nonce for counter `n`, built on the stack.
    private func withNoiseNonce<R, E: Error>(_ n: UInt64, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        // Three 32-bit words: zeros, then the counter's 8 bytes in the cipher's byte order (Noise 12.3, 12.4).
        var words: (UInt32, UInt32, UInt32)
        switch cipher {
        case .chaChaPoly: words = (0, UInt32(truncatingIfNeeded: n).littleEndian, UInt32(truncatingIfNeeded: n >> 32).littleEndian)
        case .aesGCM: words = (0, UInt32(truncatingIfNeeded: n >> 32).bigEndian, UInt32(truncatingIfNeeded: n).bigEndian)
        }
        return try withUnsafeBytes(of: &words) { (nonce) throws(E) -> R in try body(nonce) }
    }

    /// Rekey(): `k = REKEY(k)`; the nonce is unchanged.
    public mutating func rekey() {
        guard let k else { preconditionFailure("Rekey() on a CipherState without a key") }
        initializeKeyKeepingNonce(cipher.rekey(k))
    }

    private mutating func initializeKeyKeepingNonce(_ key: SecureBytes) {
        k = key
        keyed = AEADKey(cipher: cipher, key: key)
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
