import MeshCrypto

/// Every length and limit that bounds bytes coming off the wire, each with the PROTOCOL.md
/// sentence it comes from. Parsers compare against these and nothing else.
public enum WireBounds {
    /// "a `u16` length (1..65535) and then that many bytes" (PROTOCOL.md 2).
    public static let frameLength: ClosedRange<Int> = 1...65535
    /// The largest frame payload: the most a `u16` length can say (PROTOCOL.md 2).
    public static let maxFrameLength = 65535
    /// "Each later frame is one Noise transport message (ciphertext with its 16-byte tag), so one
    /// plaintext is at most 65519 bytes" (PROTOCOL.md 5).
    public static let maxPlaintextLength = maxFrameLength - AEADCipher.tagByteCount
    /// "A *name* (a nickname or a room) is a `str` of 1..32 bytes" (PROTOCOL.md, notation).
    public static let nicknameBytes: ClosedRange<Int> = 1...32
    /// "... (rooms 1..64)" (PROTOCOL.md, notation).
    public static let roomBytes: ClosedRange<Int> = 1...64
    /// Envelope body, "kind 1: UTF-8 text, 1..16384 bytes" (PROTOCOL.md 6).
    public static let roomBodyBytes: ClosedRange<Int> = 1...16384
    /// Envelope body, "kind 2: `crypto_box_seal` of UTF-8 text to the recipient's X25519 key,
    /// 49..16432 bytes" (PROTOCOL.md 6): 1..16384 bytes of text plus the 48-byte seal overhead.
    public static let directBodyBytes: ClosedRange<Int> = 49...16432
    /// BYE "str text (0..256 bytes)" (PROTOCOL.md 5).
    public static let byeTextBytes: ClosedRange<Int> = 0...256
    /// A node's maximum hop count is "at most 254" (PROTOCOL.md 6).
    public static let maxHopLimit: UInt8 = 254
    /// A node's maximum hop count is "default 8" (PROTOCOL.md 6).
    public static let defaultHopLimit: UInt8 = 8

    /// The largest envelope that satisfies every range of PROTOCOL.md 6 (16683 bytes); it fits
    /// one MESSAGE plaintext with room to spare.
    public static let maxEnvelopeLength =
        1 + 1 + 32 + 8 + 8 + (2 + nicknameBytes.upperBound) + (2 + roomBytes.upperBound) + 32
        + (4 + max(roomBodyBytes.upperBound, directBodyBytes.upperBound)) + 64 + 1
    /// The largest handshake payload: version, key32, u64, u16, u32 and a 32-byte nickname
    /// (PROTOCOL.md 4), 81 bytes.
    public static let maxHandshakePayloadLength = 1 + 32 + 8 + 2 + 4 + (2 + nicknameBytes.upperBound)
}

/// Why bytes from a peer do not form a valid wire item. The cases are stable: callers map them
/// to a BYE reason or a quiet drop, and tests pin them.
public enum WireError: Error, Equatable, Sendable {
    /// The bytes ended before a field, or a declared length is longer than what follows
    /// ("a short read, an over-long length", PROTOCOL.md notation).
    case truncated
    /// Bytes are left over after the last field ("trailing bytes make the whole item invalid").
    case trailingBytes
    /// A `str` whose bytes are not valid UTF-8.
    case invalidUTF8
    /// A length that parses but lies outside the range the protocol gives it (for example a BYE
    /// text over 256 bytes).
    case lengthOutOfRange
    /// A nickname or room that is not a *name*: wrong byte length or a character of category Cc.
    case invalidName
    /// A preamble that does not start with ASCII `MESH` (PROTOCOL.md 3).
    case badMagic
    /// A preamble or handshake payload version other than 1.
    case unsupportedVersion
    /// A preamble whose `u16 reserved` is not 0 (PROTOCOL.md 3).
    case nonZeroReserved
    /// A preamble suite byte outside 0x01...0x04 (PROTOCOL.md 3).
    case unknownSuite
    /// A frame length of 0: "A zero length is a protocol error and closes the connection."
    /// (PROTOCOL.md 2)
    case zeroLengthFrame
    /// A transport plaintext with no type byte, a protocol error (PROTOCOL.md 5).
    case emptyPlaintext
    /// A fixed-size field whose value is not allowed (for example an identity that is not a key).
    case invalidField
}
