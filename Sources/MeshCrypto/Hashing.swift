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
            let ctx = EVP_MD_CTX_new()!
            defer { EVP_MD_CTX_free(ctx) }
            var out = [UInt8](repeating: 0, count: outputByteCount)
            var ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1
            for part in parts {
                ok = ok && part.withUnsafeBufferPointer { EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) } == 1
            }
            var length: UInt32 = 0
            ok = ok && EVP_DigestFinal_ex(ctx, &out, &length) == 1
            precondition(ok && length == 32, "OpenSSL SHA-256 failed")
            return out
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

/// BLAKE2b with a 32-byte output (`crypto_generichash`, no key): the message id (PROTOCOL.md 6)
/// and file hashes.
public enum Blake2b256 {
    /// The 32-byte digest of `data`.
    public static func hash(_ data: some Collection<UInt8>) -> [UInt8] {
        _ = Sodium.initialised
        let input = Array(data)
        var out = [UInt8](repeating: 0, count: 32)
        input.withUnsafeBufferPointer { _ = crypto_generichash(&out, 32, $0.baseAddress, UInt64($0.count), nil, 0) }
        return out
    }
}

/// BLAKE2b-256 over data that arrives in pieces (`crypto_generichash_init/update/final`), so a
/// file of any size is hashed without being held in memory. Same digest as `Blake2b256.hash`.
public final class Blake2b256Stream {
    // The state struct is 64-byte aligned in C and does not import; allocate it by size.
    private let state: UnsafeMutableRawPointer
    private var finished = false

    /// A fresh hash (no key).
    public init() {
        _ = Sodium.initialised
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        crypto_generichash_init(OpaquePointer(state), nil, 0, 32)
    }

    deinit {
        sodium_memzero(state, crypto_generichash_statebytes())
        state.deallocate()
    }

    /// Adds `bytes` to what is hashed.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "a finished hash takes no more bytes")
        _ = crypto_generichash_update(OpaquePointer(state), bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
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
        crypto_generichash_final(OpaquePointer(state), &out, 32)
        return out
    }
}
