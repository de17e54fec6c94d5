import COpenSSL
import CSodium

/// The two hash functions of PROTOCOL.md's suites: BLAKE2b (libsodium, 64-byte output for
/// Noise) and SHA-256 (OpenSSL EVP).
public enum HashFunction: Sendable {
    case blake2b
    case sha256

    /// Noise's HASHLEN.
    public var outputByteCount: Int {
        switch self {
        case .blake2b: 64
        case .sha256: 32
        }
    }

    /// Noise's BLOCKLEN, the HMAC block size.
    public var blockByteCount: Int {
        switch self {
        case .blake2b: 128
        case .sha256: 64
        }
    }

    /// The name Noise protocol names use.
    public var noiseName: String {
        switch self {
        case .blake2b: "BLAKE2b"
        case .sha256: "SHA256"
        }
    }

    /// HASH(data) over the concatenation of `parts`.
    public func hash(_ parts: [UInt8]...) -> [UInt8] { hash(parts: parts) }

    /// HASH over the concatenation of `parts`, streamed without concatenating.
    public func hash(parts: [[UInt8]]) -> [UInt8] {
        switch self {
        case .blake2b:
            _ = Sodium.initialised
            // The state struct is 64-byte aligned in C and does not import; allocate it by size.
            let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
            defer { sodium_memzero(state, crypto_generichash_statebytes()); state.deallocate() }
            let opaque = OpaquePointer(state)
            var out = [UInt8](repeating: 0, count: outputByteCount)
            crypto_generichash_init(opaque, nil, 0, outputByteCount)
            for part in parts {
                part.withUnsafeBufferPointer { _ = crypto_generichash_update(opaque, $0.baseAddress, UInt64($0.count)) }
            }
            crypto_generichash_final(opaque, &out, outputByteCount)
            return out
        case .sha256:
            let stream = SHA256Stream()
            for part in parts { stream.update(part) }
            return stream.finish()
        }
    }

    /// HMAC-HASH(key, data) per RFC 2104, as Noise section 4.3 defines it.
    public func hmac(key: SecureBytes, _ parts: [UInt8]...) -> SecureBytes {
        var block = key.count > blockByteCount ? key.withUnsafeBytes { hash(Array($0)) } : key.unsafeBytes
        block += [UInt8](repeating: 0, count: blockByteCount - block.count)
        defer { block.withUnsafeMutableBytes { sodium_memzero($0.baseAddress!, $0.count) } }
        let inner = hash(parts: [block.map { $0 ^ 0x36 }] + parts)
        return SecureBytes(hash(block.map { $0 ^ 0x5c }, inner))
    }

    /// Noise's HKDF(chaining_key, input_key_material, num_outputs) (section 4.3): two or three
    /// outputs of HASHLEN bytes each.
    public func hkdf(chainingKey: SecureBytes, inputKeyMaterial: SecureBytes, outputs: Int) -> [SecureBytes] {
        precondition(outputs == 2 || outputs == 3)
        let tempKey = inputKeyMaterial.withUnsafeBytes { hmac(key: chainingKey, Array($0)) }
        let output1 = hmac(key: tempKey, [0x01])
        let output2 = output1.withUnsafeBytes { hmac(key: tempKey, Array($0), [0x02]) }
        guard outputs == 3 else { return [output1, output2] }
        let output3 = output2.withUnsafeBytes { hmac(key: tempKey, Array($0), [0x03]) }
        return [output1, output2, output3]
    }
}

/// BLAKE2b with a 32-byte output (`crypto_generichash`, no key): the message id (PROTOCOL.md 6).
public enum Blake2b256 {
    /// The 32-byte digest of `data`.
    public static func hash(_ data: some Collection<UInt8>) -> [UInt8] {
        hash(Array(data))
    }

    /// The 32-byte digest of `data`; not generic, so a caller in another module (an id for every
    /// envelope parsed) does not run through unspecialised copies.
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        _ = Sodium.initialised
        var out = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBufferPointer { _ = crypto_generichash(&out, 32, $0.baseAddress, UInt64($0.count), nil, 0) }
        return out
    }
}

/// SHA-256 over data that arrives in pieces (OpenSSL EVP), so a file of any size is hashed
/// without being held in memory: the file hash of docs/file-transfer.md, and `HashFunction.sha256`.
/// SHA-256 rather than BLAKE2b there because OpenSSL's uses the CPU's SHA instructions: about
/// twice libsodium's BLAKE2b per core, and a file is hashed on both sides of every transfer.
public final class SHA256Stream {
    private let context: OpaquePointer
    private var finished = false

    /// A fresh hash.
    public init() {
        context = EVP_MD_CTX_new()!
        precondition(EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1, "OpenSSL SHA-256 failed")
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to what is hashed.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "a finished hash takes no more bytes")
        precondition(EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1, "OpenSSL SHA-256 failed")
    }

    /// Adds `bytes` to what is hashed.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest; the hash takes nothing more after this.
    public func finish() -> [UInt8] {
        precondition(!finished, "a hash is finished once")
        finished = true
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &out, &length) == 1 && length == 32, "OpenSSL SHA-256 failed")
        return out
    }
}
