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
        [UInt8](unsafeUninitializedCapacity: outputByteCount) { out, count in
            hash(into: UnsafeMutableRawBufferPointer(out)) { update in
                for part in parts { part.withUnsafeBytes(update) }
            }
            count = outputByteCount
        }
    }

    /// HMAC-HASH(key, data) per RFC 2104, as Noise section 4.3 defines it.
    public func hmac(key: SecureBytes, _ data: [UInt8]) -> SecureBytes {
        withScratch(outputByteCount) { out in
            key.withUnsafeBytes { key in data.withUnsafeBytes { data in hmac(key: key, data, into: out[0]) } }
            return SecureBytes(UnsafeRawBufferPointer(out[0]))
        }
    }

    /// Noise's HKDF(chaining_key, input_key_material, num_outputs) (section 4.3): two or three
    /// outputs of HASHLEN bytes each.
    ///
    /// Every intermediate stays in one wiped scratch buffer: a handshake runs five of these, and
    /// with an array per step they were most of its cost after the X25519 operations.
    public func hkdf(chainingKey: SecureBytes, inputKeyMaterial: SecureBytes, outputs: Int) -> [SecureBytes] {
        precondition(outputs == 2 || outputs == 3)
        return withScratch(outputByteCount, outputByteCount, outputByteCount, outputByteCount) { slots in
            let tempKey = UnsafeRawBufferPointer(slots[0])
            chainingKey.withUnsafeBytes { key in
                inputKeyMaterial.withUnsafeBytes { material in hmac(key: key, material, into: slots[0]) }
            }
            for index in 1...outputs {
                // output1 = HMAC(temp_key, 0x01); output_n = HMAC(temp_key, output_n-1 || n)
                let previous = index == 1 ? UnsafeRawBufferPointer(start: nil, count: 0) : UnsafeRawBufferPointer(slots[index - 1])
                withUnsafeBytes(of: UInt8(index)) { counter in hmac(key: tempKey, previous, counter, into: slots[index]) }
            }
            return (1...outputs).map { SecureBytes(UnsafeRawBufferPointer(slots[$0])) }
        }
    }

    /// HMAC over `first || second`, written to `out` (HASHLEN bytes).
    private func hmac(key: UnsafeRawBufferPointer, _ first: UnsafeRawBufferPointer,
                      _ second: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                      into out: UnsafeMutableRawBufferPointer) {
        withScratch(blockByteCount, outputByteCount) { scratch in
            let (block, inner) = (scratch[0], scratch[1])
            // The key, hashed first if longer than a block, zero-padded to a block.
            if key.count > blockByteCount {
                hash(into: block) { $0(key) }
            } else if key.count > 0 {
                block.copyMemory(from: key)
            }
            for index in block.indices { block[index] ^= 0x36 }
            hash(into: inner) { update in
                update(UnsafeRawBufferPointer(block))
                update(first)
                update(second)
            }
            for index in block.indices { block[index] ^= 0x36 ^ 0x5c }
            hash(into: out) { update in
                update(UnsafeRawBufferPointer(block))
                update(UnsafeRawBufferPointer(inner))
            }
        }
    }

    /// The alignment libsodium declares for `crypto_generichash_state`.
    private static let stateAlignment = 64

    /// HASH over what `feed` passes to its `update`, in order, written to the start of `out`.
    private func hash(into out: UnsafeMutableRawBufferPointer,
                      _ feed: (_ update: (UnsafeRawBufferPointer) -> Void) -> Void) {
        switch self {
        case .blake2b:
            _ = Sodium.initialised
            // The state struct is 64-byte aligned in C and does not import, so it is allocated by
            // size. Asked for 64-byte alignment, Swift puts a temporary allocation on the heap
            // (posix_memalign, 2% of a handshake); 63 bytes more at 16 stay on the stack, and the
            // state starts at the first 64-byte boundary in them.
            let stateBytes = crypto_generichash_statebytes()
            withUnsafeTemporaryAllocation(byteCount: stateBytes + Self.stateAlignment - 1, alignment: 16) { scratch in
                defer { sodium_memzero(scratch.baseAddress!, scratch.count) }
                let start = scratch.baseAddress!.alignedUp(toMultipleOf: Self.stateAlignment)
                let opaque = OpaquePointer(start)
                crypto_generichash_init(opaque, nil, 0, outputByteCount)
                feed { part in
                    guard part.count > 0 else { return }
                    crypto_generichash_update(opaque, part.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(part.count))
                }
                crypto_generichash_final(opaque, out.baseAddress!.assumingMemoryBound(to: UInt8.self), outputByteCount)
            }
        case .sha256:
            let stream = SHA256Stream()
            feed { part in if part.count > 0 { stream.update(part) } }
            stream.finish(into: out)
        }
    }

    /// Runs `body` with zeroed scratch buffers of the given sizes, wiped when it returns.
    private func withScratch<R>(_ sizes: Int..., body: ([UnsafeMutableRawBufferPointer]) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: sizes.reduce(0, +), alignment: 16) { scratch in
            scratch.initializeMemory(as: UInt8.self, repeating: 0)
            defer { sodium_memzero(scratch.baseAddress!, scratch.count) }
            var offset = 0
            let slots = sizes.map { size in
                defer { offset += size }
                return UnsafeMutableRawBufferPointer(rebasing: scratch[offset..<offset + size])
            }
            return body(slots)
        }
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
        [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            finish(into: UnsafeMutableRawBufferPointer(out))
            count = 32
        }
    }

    /// Writes the 32-byte digest to the start of `out`; the hash takes nothing more after this.
    public func finish(into out: UnsafeMutableRawBufferPointer) {
        precondition(!finished, "a hash is finished once")
        precondition(out.count >= 32, "a SHA-256 digest is 32 bytes")
        finished = true
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1 && length == 32,
                     "OpenSSL SHA-256 failed")
    }
}
