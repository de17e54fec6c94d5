import MeshCrypto
import MeshWire
import Testing

struct EnvelopeTests {
    // MARK: Golden bytes

    /// A room envelope written out byte by byte from the table in PROTOCOL.md 6. The signature and
    /// id were computed outside this code base (Python's `cryptography` Ed25519 and `hashlib.blake2b`
    /// with digest_size=32) over the signed part, with the RFC 8032 TEST 1 key.
    static let goldenSignedPart: [UInt8] =
        [0x01]  // version
        + [0x01]  // kind: room
        + FixedKeys.publicBytes  // author
        + [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]  // seq 1
        + [0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00]  // timestamp 1_700_000_000_000 ms
        + [0x00, 0x03, 0x61, 0x6E, 0x6E]  // nickname "ann"
        + [0x00, 0x07, 0x67, 0x65, 0x6E, 0x65, 0x72, 0x61, 0x6C]  // room "general"
        + [UInt8](repeating: 0, count: 32)  // recipient: 32 zero bytes for kind 1
        + [0x00, 0x00, 0x00, 0x02, 0x68, 0x69]  // body "hi"
    static let goldenSignature = hexBytes(
        "85e33a31f37c7e7d05626aa036992ca1fb44eaf3a5d858214d52f0af91a7f610"
        + "c1aef4c27e44be7635e8d6fed9e420a48a204f377b82d143d73abfff5a651909")
    static let goldenID = "314f879ffc6191fcc43d087db3fb86063bce1649aae27835c3354108ac6b5820"
    static let goldenEnvelope = goldenSignedPart + goldenSignature + [0x03]  // hops 3

    @Test func goldenEnvelopeParses() throws {
        #expect(Self.goldenSignedPart.count == 102)
        let envelope = try Envelope.parse(Self.goldenEnvelope)
        #expect(envelope.version == 1)
        #expect(envelope.kind == .room)
        #expect(envelope.author == FixedKeys.author.publicKey)
        #expect(envelope.seq == 1)
        #expect(envelope.timestamp == 1_700_000_000_000)
        #expect(envelope.nickname == "ann")
        #expect(envelope.room == "general")
        #expect(envelope.recipient == nil)
        #expect(envelope.body == Array("hi".utf8))
        #expect(envelope.signature == Self.goldenSignature)
        #expect(envelope.hops == 3)
        #expect(envelope.signedBytes == Self.goldenSignedPart)
        #expect(envelope.id.hex == Self.goldenID)
        #expect(envelope.hasValidSignature)
        #expect(envelope.encoded() == Self.goldenEnvelope)
    }

    @Test func signingReproducesTheGoldenBytes() throws {
        let envelope = try Envelope.signed(
            kind: .room, by: FixedKeys.author, seq: 1, timestamp: 1_700_000_000_000,
            nickname: "ann", room: "general", recipient: nil, body: Array("hi".utf8))
        #expect(envelope.hops == 0)
        #expect(envelope.encoded() == Self.goldenSignedPart + Self.goldenSignature + [0x00])
        #expect(envelope.withHops(3).encoded() == Self.goldenEnvelope)
        #expect(envelope.id.hex == Self.goldenID)
    }

    @Test func idIsBLAKE2b256OfTheSignedPart() throws {
        let envelope = try Envelope.parse(RawEnvelope(body: Array("another body".utf8)).bytes)
        #expect(envelope.id.bytes == Blake2b256.hash(envelope.signedBytes))
        #expect(envelope.id == MessageID(bytes: Blake2b256.hash(envelope.encoded().dropLast(65))))
    }

    // MARK: Round trips

    @Test func roomRoundTrip() throws {
        let author = SigningPrivateKey()
        let envelope = try Envelope.signed(
            kind: .room, by: author, seq: 7, timestamp: .max, nickname: "Zoë", room: "café ☕︎",
            recipient: nil, body: Array("bonjour\n\ttout le monde".utf8))
        let parsed = try Envelope.parse(envelope.encoded())
        #expect(parsed == envelope)
        #expect(parsed.hasValidSignature)
        #expect(parsed.author == author.publicKey)
    }

