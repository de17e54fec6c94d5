import MeshCrypto
import MeshWire
import Testing

/// The file plaintexts of docs/file-transfer.md: golden bytes, round trips, every rejection.
struct FileMessagesTests {
    /// An id whose bytes are 00 01 02 ... 0F: easy to read in golden bytes.
    static let id = FileTransferID(Array(0..<16))
    static let idBytes: [UInt8] = Array(0..<16)
    static let hash = [UInt8](repeating: 0xAB, count: 32)

    /// Parses a whole plaintext (type byte first), as a node does after `Plaintext.parse`.
    func parse(_ bytes: [UInt8]) throws(WireError) -> FileMessage {
        try FileMessage.parse(type: bytes[0], body: bytes.dropFirst())
    }

    @Test func boundsFillOnePlaintext() {
        #expect(FileBounds.chunkHeaderByteCount == 25)
        #expect(FileBounds.maxChunkDataByteCount == 65494)
        #expect(FileBounds.chunkHeaderByteCount + FileBounds.maxChunkDataByteCount == WireBounds.maxPlaintextLength)
        #expect((0x20...0x25).allSatisfy { PlaintextType.fileRange.contains($0) && FileMessageType.isKnown($0) })
        #expect(!FileMessageType.isKnown(0x26) && !FileMessageType.isKnown(0x1F))
        #expect(Self.id.hex == "000102030405060708090a0b0c0d0e0f")
    }

    @Test func goldenOffer() throws {
        let message = FileMessage.offer(FileOffer(id: Self.id, name: "a.txt", size: 0x0102, hash: Self.hash))
        let golden: [UInt8] = [0x20] + Self.idBytes + [0x00, 0x05] + Array("a.txt".utf8)
            + [0, 0, 0, 0, 0, 0, 0x01, 0x02] + Self.hash
        #expect(message.encoded() == golden)
        #expect(try parse(golden) == message)
    }

    @Test func goldenAcceptChunkRefuseCancelReceived() throws {
        let cases: [(FileMessage, [UInt8])] = [
            (.accept(id: Self.id, offset: 7), [0x21] + Self.idBytes + [0, 0, 0, 0, 0, 0, 0, 7]),
            (.chunk(id: Self.id, offset: 0x10000, data: [9, 8, 7]), [0x22] + Self.idBytes + [0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7]),
            (.refuse(id: Self.id, reason: .tooLarge), [0x23] + Self.idBytes + [2]),
            (.cancel(id: Self.id, reason: .hashMismatch), [0x24] + Self.idBytes + [5]),
            (.received(id: Self.id), [0x25] + Self.idBytes),
        ]
        for (message, golden) in cases {
            #expect(message.encoded() == golden)
            #expect(try parse(golden) == message)
            #expect(message.id == Self.id)
        }
        #expect(FileMessage.chunkHeader(id: Self.id, offset: 0x10000) == Array(cases[1].1.prefix(25)))
    }

    @Test func aFullChunkFillsTheLargestPlaintext() throws {
        let data = ArraySlice<UInt8>(repeating: 0x5A, count: FileBounds.maxChunkDataByteCount)
        let bytes = FileMessage.chunk(id: Self.id, offset: 0, data: data).encoded()
        #expect(bytes.count == WireBounds.maxPlaintextLength)
        #expect(try parse(bytes) == .chunk(id: Self.id, offset: 0, data: data))
    }

    @Test func unknownStopReasonsReadAsUnspecified() throws {
        #expect(try parse([0x23] + Self.idBytes + [0xEE]) == .refuse(id: Self.id, reason: .unspecified))
        #expect(FileStopReason(wireValue: 9) == .unspecified)
    }

    @Test func rejections() {
        let offerHead: [UInt8] = [0x20] + Self.idBytes
        let size: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 1]
        let rejected: [([UInt8], WireError)] = [
            ([0x21] + Self.idBytes.prefix(15), .truncated),                          // short id
            ([0x21] + Self.idBytes + [0, 0, 0], .truncated),                         // short offset
            ([0x21] + Self.idBytes + [0, 0, 0, 0, 0, 0, 0, 1, 0], .trailingBytes),   // trailing byte
            ([0x22] + Self.idBytes + [0, 0, 0, 0, 0, 0, 0, 0], .lengthOutOfRange),    // empty chunk
            ([0x22] + Self.idBytes + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1], .invalidField), // end past 2^64
            (offerHead + [0, 0] + size + Self.hash, .lengthOutOfRange),             // empty name
            (offerHead + [0x01, 0x00] + [UInt8](repeating: 0x61, count: 256) + size + Self.hash, .lengthOutOfRange), // 256-byte name
            (offerHead + [0, 1, 0xFF] + size + Self.hash, .invalidUTF8),
            (offerHead + [0, 1, 0x61] + size + Self.hash.prefix(31), .truncated),     // short hash
            (offerHead + [0, 1, 0x61] + size + Self.hash + [0], .trailingBytes),
            ([0x23] + Self.idBytes, .truncated),                                     // refuse without reason
            ([0x25] + Self.idBytes + [0], .trailingBytes),
        ]
        for (bytes, error) in rejected {
            #expect(throws: error, "\(bytes.prefix(20))") { try parse(bytes) }
        }
    }

    @Test func a255ByteNameIsTheLongestOffered() throws {
        let name = String(repeating: "n", count: 255)
        let offer = FileMessage.offer(FileOffer(id: Self.id, name: name, size: 1, hash: Self.hash))
        #expect(try parse(offer.encoded()) == offer)
    }
}

/// Mutated file messages into the parser: nothing traps, and whatever parses re-encodes exactly.
struct FileMessagesFuzzTests {
    @Test func mutatedMessagesNeverTrapAndReencodeExactly() {
        let id = FileTransferID(Array(0..<16))
        let seeds: [[UInt8]] = [
            FileMessage.offer(FileOffer(id: id, name: "x.txt", size: 10, hash: [UInt8](repeating: 1, count: 32))).encoded(),
            FileMessage.accept(id: id, offset: 3).encoded(),
            FileMessage.chunk(id: id, offset: 3, data: [1, 2, 3]).encoded(),
            FileMessage.refuse(id: id, reason: .busy).encoded(),
            FileMessage.cancel(id: id, reason: .cancelled).encoded(),
            FileMessage.received(id: id).encoded(),
        ]
        var rng = XorShift(seed: 0x5EED_F11E)
        for _ in 0..<4000 {
            var bytes = seeds[rng.below(seeds.count)]
            for _ in 0...rng.below(3) {
                switch rng.below(4) {
                case 0 where bytes.count > 1: bytes[1 + rng.below(bytes.count - 1)] = rng.byte()
                case 1 where bytes.count > 1: bytes.removeLast(1 + rng.below(bytes.count - 1))
                case 2: bytes.insert(rng.byte(), at: 1 + rng.below(bytes.count))
                default: bytes += rng.bytes(rng.below(4))
                }
            }
            guard FileMessageType.isKnown(bytes[0]),
                  let message = try? FileMessage.parse(type: bytes[0], body: bytes.dropFirst()) else { continue }
            // REFUSE and CANCEL read an unknown reason as 0, so their re-encoding may differ there only.
            if case .refuse = message { continue }
            if case .cancel = message { continue }
            #expect(message.encoded() == bytes)
        }
    }
}
