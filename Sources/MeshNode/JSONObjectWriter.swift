/// Writes one flat JSON object straight into UTF-8 bytes, for the JSON event lines of `start --json`.
///
/// Why not `JSONSerialization`: on Linux it builds an `NSDictionary` of boxed values per event
/// and was the largest single cost of showing a message (docs/performance.md). This writer
/// appends to a caller's buffer, so a burst of events can share one buffer and one `write`.
///
/// Keys must be written in ascending order (the callers pass them sorted, like `.sortedKeys`), so
/// the lines stay byte-for-byte what they were. Strings are escaped as RFC 8259 requires:
/// `"` and `\` with a backslash, control characters below U+0020 as `\b \f \n \r \t` or `\u00XX`;
/// everything else, `/` and non-ASCII included, is written as it is.
public struct JSONObjectWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]
    private var first = true
    private var open = true

    /// Starts an object in a fresh buffer; `finish()` returns it.
    public init() {
        bytes = [UInt8(ascii: "{")]
    }

    /// Starts an object at the end of `buffer`, moving the buffer in without copying it (it is
    /// left empty until `finish(into:)` moves it back): a burst's lines share one buffer.
    public init(appendingTo buffer: inout [UInt8]) {
        bytes = []
        swap(&bytes, &buffer)
        bytes.append(UInt8(ascii: "{"))
    }

    /// A string member.
    public mutating func field(_ key: StaticString, _ value: String) {
        self.key(key)
        appendString(value)
    }

    /// A string member, or `null` when `value` is nil.
    public mutating func field(_ key: StaticString, _ value: String?) {
        self.key(key)
        if let value { appendString(value) } else { appendLiteral("null") }
    }

    /// An unsigned integer member.
    public mutating func field(_ key: StaticString, _ value: UInt64) {
        self.key(key)
        appendDecimal(value)
    }

    /// A boolean member.
    public mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key)
        appendLiteral(value ? "true" : "false")
    }

    /// Closes the object and returns its bytes (no newline).
    public mutating func finish() -> [UInt8] {
        close()
        return bytes
    }

    /// Closes the object and moves the bytes (what `buffer` held before, then the object) back into `buffer`.
    public mutating func finish(into buffer: inout [UInt8]) {
        close()
        swap(&bytes, &buffer)
    }

    private mutating func close() {
        precondition(open, "a JSON object is finished once")
        open = false
        bytes.append(UInt8(ascii: "}"))
    }

    // MARK: Pieces

    private mutating func key(_ key: StaticString) {
        precondition(open, "no members after finish()")
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        // Keys are the contract's fixed ASCII names: nothing in them needs escaping.
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func appendLiteral(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func appendDecimal(_ value: UInt64) {
        if value == 0 { return bytes.append(UInt8(ascii: "0")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // UInt64.max has 20 digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                // Copy the plain run before this byte in one go, then its escape.
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
                case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
                case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
