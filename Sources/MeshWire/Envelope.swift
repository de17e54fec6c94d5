import MeshCrypto

/// An envelope's `kind` (PROTOCOL.md 6): "1 = room text, 2 = direct text sealed to one
/// recipient; other values reserved".
public enum EnvelopeKind: UInt8, Sendable, CaseIterable {
    /// Room text, readable by everyone in the mesh.
    case room = 1
    /// Direct text, `crypto_box_seal`ed to one recipient.
    case direct = 2
}

/// A message id: "BLAKE2b-256 (`crypto_generichash`, 32-byte output, no key) of the signed part"
/// (PROTOCOL.md 6). "the id is what identifies an envelope".
public struct MessageID: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The length of an id.
    public static let byteCount = 32

    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// Wraps 32 bytes; any other length is our own mistake.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount, "a message id is 32 bytes")
        self.bytes = bytes
    }

    /// The bytes in one call rather than one `combine` per byte, as the synthesised conformance
    /// does: ids are hashed for every copy a mesh delivers.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Parses 64 hexadecimal digits (either case); nil for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == Self.byteCount * 2 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }

    /// 64 lowercase hexadecimal digits, as the `--json` events print ids.
    public var hex: String { Hex.lowercase(bytes) }

    /// The hex form.
    public var description: String { hex }

    /// Byte-wise (memcmp) order, for stable sorting.
    public static func < (lhs: MessageID, rhs: MessageID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The envelope fields that carry a range beyond their wire type (PROTOCOL.md 6).
public enum EnvelopeField: Sendable, Equatable, CaseIterable {
    /// `seq`: "1, 2, 3, ..."; 0 is out of range.
    case seq
    /// `nickname`: a name of 1..32 bytes without Cc.
    case nickname
    /// `room`: kind 1 a room name (1..64 bytes without Cc); kind 2 empty.
    case room
    /// `recipient`: kind 1 all zeros; kind 2 a key that converts to X25519 and is not all zeros.
    case recipient
    /// `body`: kind 1 UTF-8 text of 1..16384 bytes; kind 2 49..16432 bytes.
    case body
}

/// Why an envelope is invalid. Every case means the same to a receiving node, "drops it,
/// keeping the connection" (PROTOCOL.md 6 rule 1); the cases are stable for logs and tests.
public enum EnvelopeError: Error, Equatable, Sendable {
    /// The bytes do not parse exactly: truncated, trailing bytes, a `str` that is not UTF-8.
    case malformed(WireError)
    /// `version` is not 1.
    case unsupportedVersion
    /// `kind` is a reserved value (not 1 or 2).
    case reservedKind
    /// A field parses but lies outside its range.
    case fieldOutOfRange(EnvelopeField)
}

/// A signed message (PROTOCOL.md 6). It can only be made by `parse` (bytes from a peer or the
/// store) or `signed` (a new message), both of which check every field range, so an `Envelope`
/// value is always well formed; whether its signature verifies is `hasValidSignature`.
public struct Envelope: Equatable, Sendable {
    /// The only envelope version: "version | u8 | 1".
    public static let currentVersion: UInt8 = 1

    /// Always 1.
    public let version: UInt8
    /// Room or direct.
    public let kind: EnvelopeKind
    /// The author's Ed25519 public key.
    public let author: SigningPublicKey
    /// The author's sequence number, from 1.
    public let seq: UInt64
    /// Milliseconds since the Unix epoch, on the author's clock.
    public let timestamp: UInt64
    /// The author's display name.
    public let nickname: String
    /// The room (kind 1); "" for direct messages.
    public let room: String
    /// The recipient (kind 2); nil for room messages, which carry 32 zero bytes.
    public let recipient: SigningPublicKey?
    /// Room text (UTF-8) or a sealed box.
    public let body: [UInt8]
    /// The author's detached Ed25519 signature of `signedBytes`.
    public let signature: [UInt8]
    /// "links crossed before this one: 0 when its author sends it". Not signed.
    public var hops: UInt8
    /// "The signed part is every field from `version` to `body`, as encoded on the wire": kept
    /// byte for byte from `parse`, so the id and signature never depend on re-encoding.
    public let signedBytes: [UInt8]
    /// BLAKE2b-256 of `signedBytes`, computed once.
    public let id: MessageID

    private init(fields: Fields, signedBytes: [UInt8], signature: [UInt8], hops: UInt8) {
        version = Self.currentVersion
        kind = fields.kind
        author = fields.author
        seq = fields.seq
        timestamp = fields.timestamp
        nickname = fields.nickname
        room = fields.room
        recipient = fields.recipient
        body = fields.body
        self.signature = signature
        self.hops = hops
        self.signedBytes = signedBytes
        id = MessageID(bytes: Blake2b256.hash(signedBytes))
    }

    /// Parses an envelope exactly and checks every field range of PROTOCOL.md 6. It does not
    /// check the signature (`hasValidSignature`), so a caller can count the two failures apart.
    public static func parse(_ bytes: some Collection<UInt8>) throws(EnvelopeError) -> Envelope {
        try parse(Array(bytes))
    }

    /// `parse` for an array, the form a link hands envelopes on in: specialised, where the generic
    /// one runs unspecialised when called from another module, and every copy a mesh delivers is parsed.
    public static func parse(_ bytes: [UInt8]) throws(EnvelopeError) -> Envelope {
        var reader = ByteReader(bytes)
        // Version, then kind, before anything else: other values may lay out what follows differently.
        let versionByte: UInt8
        do { versionByte = try reader.u8() } catch { throw .malformed(error) }
        guard versionByte == currentVersion else { throw .unsupportedVersion }
        let kindByte: UInt8
        do { kindByte = try reader.u8() } catch { throw .malformed(error) }
        guard let kind = EnvelopeKind(rawValue: kindByte) else { throw .reservedKind }

        // The keys are read as slices of `bytes`: the recipient of a room message is only compared with zeros.
        let authorBytes: ArraySlice<UInt8>, seq: UInt64, timestamp: UInt64, nickname: String, room: String
        let recipientBytes: ArraySlice<UInt8>, body: [UInt8], signedLength: Int, signature: [UInt8], hops: UInt8
        do {
            authorBytes = try reader.rawSharingStorage(ByteWriter.key32ByteCount)
            seq = try reader.u64()
            timestamp = try reader.u64()
            nickname = try reader.str()
            room = try reader.str()
            recipientBytes = try reader.rawSharingStorage(ByteWriter.key32ByteCount)
            body = try reader.blob()
            signedLength = reader.offset
            signature = try reader.sig64()
            hops = try reader.u8()
            try reader.expectEnd()
        } catch {
            throw .malformed(error)
        }

        let recipient: SigningPublicKey?
        switch kind {
        case .room:
            // "kind 1: 32 zero bytes"
            guard recipientBytes == Fields.zeroKey[...] else { throw .fieldOutOfRange(.recipient) }
            recipient = nil
        case .direct:
            guard let key = try? SigningPublicKey(rawRepresentation: Array(recipientBytes)) else {
                throw .fieldOutOfRange(.recipient)
            }
            recipient = key
        }
        guard let author = try? SigningPublicKey(rawRepresentation: Array(authorBytes)) else { throw .malformed(.invalidField) }
        let fields = Fields(kind: kind, author: author, seq: seq, timestamp: timestamp,
                            nickname: nickname, room: room, recipient: recipient, body: body)
        try fields.validate()
        return Envelope(fields: fields, signedBytes: reader.readPrefix(signedLength), signature: signature, hops: hops)
    }

    /// Whether `signature` is `author`'s Ed25519 signature of `signedBytes`
    /// (`crypto_sign_verify_detached` semantics).
    public var hasValidSignature: Bool {
        author.isValidSignature(signature, for: signedBytes)
    }

    /// A new envelope signed by `author`, with hops 0, after the same range checks as `parse`.
    /// `recipient` is nil for a room message; `room` is "" for a direct one; a direct `body` is
    /// already the sealed box.
    public static func signed(
        kind: EnvelopeKind, by author: SigningPrivateKey, seq: UInt64, timestamp: UInt64,
        nickname: String, room: String, recipient: SigningPublicKey?, body: [UInt8]
    ) throws(EnvelopeError) -> Envelope {
        let fields = Fields(kind: kind, author: author.publicKey, seq: seq, timestamp: timestamp,
                            nickname: nickname, room: room, recipient: recipient, body: body)
        switch (kind, recipient) {
        case (.room, nil), (.direct, .some): break
        case (.room, .some), (.direct, nil): throw .fieldOutOfRange(.recipient)
        }
        try fields.validate()
        let signedBytes = fields.encoded()
        return Envelope(fields: fields, signedBytes: signedBytes, signature: author.signature(for: signedBytes), hops: 0)
    }

    /// The envelope on the wire: the signed part, the signature, hops.
    public func encoded() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: encodedByteCount) { buffer, count in
            encode(into: UnsafeMutableRawBufferPointer(buffer))
            count = encodedByteCount
        }
    }

    /// The length of `encoded()`.
    public var encodedByteCount: Int { signedBytes.count + ByteWriter.sig64ByteCount + 1 }

    /// Writes `encoded()` to the first `encodedByteCount` bytes of `output`, without an array of
    /// its own: a link writes each forward straight into its outgoing buffer.
    public func encode(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= encodedByteCount, "the output holds the envelope")
        precondition(signature.count == ByteWriter.sig64ByteCount, "a sig64 is 64 bytes")
        signedBytes.withUnsafeBytes { output.copyMemory(from: $0) }
        let afterSigned = output.baseAddress! + signedBytes.count
        signature.withUnsafeBytes { UnsafeMutableRawBufferPointer(start: afterSigned, count: $0.count).copyMemory(from: $0) }
        output[encodedByteCount - 1] = hops
    }

    /// The same envelope with another `hops`; the id and signature do not change.
    public func withHops(_ hops: UInt8) -> Envelope {
        var copy = self
        copy.hops = hops
        return copy
    }
}