    @Test func directRoundTripOpensForTheRecipient() throws {
        let author = SigningPrivateKey()
        let box = SealedBox.seal(Array("psst".utf8), to: try recipientKey.publicKey.keyAgreementKey())
        let envelope = try Envelope.signed(
            kind: .direct, by: author, seq: 1, timestamp: 5, nickname: "ann", room: "",
            recipient: recipientKey.publicKey, body: box)
        let parsed = try Envelope.parse(envelope.encoded())
        #expect(parsed == envelope)
        #expect(parsed.kind == .direct)
        #expect(parsed.room == "")
        #expect(parsed.recipient == recipientKey.publicKey)
        #expect(parsed.hasValidSignature)
        #expect(try SealedBox.open(parsed.body, with: recipientKey.keyAgreementKey()) == Array("psst".utf8))
    }

    @Test func hopsAreNotSigned() throws {
        let envelope = try Envelope.parse(RawEnvelope().bytes)
        for hops: UInt8 in [1, 8, 254, 255] {
            let moved = envelope.withHops(hops)
            #expect(moved.hops == hops)
            #expect(moved.id == envelope.id)
            #expect(moved.hasValidSignature)
            #expect(try Envelope.parse(moved.encoded()) == moved)
        }
    }

    // MARK: Signature and id

    @Test func flippedSignedByteBreaksSignatureAndChangesID() throws {
        let bytes = RawEnvelope(body: Array("the quick brown fox".utf8)).bytes
        let original = try Envelope.parse(bytes)
        #expect(original.hasValidSignature)
        let signedCount = original.signedBytes.count
        var parsedFlips = 0
        for index in 0..<signedCount {
            var flipped = bytes
            flipped[index] ^= 0x01
            // Flips that break a field's range are rejected before any signature check; every
            // flip that still parses must fail the signature and have another id.
            guard let envelope = try? Envelope.parse(flipped) else { continue }
            parsedFlips += 1
            #expect(!envelope.hasValidSignature, "byte \(index)")
            #expect(envelope.id != original.id, "byte \(index)")
        }
        #expect(parsedFlips > 60)  // author, seq, timestamp, names and body bytes all parse when flipped
    }

    @Test func flippedSignatureByteKeepsIDButFails() throws {
        let bytes = RawEnvelope().bytes
        let original = try Envelope.parse(bytes)
        for index in original.signedBytes.count..<(original.signedBytes.count + 64) {
            var flipped = bytes
            flipped[index] ^= 0x80
            let envelope = try Envelope.parse(flipped)
            #expect(!envelope.hasValidSignature)
            #expect(envelope.id == original.id)
        }
    }

    @Test func signatureByAnotherKeyFails() throws {
        var raw = RawEnvelope()
        raw.author = SigningPrivateKey().publicKey.rawRepresentation
        let envelope = try Envelope.parse(raw.bytes)
        #expect(!envelope.hasValidSignature)
    }

    @Test func encodeIntoWritesTheEncodedBytesAndNothingElse() throws {
        for bytes in [Self.goldenEnvelope, RawEnvelope.direct(to: recipientKey.publicKey).bytes] {
            let envelope = try Envelope.parse(bytes)
            #expect(envelope.encodedByteCount == bytes.count)
            #expect(envelope.encoded() == bytes)
            var output = [UInt8](repeating: 0xEE, count: bytes.count + 2)
            output.withUnsafeMutableBytes { envelope.encode(into: UnsafeMutableRawBufferPointer(rebasing: $0[1...])) }
            #expect(output == [0xEE] + bytes + [0xEE])
        }
    }

    // MARK: Rejections

