/// PROTOCOL.md 2: "every byte of a connection belongs to a frame: a `u16` length (1..65535) and
/// then that many bytes."
public enum Framing {
    /// The size of a frame's length prefix.
    public static let lengthPrefixBytes = 2

    /// `payload` with its length prefix. An empty or over-long payload is our own mistake.
    public static func frame(_ payload: some Collection<UInt8>) -> [UInt8] {
        precondition(WireBounds.frameLength.contains(payload.count), "a frame carries 1...65535 bytes")
        var writer = ByteWriter(capacity: lengthPrefixBytes + payload.count)
        writer.u16(UInt16(payload.count))
        writer.raw(payload)
        return writer.bytes
    }
}

/// Splits a byte stream into frames, however the bytes arrive: "need more bytes" is `nil`, a
/// malformed stream is a thrown error.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    /// An empty decoder.
    public init() {}

    /// How many received bytes are waiting to be decoded.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Adds bytes as they arrive from the connection.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame's payload, or nil until enough bytes have arrived.
    /// "A zero length is a protocol error and closes the connection." (PROTOCOL.md 2): it throws
    /// `zeroLengthFrame`, and keeps throwing, since the stream cannot be resynchronised.
    public mutating func next() throws(WireError) -> [UInt8]? {
        guard bufferedByteCount >= Framing.lengthPrefixBytes else { return nil }
        let length = Int(buffer[start]) << 8 | Int(buffer[start + 1])
        guard length > 0 else { throw .zeroLengthFrame }
        guard bufferedByteCount - Framing.lengthPrefixBytes >= length else { return nil }
        let payloadStart = start + Framing.lengthPrefixBytes
        let payload = Array(buffer[payloadStart..<(payloadStart + length)])
        consume(Framing.lengthPrefixBytes + length)
        return payload
    }

    /// The next `count` bytes, unframed, or nil until they have arrived: the preamble (PROTOCOL.md
    /// 3) comes before any frame on the same stream.
    public mutating func nextUnframed(count: Int) -> [UInt8]? {
        precondition(count >= 0)
        guard bufferedByteCount >= count else { return nil }
        let bytes = Array(buffer[start..<(start + count)])
        consume(count)
        return bytes
    }

    private mutating func consume(_ count: Int) {
        start += count
        // Compact once the consumed prefix dominates, so appends stay amortised O(1).
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 4096, start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
