import COpenSSL

/// The AEADs of PROTOCOL.md's suites, through OpenSSL's EVP interface: ChaCha20-Poly1305
/// and AES-256-GCM, each with a 32-byte key, a 12-byte nonce and a 16-byte tag.
public enum AEADCipher: Sendable {
    case chaChaPoly
    case aesGCM

    /// Bytes of authentication tag appended to every ciphertext.
    public static let tagByteCount = 16
    /// Key length for both ciphers.
    public static let keyByteCount = 32
    /// Nonce length for both ciphers.
    public static let nonceByteCount = 12

    /// The name Noise protocol names use.
    public var noiseName: String {
        switch self {
        case .chaChaPoly: "ChaChaPoly"
        case .aesGCM: "AESGCM"
        }
    }

    var evpCipher: OpaquePointer {
        switch self {
        case .chaChaPoly: EVP_chacha20_poly1305()
        case .aesGCM: EVP_aes_256_gcm()
        }
    }

    /// Encrypts `plaintext`, returning ciphertext followed by the tag.
    public func seal(key: SecureBytes, nonce: [UInt8], associatedData: [UInt8], plaintext: some Collection<UInt8>) -> [UInt8] {
        precondition(key.count == Self.keyByteCount && nonce.count == Self.nonceByteCount)
        let input = Array(plaintext)
        let ctx = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: input.count + Self.tagByteCount)
        var ok = key.withUnsafeBytes { k in
            EVP_EncryptInit_ex(ctx, evpCipher, nil, k.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce)
        } == 1
        var length: Int32 = 0
        if !associatedData.isEmpty {
            ok = ok && EVP_EncryptUpdate(ctx, nil, &length, associatedData, Int32(associatedData.count)) == 1
        }
        ok = ok && out.withUnsafeMutableBufferPointer { o in
            input.withUnsafeBufferPointer { p in
                EVP_EncryptUpdate(ctx, o.baseAddress, &length, p.baseAddress ?? UnsafePointer(o.baseAddress!), Int32(p.count)) == 1
                    && EVP_EncryptFinal_ex(ctx, o.baseAddress! + Int(length), &length) == 1
                    && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagByteCount), o.baseAddress! + p.count) == 1
            }
        }
        precondition(ok, "OpenSSL AEAD encryption failed")
        return out
    }

    /// Decrypts and authenticates `ciphertext` (with its tag); throws if it does not authenticate.
    public func open(key: SecureBytes, nonce: [UInt8], associatedData: [UInt8], ciphertext: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        precondition(key.count == Self.keyByteCount && nonce.count == Self.nonceByteCount)
        let input = Array(ciphertext)
        guard input.count >= Self.tagByteCount else { throw .authenticationFailure }
        let bodyCount = input.count - Self.tagByteCount
        let ctx = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: max(bodyCount, 1))
        var ok = key.withUnsafeBytes { k in
            EVP_DecryptInit_ex(ctx, evpCipher, nil, k.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce)
        } == 1
        var length: Int32 = 0
        if !associatedData.isEmpty {
            ok = ok && EVP_DecryptUpdate(ctx, nil, &length, associatedData, Int32(associatedData.count)) == 1
        }
        ok = ok && out.withUnsafeMutableBufferPointer { o in
            input.withUnsafeBufferPointer { c in
                var tag = Array(c[bodyCount...])
                return (bodyCount == 0 || EVP_DecryptUpdate(ctx, o.baseAddress, &length, c.baseAddress, Int32(bodyCount)) == 1)
                    && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagByteCount), &tag) == 1
                    && EVP_DecryptFinal_ex(ctx, o.baseAddress! + (bodyCount == 0 ? 0 : Int(length)), &length) == 1
            }
        }
        try check(ok, else: .authenticationFailure)
        return Array(out.prefix(bodyCount))
    }
}
