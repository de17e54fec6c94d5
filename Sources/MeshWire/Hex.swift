/// Lowercase hexadecimal, as events print ids and hashes.
public enum Hex {
    /// Two lowercase hex digits per byte.
    public static func lowercase(_ bytes: some Collection<UInt8>) -> String {
        // Written straight into the string's storage: one allocation (every event line has an id).
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var count = 0
            for byte in bytes {
                out[count] = digit(byte >> 4)
                out[count + 1] = digit(byte & 0x0F)
                count += 2
            }
            return count
        }
    }

    private static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