    @Test func everyTruncationPoint() {
        for bytes in [RawEnvelope().bytes, RawEnvelope.direct(to: recipientKey.publicKey).bytes] {
            for count in 0..<bytes.count {
                #expect(throws: EnvelopeError.malformed(.truncated), "prefix \(count)") {
                    try Envelope.parse(bytes.prefix(count))
                }
            }
        }
    }

    @Test func trailingByte() {
        #expect(throws: EnvelopeError.malformed(.trailingBytes)) { try Envelope.parse(RawEnvelope().bytes + [0]) }
        #expect(throws: EnvelopeError.malformed(.trailingBytes)) { try Envelope.parse(Self.goldenEnvelope + [0, 0]) }
    }

    @Test func versionAndKind() {
        for version: UInt8 in [0, 2, 0xFF] {
            #expect(throws: EnvelopeError.unsupportedVersion) { try Envelope.parse(RawEnvelope(version: version).bytes) }
        }
        for kind: UInt8 in [0, 3, 0x7F, 0xFF] {
            #expect(throws: EnvelopeError.reservedKind) { try Envelope.parse(RawEnvelope(kind: kind).bytes) }
        }
        // Version is checked before anything else is read.
        #expect(throws: EnvelopeError.unsupportedVersion) { try Envelope.parse([2]) }
        #expect(throws: EnvelopeError.reservedKind) { try Envelope.parse([1, 3]) }
    }

    @Test func overLongLengths() {
        #expect(throws: EnvelopeError.malformed(.truncated)) { try Envelope.parse(RawEnvelope(nicknameLength: 0xFFFF).bytes) }
        #expect(throws: EnvelopeError.malformed(.truncated)) { try Envelope.parse(RawEnvelope(roomLength: 0xFFFF).bytes) }
        #expect(throws: EnvelopeError.malformed(.truncated)) { try Envelope.parse(RawEnvelope(bodyLength: 0xFFFF_FFFF).bytes) }
        #expect(throws: EnvelopeError.malformed(.truncated)) { try Envelope.parse(RawEnvelope(bodyLength: 0x8000_0000).bytes) }
        // A body length one past the real body swallows the signature and hops: too few bytes remain.
        #expect(throws: EnvelopeError.malformed(.truncated)) { try Envelope.parse(RawEnvelope(bodyLength: 3).bytes) }
    }

    @Test func badUTF8() {
        #expect(throws: EnvelopeError.malformed(.invalidUTF8)) { try Envelope.parse(RawEnvelope(nickname: [0x61, 0xFF]).bytes) }
        #expect(throws: EnvelopeError.malformed(.invalidUTF8)) { try Envelope.parse(RawEnvelope(room: [0xC3]).bytes) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try Envelope.parse(RawEnvelope(body: [0x68, 0xFF]).bytes) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try Envelope.parse(RawEnvelope(body: [0xED, 0xA0, 0x80]).bytes) }
    }

    @Test func nicknameRange() throws {
        #expect(try Envelope.parse(RawEnvelope(nickname: [UInt8](repeating: 0x61, count: 32)).bytes).nickname.utf8.count == 32)
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) {
            try Envelope.parse(RawEnvelope(nickname: [UInt8](repeating: 0x61, count: 33)).bytes)
        }
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) { try Envelope.parse(RawEnvelope(nickname: []).bytes) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) { try Envelope.parse(RawEnvelope(nickname: [0x61, 0x1B]).bytes) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) { try Envelope.parse(RawEnvelope(nickname: [0x7F]).bytes) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) { try Envelope.parse(RawEnvelope(nickname: [0xC2, 0x9F]).bytes) }
    }

    @Test func roomRange() throws {
        #expect(try Envelope.parse(RawEnvelope(room: [UInt8](repeating: 0x72, count: 64)).bytes).room.utf8.count == 64)
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) {
            try Envelope.parse(RawEnvelope(room: [UInt8](repeating: 0x72, count: 65)).bytes)
        }
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) { try Envelope.parse(RawEnvelope(room: []).bytes) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) { try Envelope.parse(RawEnvelope(room: [0x72, 0x00]).bytes) }
        var direct = RawEnvelope.direct(to: recipientKey.publicKey)
        direct.room = Array("general".utf8)
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) { try Envelope.parse(direct.bytes) }
    }

    @Test func recipientRules() {
        // Room envelope with a non-zero recipient.
        var room = RawEnvelope()
        room.recipient = recipientKey.publicKey.rawRepresentation
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) { try Envelope.parse(room.bytes) }
        room.recipient = [UInt8](repeating: 0, count: 31) + [1]
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) { try Envelope.parse(room.bytes) }
        // Direct envelope to all zeros, or to a key that does not convert to X25519.
        var direct = RawEnvelope.direct(to: recipientKey.publicKey)
        direct.recipient = [UInt8](repeating: 0, count: 32)
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) { try Envelope.parse(direct.bytes) }
        direct.recipient = unconvertibleKey
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) { try Envelope.parse(direct.bytes) }
        direct.recipient = [UInt8](repeating: 0xFF, count: 32)  // y not canonical / not on the curve
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) { try Envelope.parse(direct.bytes) }
    }

    @Test func roomBodyBounds() throws {
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try Envelope.parse(RawEnvelope(body: []).bytes) }
        #expect(try Envelope.parse(RawEnvelope(body: [0x61]).bytes).body == [0x61])
        let largest = [UInt8](repeating: 0x61, count: 16384)
        #expect(try Envelope.parse(RawEnvelope(body: largest).bytes).body == largest)
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try Envelope.parse(RawEnvelope(body: largest + [0x61]).bytes) }
    }

    @Test func directBodyBounds() throws {
        let to = recipientKey.publicKey
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try Envelope.parse(RawEnvelope.direct(to: to, bodyCount: 0).bytes) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try Envelope.parse(RawEnvelope.direct(to: to, bodyCount: 48).bytes) }
        #expect(try Envelope.parse(RawEnvelope.direct(to: to, bodyCount: 49).bytes).body.count == 49)
        #expect(try Envelope.parse(RawEnvelope.direct(to: to, bodyCount: 16432).bytes).body.count == 16432)
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try Envelope.parse(RawEnvelope.direct(to: to, bodyCount: 16433).bytes) }
        // A direct body is opaque: it need not be UTF-8.
        #expect(try Envelope.parse(RawEnvelope.direct(to: to, bodyCount: 60).bytes).body.allSatisfy { $0 == 0xAB })
    }

    @Test func seqZeroIsOutOfRange() throws {
        #expect(throws: EnvelopeError.fieldOutOfRange(.seq)) { try Envelope.parse(RawEnvelope(seq: 0).bytes) }
        #expect(try Envelope.parse(RawEnvelope(seq: .max).bytes).seq == .max)
    }

    @Test func largestEnvelope() throws {
        var raw = RawEnvelope.direct(to: recipientKey.publicKey, bodyCount: 16432)
        raw.nickname = [UInt8](repeating: 0x61, count: 32)
        // Room is empty for direct; the bound also allows a 64-byte room, counted separately.
        let bytes = raw.bytes
        #expect(bytes.count + 64 == WireBounds.maxEnvelopeLength)
        #expect(try Envelope.parse(bytes).encoded() == bytes)
    }

    // MARK: Signing checks the same ranges

    @Test func signedValidatesRanges() {
        let key = FixedKeys.author
        let body = Array("hi".utf8)
        let to = recipientKey.publicKey
        let box = [UInt8](repeating: 1, count: 49)
        func room(seq: UInt64 = 1, nickname: String = "ann", room: String = "general",
                  recipient: SigningPublicKey? = nil, body: [UInt8] = body) throws(EnvelopeError) {
            _ = try Envelope.signed(kind: .room, by: key, seq: seq, timestamp: 1, nickname: nickname, room: room,
                                    recipient: recipient, body: body)
        }
        func direct(room: String = "", recipient: SigningPublicKey? = to, body: [UInt8] = box) throws(EnvelopeError) {
            _ = try Envelope.signed(kind: .direct, by: key, seq: 1, timestamp: 1, nickname: "ann", room: room,
                                    recipient: recipient, body: body)
        }
        #expect(throws: Never.self) { try room() }
        #expect(throws: Never.self) { try direct() }
        #expect(throws: EnvelopeError.fieldOutOfRange(.seq)) { try room(seq: 0) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) { try room(nickname: "") }
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) { try room(nickname: String(repeating: "n", count: 33)) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.nickname)) { try room(nickname: "a\u{7}") }
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) { try room(room: "") }
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) { try room(room: String(repeating: "r", count: 65)) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) { try room(room: "a\nb") }
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) { try room(recipient: to) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try room(body: []) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try room(body: [0xFF]) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try room(body: [UInt8](repeating: 0x61, count: 16385)) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.room)) { try direct(room: "general") }
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) { try direct(recipient: nil) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) {
            try direct(recipient: try! SigningPublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32)))
        }
        #expect(throws: EnvelopeError.fieldOutOfRange(.recipient)) {
            try direct(recipient: try! SigningPublicKey(rawRepresentation: unconvertibleKey))
        }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try direct(body: [UInt8](repeating: 1, count: 48)) }
        #expect(throws: EnvelopeError.fieldOutOfRange(.body)) { try direct(body: [UInt8](repeating: 1, count: 16433)) }
    }

    // MARK: Message ids

    @Test func messageIDHex() throws {
        let id = MessageID(bytes: Array(0..<32))
        #expect(id.hex == "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        #expect(id.description == id.hex)
        #expect(MessageID(hex: id.hex) == id)
        #expect(MessageID(hex: id.hex.uppercased()) == id)
        #expect(MessageID(hex: String(id.hex.dropLast())) == nil)
        #expect(MessageID(hex: id.hex + "0") == nil)
        #expect(MessageID(hex: String(id.hex.dropLast()) + "g") == nil)
        #expect(MessageID(hex: "") == nil)
        #expect(MessageID(hex: String(repeating: "é", count: 32)) == nil)
        #expect(MessageID(bytes: [0] + [UInt8](repeating: 0xFF, count: 31)) < MessageID(bytes: [1] + [UInt8](repeating: 0, count: 31)))
    }
}
