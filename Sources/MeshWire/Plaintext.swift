/// The type bytes of transport plaintexts (PROTOCOL.md 5).
public enum PlaintextType {
    /// PING: `u64 token`.
    public static let ping: UInt8 = 0x01
    /// PONG: `u64 token`, copied from the PING.
    public static let pong: UInt8 = 0x02
    /// MESSAGE: one envelope (PROTOCOL.md 6).
    public static let message: UInt8 = 0x10
    /// BYE: `u8 reason`, `str text` (0..256 bytes); the sender then closes.
    public static let bye: UInt8 = 0x7F
    /// "0x11-0x1F | sync (anti-entropy) | defined by the project".
    public static let syncRange: ClosedRange<UInt8> = 0x11...0x1F
    /// "0x20-0x2F | file transfer | defined by the project".
    public static let fileRange: ClosedRange<UInt8> = 0x20...0x2F
    /// "0x30-0x7E | other extensions | defined by the project".
    public static let extensionRange: ClosedRange<UInt8> = 0x30...0x7E

    /// Whether `type` is one of the four types PROTOCOL.md 5 itself gives a body.
    public static func isDefinedByProtocol(_ type: UInt8) -> Bool {
        type == ping || type == pong || type == message || type == bye
    }
}

/// BYE reasons (PROTOCOL.md 5).
public enum ByeReason: UInt8, Sendable, CaseIterable {
    /// 0: normal.
    case normal = 0
    /// 1: duplicate connection (PROTOCOL.md 4).
    case duplicateConnection = 1
    /// 2: protocol error.
    case protocolError = 2
    /// 3: too many invalid envelopes (PROTOCOL.md 6).
    case tooManyInvalidEnvelopes = 3
    /// 4: idle.
    case idle = 4
    /// 5: no longer trusted.
    case noLongerTrusted = 5
    /// 6: shutting down.
    case shuttingDown = 6

    /// The reason a received byte means: "an unknown reason reads as 0".
    public init(wireValue: UInt8) {
        self = ByeReason(rawValue: wireValue) ?? .normal
    }
}

/// One decrypted transport message: "`u8 type` followed by its body" (PROTOCOL.md 5).
public enum Plaintext: Equatable, Sendable {
    /// PING with its token.
    case ping(token: UInt64)
    /// PONG echoing a PING's token.
    case pong(token: UInt64)
    /// MESSAGE with the envelope's raw bytes, not yet parsed: an envelope that does not parse is
    /// dropped and counted, keeping the connection (PROTOCOL.md 6 rule 1), not a protocol error.
    case message(envelope: [UInt8])
    /// BYE with its reason and text (0..256 bytes of UTF-8; may hold control characters, so escape
    /// it before showing it).
    case bye(reason: ByeReason, text: String)
    /// A type this code gives no meaning: "A node ignores plaintext types it does not know."
    /// Project ranges (sync, files, extensions) arrive here until a layer above interprets them.
    case unknown(type: UInt8, body: [UInt8])

    /// The plaintext bytes, type first. Encoding what the protocol cannot carry (a BYE text over
    /// 256 bytes, an `.unknown` that uses a defined type, more than 65519 bytes) is our mistake.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .ping(let token):
            writer.u8(PlaintextType.ping)
            writer.u64(token)
        case .pong(let token):
            writer.u8(PlaintextType.pong)
            writer.u64(token)
        case .message(let envelope):
            writer.u8(PlaintextType.message)
            writer.raw(envelope)
        case .bye(let reason, let text):
            precondition(WireBounds.byeTextBytes.contains(text.utf8.count), "a BYE text is 0...256 bytes")
            writer.u8(PlaintextType.bye)
            writer.u8(reason.rawValue)
            writer.str(text)
        case .unknown(let type, let body):
            precondition(!PlaintextType.isDefinedByProtocol(type), "use the plaintext's own case for a defined type")
            writer.u8(type)
            writer.raw(body)
        }
        precondition(writer.bytes.count <= WireBounds.maxPlaintextLength, "a plaintext is at most 65519 bytes")
        return writer.bytes
    }

    /// Parses one plaintext. "An empty plaintext, or a PING, PONG or BYE whose body does not
    /// parse exactly, is a protocol error: BYE 2 and close." (PROTOCOL.md 5) Those throw; every
    /// other byte string is a valid plaintext.
    public static func parse(_ bytes: some Collection<UInt8>) throws(WireError) -> Plaintext {
        try parse(Array(bytes))
    }

    /// `parse` for an array, taking it: a MESSAGE's envelope keeps the array's storage, its bytes
    /// moved down over the type byte, rather than a copy of its own (every envelope a link
    /// receives comes this way). A caller that passes its last use (`consume`) spares the copy.
    public static func parse(_ bytes: consuming [UInt8]) throws(WireError) -> Plaintext {
        guard let type = bytes.first else { throw .emptyPlaintext }
        if type == PlaintextType.message {
            bytes.removeFirst()
            return .message(envelope: bytes)
        }
        var reader = ByteReader(bytes)
        _ = try reader.u8()
        let result: Plaintext
        // `PlaintextType.message` is taken above.
        switch type {
        case PlaintextType.ping:
            result = .ping(token: try reader.u64())
        case PlaintextType.pong:
            result = .pong(token: try reader.u64())
        case PlaintextType.bye:
            let reason = ByeReason(wireValue: try reader.u8())
            let text = try reader.str()
            guard WireBounds.byeTextBytes.contains(text.utf8.count) else { throw .lengthOutOfRange }
            result = .bye(reason: reason, text: text)
        default:
            result = .unknown(type: type, body: reader.rest())
        }
        try reader.expectEnd()
        return result
    }
}
