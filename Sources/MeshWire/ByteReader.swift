/// Reads PROTOCOL.md's field types from a byte string, front to back.
///
/// "A parser reads exactly the declared bytes: a short read, an over-long length, invalid UTF-8
/// in a `str` or trailing bytes make the whole item invalid." (PROTOCOL.md, notation). Every read
/// checks what is left before it touches or allocates anything, so hostile lengths cost nothing;
/// a parser ends with `expectEnd()`.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    private var position = 0

    /// Reads from `bytes`, sharing its storage.
    ///
    /// Why an `Array` overload: a generic function called from another module runs unspecialised
    /// (no cross-module optimisation here), and the envelope and plaintext parsers, which take
    /// arrays, ran every frame through generic copies and runtime metadata look-ups.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads from a copy of `bytes`.
    public init(_ bytes: some Collection<UInt8>) {
        self.init(Array(bytes))
    }

    /// How many bytes have not been read yet.
    public var remainingCount: Int { bytes.count - position }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { position == bytes.count }

    /// How many bytes have been read so far.
    public var offset: Int { position }

    /// The next `count` raw bytes.
    public mutating func raw(_ count: Int) throws(WireError) -> [UInt8] {
        Array(try rawSharingStorage(count))
    }

    /// The next `count` raw bytes as a slice of the reader's bytes, not a copy: for fields that
    /// are only checked or converted (a `str`, a key compared with zeros), not kept.
    public mutating func rawSharingStorage(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remainingCount else { throw .truncated }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// A `u8`.
    public mutating func u8() throws(WireError) -> UInt8 {
        guard remainingCount >= 1 else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    /// A big-endian `u16`.
    public mutating func u16() throws(WireError) -> UInt16 { try integer(UInt16.self) }

    /// A big-endian `u32`.
    public mutating func u32() throws(WireError) -> UInt32 { try integer(UInt32.self) }

    /// A big-endian `u64`.
    public mutating func u64() throws(WireError) -> UInt64 { try integer(UInt64.self) }

    /// A `key32`: 32 raw bytes.
    public mutating func key32() throws(WireError) -> [UInt8] { try raw(ByteWriter.key32ByteCount) }

    /// A `sig64`: 64 raw bytes.
    public mutating func sig64() throws(WireError) -> [UInt8] { try raw(ByteWriter.sig64ByteCount) }

    /// A `str`: a `u16` length followed by that many bytes of valid UTF-8.
    public mutating func str() throws(WireError) -> String {
        let length = Int(try u16())
        let utf8 = try rawSharingStorage(length)
        // Validated from the reader's bytes, without an array of its own first.
        guard let text = utf8.withUnsafeBufferPointer(String.init(validUTF8:)) else { throw .invalidUTF8 }
        return text
    }

    /// A `blob`: a `u32` length followed by that many bytes. A length beyond the bytes left is
    /// `truncated` before anything is allocated.
    public mutating func blob() throws(WireError) -> [UInt8] {
        let declared = try u32()
        guard let length = Int(exactly: declared), length <= remainingCount else { throw .truncated }
        return try raw(length)
    }

    /// Every byte not read yet (for bodies that run to the end of their container).
    public mutating func rest() -> [UInt8] {
        Array(restSharingStorage())
    }

    /// Every byte not read yet, sharing the bytes the reader was made from rather than copying
    /// them (a reader made from an `Array` holds that array's storage): for file chunks, where a
    /// copy per 64 KiB frame showed in profiles.
    public mutating func restSharingStorage() -> ArraySlice<UInt8> {
        defer { position = bytes.count }
        return bytes[position...]
    }

    /// The first `count` bytes, which must already have been read (for example an envelope's
    /// signed part, kept exactly as it arrived).
    public func readPrefix(_ count: Int) -> [UInt8] {
        precondition(count >= 0 && count <= position, "only bytes already read")
        return Array(bytes[..<count])
    }

    /// Throws `trailingBytes` unless every byte has been read.
    public func expectEnd() throws(WireError) {
        guard isAtEnd else { throw .trailingBytes }
    }

    private mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard remainingCount >= size else { throw .truncated }
        var value: T = 0
        for byte in bytes[position..<(position + size)] {
            value = value << 8 | T(byte)
        }
        position += size
        return value
    }
}

/// Writes PROTOCOL.md's field types, in order, into a growing byte string.
///
/// Writing a value the protocol cannot carry (a `str` over 65535 bytes, a `key32` of another
/// length) is our own misuse and stops the program; the codecs check ranges before they write.
public struct ByteWriter: Sendable {
    /// A `key32` is "32 raw bytes" (PROTOCOL.md, notation).
    public static let key32ByteCount = 32
    /// A `sig64` is "64 raw bytes" (PROTOCOL.md, notation).
    public static let sig64ByteCount = 64

    /// What has been written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer; `capacity` only reserves space.
    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Raw bytes, no length.
    public mutating func raw(_ raw: some Collection<UInt8>) { bytes.append(contentsOf: raw) }

    /// A `u8`.
    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    /// A big-endian `u16`.
    public mutating func u16(_ value: UInt16) { integer(value) }

    /// A big-endian `u32`.
    public mutating func u32(_ value: UInt32) { integer(value) }

    /// A big-endian `u64`.
    public mutating func u64(_ value: UInt64) { integer(value) }

    /// A `key32`.
    public mutating func key32(_ raw: some Collection<UInt8>) {
        precondition(raw.count == Self.key32ByteCount, "a key32 is 32 bytes")
        self.raw(raw)
    }

    /// A `sig64`.
    public mutating func sig64(_ raw: some Collection<UInt8>) {
        precondition(raw.count == Self.sig64ByteCount, "a sig64 is 64 bytes")
        self.raw(raw)
    }

    /// A `str`: `u16` length, then the UTF-8 bytes.
    public mutating func str(_ text: String) {
        let utf8 = text.utf8
        guard let length = UInt16(exactly: utf8.count) else { preconditionFailure("a str is at most 65535 bytes") }
        u16(length)
        raw(utf8)
    }

    /// A `blob`: `u32` length, then the bytes.
    public mutating func blob(_ raw: some Collection<UInt8>) {
        guard let length = UInt32(exactly: raw.count) else { preconditionFailure("a blob is at most 2^32-1 bytes") }
        u32(length)
        self.raw(raw)
    }

    private mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        var shift = T.bitWidth
        while shift > 0 {
            shift -= 8
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }
}

extension String {
    /// `bytes` as text if they are valid UTF-8, else nil: the answer of `String(validating:as:
    /// UTF8.self)`, whose generic implementation runs unspecialised and looked up type metadata
    /// on every call (a share of each envelope parsed, in profiles). Decoding replaces each
    /// invalid sequence with U+FFFD's bytes, which no invalid sequence equals, so the bytes are
    /// valid exactly when the decoded text's bytes are the input.
    init?(validUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        var text = String(decoding: bytes, as: UTF8.self)
        // Compared as buffers: stepping through `utf8` costs an index check per byte.
        guard text.withUTF8({ $0.elementsEqual(bytes) }) else { return nil }
        self = text
    }
}