extension Envelope {
    /// The fields from `kind` to `body`, with the range rules both `parse` and `signed` apply.
    private struct Fields {
        var kind: EnvelopeKind
        var author: SigningPublicKey
        var seq: UInt64
        var timestamp: UInt64
        var nickname: String
        var room: String
        var recipient: SigningPublicKey?
        var body: [UInt8]

        static let zeroKey = [UInt8](repeating: 0, count: ByteWriter.key32ByteCount)

        /// The ranges of PROTOCOL.md 6 that a wire type alone does not enforce. `recipient` is
        /// already nil exactly for kind 1.
        func validate() throws(EnvelopeError) {
            // "the author's sequence number: 1, 2, 3, ..."
            guard seq >= 1 else { throw .fieldOutOfRange(.seq) }
            // "nickname | name"
            guard Names.isValidNickname(nickname) else { throw .fieldOutOfRange(.nickname) }
            switch kind {
            case .room:
                // "room | str | kind 1: a room name"; "body | blob | kind 1: UTF-8 text, 1..16384 bytes"
                guard Names.isValidRoom(room) else { throw .fieldOutOfRange(.room) }
                guard WireBounds.roomBodyBytes.contains(body.count),
                      body.withUnsafeBufferPointer(String.init(validUTF8:)) != nil
                else { throw .fieldOutOfRange(.body) }
            case .direct:
                // "kind 2: empty"
                guard room.isEmpty else { throw .fieldOutOfRange(.room) }
                // "kind 2: the recipient's Ed25519 public key, one that converts to X25519 and is not all zeros"
                guard let recipient, recipient.rawRepresentation != Self.zeroKey,
                      (try? recipient.keyAgreementKey()) != nil
                else { throw .fieldOutOfRange(.recipient) }
                // "kind 2: `crypto_box_seal` of UTF-8 text ..., 49..16432 bytes"
                guard WireBounds.directBodyBytes.contains(body.count) else { throw .fieldOutOfRange(.body) }
            }
        }

        /// The signed part, as encoded on the wire.
        func encoded() -> [UInt8] {
            var writer = ByteWriter()
            writer.u8(Envelope.currentVersion)
            writer.u8(kind.rawValue)
            writer.key32(author.rawRepresentation)
            writer.u64(seq)
            writer.u64(timestamp)
            writer.str(nickname)
            writer.str(room)
            writer.key32(recipient?.rawRepresentation ?? Self.zeroKey)
            writer.blob(body)
            return writer.bytes
        }
    }
}
