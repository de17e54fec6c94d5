import CSodium

/// Secret bytes: zeroed when the last copy is released, compared in constant time, never printed.
///
/// A struct over a private class so that copies share one buffer that is wiped exactly once.
public struct SecureBytes: Sendable {
    // Immutable after init: the storage is written only by the initialiser, so it is safe to share.
    private final class Storage: @unchecked Sendable {
        let pointer: UnsafeMutableRawBufferPointer

        init(count: Int) {
            pointer = .allocate(byteCount: count, alignment: 16)
            pointer.initializeMemory(as: UInt8.self, repeating: 0)
        }

        deinit {
            if let base = pointer.baseAddress { sodium_memzero(base, pointer.count) }
            pointer.deallocate()
        }
    }

    private let storage: Storage

    /// Copies `bytes` into fresh secret storage.
    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        storage = Storage(count: bytes.count)
        _ = storage.pointer.initializeMemory(as: UInt8.self, from: bytes)
    }

    /// Fills `count` bytes through `body`, which receives the zeroed buffer.
    public init(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(CryptoError) -> Void) throws(CryptoError) {
        storage = Storage(count: count)
        try body(storage.pointer)
    }

    /// The number of bytes.
    public var count: Int { storage.pointer.count }

    /// Reads the secret without copying it out.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(storage.pointer))
    }

    /// The first `n` bytes, as new secret storage.
    public func prefix(_ n: Int) -> SecureBytes {
        precondition(n <= count)
        return SecureBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage.pointer)[0..<n]))
    }

    /// A copy as plain bytes, for the few places (file storage, tests) that must hand the secret on.
    public var unsafeBytes: [UInt8] { Array(UnsafeRawBufferPointer(storage.pointer)) }
}

extension SecureBytes: Equatable {
    /// Constant-time comparison (`sodium_memcmp`); lengths are not secret.
    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool {
        lhs.withUnsafeBytes { a in rhs.withUnsafeBytes { b in constantTimeEquals(a, b) } }
    }
}

extension SecureBytes: CustomStringConvertible {
    /// Never the bytes themselves: a secret must not reach a log by accident.
    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
}

/// Compares two byte sequences in time that depends only on their lengths.
public func constantTimeEquals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    if a.count == 0 { return true }
    return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}

/// Compares two byte arrays in time that depends only on their lengths.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in constantTimeEquals(pa, pb) } }
}
