import COpenSSL

/// One AEAD key with its OpenSSL contexts, keyed once and reused for every message under it.
///
/// Why: `AEADCipher.seal`/`open` allocate and key an `EVP_CIPHER_CTX` per call (allocation plus
/// key schedule for every frame); here each message only sets its nonce on a keyed context, and
/// reads and writes the caller's buffers, so a frame is encrypted in place into the outgoing buffer.
/// Results are byte-for-byte those of `AEADCipher.seal`/`open` (MeshCryptoTests checks this).
///
/// Not for two threads at once: `seal` and `open` change the contexts, and nothing locks them.
/// No thread shares one (each link's keys live on its event loop); what can share a key is copies
/// of a `CipherState`, a Sendable value, and it keeps value semantics by taking a key of its own
/// before it uses one that a copy also holds (copy on write). That is what makes the class
/// Sendable: its owner hands it to another thread only along with the value that holds it.
public final class AEADKey: @unchecked Sendable {
    /// The cipher the key is for.
    public let cipher: AEADCipher
    private let key: SecureBytes
    // The two directions need their own context: OpenSSL fixes encrypt or decrypt at keying time.
    private var encryptContext: OpaquePointer?
    private var decryptContext: OpaquePointer?

    deinit {
        // Freeing a context cleanses its key schedule.
        if let encryptContext { EVP_CIPHER_CTX_free(encryptContext) }
        if let decryptContext { EVP_CIPHER_CTX_free(decryptContext) }
    }

    /// A key for `cipher`; the contexts are made on first use, one per direction used.
    public init(cipher: AEADCipher, key: SecureBytes) {
        precondition(key.count == AEADCipher.keyByteCount, "an AEAD key is 32 bytes")
        self.cipher = cipher
        self.key = key
    }

    /// Encrypts `plaintext` into `output` (ciphertext then the 16-byte tag); `output` must hold
    /// `plaintext.count + AEADCipher.tagByteCount` bytes. Returns that count. `plaintext` may be
    /// the first bytes of `output` itself (sealed in place: OpenSSL's EVP_EncryptUpdate allows
    /// input and output at the same address); otherwise the two must not overlap.
    @discardableResult
    public func seal(nonce: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
                     plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        precondition(nonce.count == AEADCipher.nonceByteCount)
        let sealedCount = plaintext.count + AEADCipher.tagByteCount
        precondition(output.count >= sealedCount, "the output holds the ciphertext and its tag")
        precondition(encrypt(nonce: nonce, associatedData: associatedData, plaintext: plaintext, into: output),
                     "OpenSSL AEAD encryption failed")
        return sealedCount
    }

    /// Decrypts and authenticates `ciphertext` (body then tag) into `output`, which must hold
    /// `ciphertext.count - AEADCipher.tagByteCount` bytes; returns that count. Throws if it does
    /// not authenticate, in which case `output` holds nothing to use.
    public func open(nonce: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
                     ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CryptoError) -> Int {
        precondition(nonce.count == AEADCipher.nonceByteCount)
        guard ciphertext.count >= AEADCipher.tagByteCount else { throw .authenticationFailure }
        let bodyCount = ciphertext.count - AEADCipher.tagByteCount
        precondition(output.count >= bodyCount, "the output holds the plaintext")
        try check(decrypt(nonce: nonce, associatedData: associatedData, ciphertext: ciphertext, bodyCount: bodyCount, into: output),
                  else: .authenticationFailure)
        return bodyCount
    }

    /// `seal`'s OpenSSL calls on the encrypting context (made on first use); false if one fails.
    private func encrypt(nonce: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
                         plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        let ctx = encryptContext ?? Self.keyedContext(cipher: cipher, key: key, encrypting: true)
        encryptContext = ctx
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var length: Int32 = 0
        guard EVP_EncryptInit_ex(ctx, nil, nil, nil, Self.bytes(nonce)) == 1 else { return false }
        if associatedData.count > 0 {
            guard EVP_EncryptUpdate(ctx, nil, &length, Self.bytes(associatedData), Int32(associatedData.count)) == 1
            else { return false }
        }
        var written = 0
        if plaintext.count > 0 {
            guard EVP_EncryptUpdate(ctx, out, &length, Self.bytes(plaintext), Int32(plaintext.count)) == 1 else { return false }
            written = Int(length)
        }
        return EVP_EncryptFinal_ex(ctx, out + written, &length) == 1
            && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(AEADCipher.tagByteCount), out + plaintext.count) == 1
    }

    /// `open`'s OpenSSL calls on the decrypting context (made on first use); false if one fails,
    /// the tag check included.
    private func decrypt(nonce: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
                         ciphertext: UnsafeRawBufferPointer, bodyCount: Int, into output: UnsafeMutableRawBufferPointer) -> Bool {
        let ctx = decryptContext ?? Self.keyedContext(cipher: cipher, key: key, encrypting: false)
        decryptContext = ctx
        var length: Int32 = 0
        var scratch: UInt8 = 0 // Final writes nothing for these AEADs, but wants a pointer.
        guard EVP_DecryptInit_ex(ctx, nil, nil, nil, Self.bytes(nonce)) == 1 else { return false }
        if associatedData.count > 0 {
            guard EVP_DecryptUpdate(ctx, nil, &length, Self.bytes(associatedData), Int32(associatedData.count)) == 1
            else { return false }
        }
        var written = 0
        let body = Self.bytes(ciphertext)
        if bodyCount > 0 {
            let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            guard EVP_DecryptUpdate(ctx, out, &length, body, Int32(bodyCount)) == 1 else { return false }
            written = Int(length)
        }
        // The tag is set from a copy: OpenSSL's ctrl takes a mutable pointer.
        var tag = [UInt8](UnsafeBufferPointer(start: body + bodyCount, count: AEADCipher.tagByteCount))
        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(AEADCipher.tagByteCount), &tag) == 1 else { return false }
        if bodyCount > 0 {
            return EVP_DecryptFinal_ex(ctx, output.baseAddress!.assumingMemoryBound(to: UInt8.self) + written, &length) == 1
        }
        return EVP_DecryptFinal_ex(ctx, &scratch, &length) == 1
    }

    private static func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
        buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    private static func keyedContext(cipher: AEADCipher, key: SecureBytes, encrypting: Bool) -> OpaquePointer {
        let ctx = EVP_CIPHER_CTX_new()!
        let ok = key.withUnsafeBytes { k in
            let keyBytes = k.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return encrypting
                ? EVP_EncryptInit_ex(ctx, cipher.evpCipher, nil, keyBytes, nil) == 1
                : EVP_DecryptInit_ex(ctx, cipher.evpCipher, nil, keyBytes, nil) == 1
        }
        precondition(ok, "OpenSSL refused an AEAD key")
        return ctx
    }
}
