import COpenSSL

/// Why text is not a message of the `openssl enc` format, or does not decrypt. A peer can cause
/// either, so both are thrown; neither says more than that (there is no authentication to fail
/// precisely: CBC padding is the only check the format has).
public enum OpenSSLEncError: Error, Equatable, Sendable {
    /// Not base64 of `Salted__`, an 8-byte salt and whole AES blocks.
    case malformed
    /// The padding is wrong after decryption: another passphrase or iteration count, or damaged text.
    case decryptionFailed
}

/// The text `openssl enc -aes-256-cbc -salt -base64 -pbkdf2 [-iter N] -pass pass:P` writes, and
/// what `openssl enc -d` with the same options reads (OpenSSL 3, `apps/enc.c`):
///
/// - `Salted__`, then an 8-byte random salt, then the ciphertext;
/// - key and IV are one PBKDF2-HMAC-SHA256 output of 48 bytes (32-byte key, 16-byte IV) from the
///   passphrase and salt, 10000 iterations unless `-iter` says otherwise;
/// - AES-256-CBC with PKCS#7 padding;
/// - all of it base64, wrapped at 64 characters, every line (the last included) ending in `\n`.
///
/// This is a legacy format kept for the netcat bridge: unauthenticated, one password for all, no
/// forward secrecy. Everything runs through OpenSSL's EVP interface; the salt comes from libsodium.
public enum OpenSSLEnc {
    /// The 8 ASCII bytes that open every salted `openssl enc` output.
    public static let magic: [UInt8] = Array("Salted__".utf8)
    /// `PKCS5_SALT_LEN` in OpenSSL.
    public static let saltByteCount = 8
    /// AES's block: the ciphertext is a whole number of these, padding included.
    public static let blockByteCount = 16
    /// `openssl enc -pbkdf2` without `-iter`.
    public static let defaultIterations = 10_000
    /// Iteration counts this codec accepts: at least one, and few enough that one message cannot
    /// hold a CPU for minutes (10 million takes about 6 s of CPU on this machine; openssl allows up to INT_MAX).
    public static let iterationRange: ClosedRange<Int> = 1...10_000_000
    /// `openssl enc -base64` wraps its output at 64 characters a line.
    public static let lineLength = 64

    private static let keyByteCount = 32
    private static let ivByteCount = 16

    /// The base64 text for `plaintext`, with a fresh random salt.
    public static func encrypt(_ plaintext: some Collection<UInt8>, passphrase: SecureBytes, iterations: Int = defaultIterations) -> String {
        encrypt(plaintext, passphrase: passphrase, salt: SecureRandom.bytes(count: saltByteCount), iterations: iterations)
    }

    /// The base64 text for `plaintext` with the given salt: byte for byte what openssl writes for
    /// the same salt (tests pin this; real use takes a fresh salt per message).
    public static func encrypt(_ plaintext: some Collection<UInt8>, passphrase: SecureBytes, salt: [UInt8], iterations: Int) -> String {
        precondition(salt.count == saltByteCount && iterationRange.contains(iterations))
        let input = Array(plaintext)
        let keyAndIV = deriveKeyAndIV(passphrase: passphrase, salt: salt, iterations: iterations)
        let ctx = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: input.count + blockByteCount)
        var written: Int32 = 0, finalWritten: Int32 = 0
        let ok = keyAndIV.withUnsafeBytes { k in
            let key = k.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nil, key, key + keyByteCount) == 1
        } && out.withUnsafeMutableBufferPointer { o in
            input.withUnsafeBufferPointer { p in
                EVP_EncryptUpdate(ctx, o.baseAddress, &written, p.baseAddress ?? UnsafePointer(o.baseAddress!), Int32(p.count)) == 1
                    && EVP_EncryptFinal_ex(ctx, o.baseAddress! + Int(written), &finalWritten) == 1
            }
        }
        precondition(ok, "OpenSSL AES-256-CBC encryption failed")
        return wrapped(Base64.encode(magic + salt + out.prefix(Int(written + finalWritten))))
    }

    /// The plaintext of `text` (openssl's base64 output; line breaks and surrounding whitespace
    /// are ignored). Throws `.malformed` if it is not that format and `.decryptionFailed` if the
    /// padding is wrong, which is what another passphrase almost always gives.
    public static func decrypt(_ text: some Collection<UInt8>, passphrase: SecureBytes, iterations: Int = defaultIterations) throws(OpenSSLEncError) -> [UInt8] {
        precondition(iterationRange.contains(iterations))
        let compact = text.filter { !Self.isBase64Whitespace($0) }
        guard let bytes = Base64.decodeCanonical(String(decoding: compact, as: UTF8.self)),
              bytes.count >= magic.count + saltByteCount + blockByteCount,
              Array(bytes.prefix(magic.count)) == magic,
              (bytes.count - magic.count - saltByteCount) % blockByteCount == 0
        else { throw .malformed }
        let salt = Array(bytes[magic.count..<(magic.count + saltByteCount)])
        let ciphertext = Array(bytes[(magic.count + saltByteCount)...])
        let keyAndIV = deriveKeyAndIV(passphrase: passphrase, salt: salt, iterations: iterations)
        let ctx = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: ciphertext.count + blockByteCount)
        var written: Int32 = 0, finalWritten: Int32 = 0
        let initialised = keyAndIV.withUnsafeBytes { k in
            let key = k.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nil, key, key + keyByteCount) == 1
        }
        precondition(initialised, "OpenSSL AES-256-CBC setup failed")
        let ok = out.withUnsafeMutableBufferPointer { o in
            EVP_DecryptUpdate(ctx, o.baseAddress, &written, ciphertext, Int32(ciphertext.count)) == 1
                && EVP_DecryptFinal_ex(ctx, o.baseAddress! + Int(written), &finalWritten) == 1
        }
        do { try check(ok, else: .authenticationFailure) } catch { throw .decryptionFailed }
        return Array(out.prefix(Int(written + finalWritten)))
    }

    /// How many bytes of text `encrypt` writes for a plaintext of `plaintextByteCount` bytes: the
    /// bound a reader needs to accept the largest message it is willing to take.
    public static func encodedByteCount(plaintextByteCount: Int) -> Int {
        let binary = magic.count + saltByteCount + (plaintextByteCount / blockByteCount + 1) * blockByteCount
        let base64 = (binary + 2) / 3 * 4
        return base64 + (base64 + lineLength - 1) / lineLength
    }

    /// PBKDF2-HMAC-SHA256 to 48 bytes, split by the caller into key and IV ("-pbkdf2" in apps/enc.c).
    private static func deriveKeyAndIV(passphrase: SecureBytes, salt: [UInt8], iterations: Int) -> SecureBytes {
        // The C call cannot fail for these inputs; a failure is our misuse, not a peer's doing.
        let derived = try? SecureBytes(count: keyByteCount + ivByteCount) { (out: UnsafeMutableRawBufferPointer) throws(CryptoError) in
            let ok = passphrase.withUnsafeBytes { p in
                PKCS5_PBKDF2_HMAC(p.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(p.count), salt, Int32(salt.count),
                                  Int32(iterations), EVP_sha256(), Int32(out.count), out.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
            }
            try check(ok, else: .invalidLength)
        }
        guard let derived else { preconditionFailure("OpenSSL PBKDF2 failed") }
        return derived
    }

    private static func wrapped(_ base64: String) -> String {
        var lines = ""
        var rest = Substring(base64)
        while !rest.isEmpty {
            lines += rest.prefix(lineLength) + "\n"
            rest = rest.dropFirst(lineLength)
        }
        return lines
    }

    private static func isBase64Whitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}
