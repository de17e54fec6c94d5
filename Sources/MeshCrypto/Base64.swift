import CSodium

/// Standard base64 with padding, through libsodium, with a canonical-form check.
public enum Base64 {
    /// Encodes bytes as standard padded base64.
    public static func encode(_ bytes: [UInt8]) -> String {
        _ = Sodium.initialised
        let variant = sodium_base64_VARIANT_ORIGINAL
        // The length counts libsodium's terminating NUL, which is written but left out of the string.
        let length = sodium_base64_encoded_len(bytes.count, variant)
        return String(unsafeUninitializedCapacity: length) { out in
            out.withMemoryRebound(to: CChar.self) { text in
                bytes.withUnsafeBufferPointer { b in
                    _ = sodium_bin2base64(text.baseAddress!, length, b.baseAddress, b.count, variant)
                }
            }
            return length - 1
        }
    }

    /// Decodes standard padded base64, or nil if the text is not exactly the canonical encoding
    /// of some bytes (wrong alphabet, missing padding, non-zero padding bits, whitespace).
    public static func decodeCanonical(_ text: String) -> [UInt8]? {
        _ = Sodium.initialised
        let input = Array(text.utf8)
        guard !input.isEmpty, input.count % 4 == 0 else { return nil }
        var out = [UInt8](repeating: 0, count: input.count / 4 * 3)
        var written = 0
        let rc = input.withUnsafeBufferPointer { i in
            i.withMemoryRebound(to: CChar.self) { c in
                sodium_base642bin(&out, out.count, c.baseAddress, c.count, nil, &written, nil, sodium_base64_VARIANT_ORIGINAL)
            }
        }
        guard rc == 0 else { return nil }
        let bytes = Array(out.prefix(written))
        // Re-encoding is the simplest complete canonicality check: it catches stray padding bits.
        return encode(bytes) == text ? bytes : nil
    }
}
