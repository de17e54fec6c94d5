import CSodium

/// Randomness from libsodium's CSPRNG (`randombytes_buf`), the only source the project uses.
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(count: Int) -> [UInt8] {
        _ = Sodium.initialised
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return out
    }

    /// A random 64-bit integer.
    public static func uint64() -> UInt64 {
        _ = Sodium.initialised
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { randombytes_buf($0.baseAddress!, 8) }
        return value
    }

    /// A uniformly random integer in `0..<upperBound` (`randombytes_uniform`, no modulo bias).
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        _ = Sodium.initialised
        return randombytes_uniform(upperBound)
    }
}
