/// The 8 bytes the initiator sends first: "ASCII `MESH` (4D 45 53 48), `u8 version = 1`,
/// `u8 suite`, `u16 reserved = 0`" (PROTOCOL.md 3). They are also the Noise prologue.
public struct Preamble: Equatable, Sendable {
    /// The preamble's fixed length.
    public static let byteCount = 8
    /// ASCII `MESH`.
    public static let magic: [UInt8] = [0x4D, 0x45, 0x53, 0x48]
    /// The only protocol version this code speaks.
    public static let currentVersion: UInt8 = 1

    /// The protocol version; 1.
    public var version: UInt8 = Preamble.currentVersion
    /// The suite the initiator chose.
    public var suite: Suite

    /// A version 1 preamble for `suite`.
    public init(suite: Suite) {
        self.suite = suite
    }

    /// The 8 bytes on the wire.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.byteCount)
        writer.raw(Self.magic)
        writer.u8(version)
        writer.u8(suite.rawValue)
        writer.u16(0)
        return writer.bytes
    }

    /// Parses exactly 8 bytes. "The listening node (the responder) closes the connection without
    /// a reply if the magic, version or reserved bytes are wrong or it does not accept the suite."
    /// Whether this node accepts a known suite (pre-shared key or not) is the caller's decision.
    public static func parse(_ bytes: some Collection<UInt8>) throws(WireError) -> Preamble {
        var reader = ByteReader(bytes)
        guard try reader.raw(magic.count) == magic else { throw .badMagic }
        guard try reader.u8() == currentVersion else { throw .unsupportedVersion }
        let suiteByte = try reader.u8()
        guard try reader.u16() == 0 else { throw .nonZeroReserved }
        try reader.expectEnd()
        guard let suite = Suite(rawValue: suiteByte) else { throw .unknownSuite }
        return Preamble(suite: suite)
    }
}
