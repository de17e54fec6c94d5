import MeshCrypto
import MeshWire
import Testing

/// The sync plaintexts of docs/sync-protocol.md: golden bytes, round trips, every rejection.
struct SyncMessagesTests {
    /// Authors whose raw bytes are 32 × 0x11, 32 × 0x22, ...: easy to read in golden bytes.
    static func key(_ byte: UInt8) -> SigningPublicKey {
        try! SigningPublicKey(rawRepresentation: [UInt8](repeating: byte, count: 32))
    }

    static let a = key(0x11)
    static let b = key(0x22)

    /// Parses a whole plaintext (type byte first), as a node does after `Plaintext.parse`.
    func parse(_ bytes: [UInt8]) throws(WireError) -> SyncMessage {
        try SyncMessage.parse(type: bytes[0], body: bytes.dropFirst())
    }

    @Test func boundsKeepEveryFrameInOnePlaintext() {
        #expect(SyncBounds.maxFrontierFrameLength == 49156)
        #expect(SyncBounds.maxRequestLength == 49159)
        #expect(SyncBounds.maxFrontierFrameLength <= WireBounds.maxPlaintextLength)
        #expect(SyncBounds.maxRequestLength <= WireBounds.maxPlaintextLength)
        #expect(SyncMessageType.frontier == 0x11 && SyncMessageType.request == 0x12 && SyncMessageType.done == 0x13)
        #expect(PlaintextType.syncRange.contains(SyncMessageType.frontier))
        #expect(PlaintextType.syncRange.contains(SyncMessageType.done))
        #expect(SyncMessageType.isKnown(0x12) && !SyncMessageType.isKnown(0x14))
    }

    @Test func goldenFrontier() throws {
        let message = SyncMessage.frontier(last: true, entries: [
            FrontierEntry(author: Self.a, contiguous: 5, highest: 7),
        ])
        let golden: [UInt8] = [0x11, 0x01, 0x00, 0x01] + [UInt8](repeating: 0x11, count: 32)
            + [0, 0, 0, 0, 0, 0, 0, 5] + [0, 0, 0, 0, 0, 0, 0, 7]
        #expect(message.encoded() == golden)
        #expect(try parse(golden) == message)
        // Not last, and the empty last frame.
        #expect(SyncMessage.frontier(last: false, entries: [FrontierEntry(author: Self.a, contiguous: 0, highest: 0)])
            .encoded().prefix(4) == [0x11, 0x00, 0x00, 0x01])
        #expect(SyncMessage.frontier(last: true, entries: []).encoded() == [0x11, 0x01, 0x00, 0x00])
    }

    @Test func goldenRequest() throws {
        let message = SyncMessage.request(id: 0x0102_0304, ranges: [
            SyncRange(author: Self.a, after: 0, through: 3),
            SyncRange(author: Self.a, after: 4, through: 9),
            SyncRange(author: Self.b, after: 1, through: 2),
        ])
        let golden: [UInt8] = [0x12, 0x01, 0x02, 0x03, 0x04, 0x00, 0x03]
            + [UInt8](repeating: 0x11, count: 32) + [0, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 3]
            + [UInt8](repeating: 0x11, count: 32) + [0, 0, 0, 0, 0, 0, 0, 4] + [0, 0, 0, 0, 0, 0, 0, 9]
            + [UInt8](repeating: 0x22, count: 32) + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 2]
        #expect(message.encoded() == golden)
        #expect(try parse(golden) == message)
    }

    @Test func goldenDone() throws {
        let golden: [UInt8] = [0x13, 0xFF, 0x00, 0x00, 0x01]
        #expect(SyncMessage.done(id: 0xFF00_0001).encoded() == golden)
        #expect(try parse(golden) == .done(id: 0xFF00_0001))
    }

    @Test func roundTrips() throws {
        let many = (1...200).map { FrontierEntry(author: Self.key(UInt8($0)), contiguous: UInt64($0), highest: UInt64($0) * 3) }
        let all: [SyncMessage] = [
            .frontier(last: true, entries: []),
            .frontier(last: false, entries: many),
            .frontier(last: true, entries: [FrontierEntry(author: Self.b, contiguous: .max, highest: .max)]),
            .request(id: 0, ranges: [SyncRange(author: Self.a, after: 0, through: .max)]),
            .request(id: .max, ranges: [SyncRange(author: Self.a, after: 1, through: 2), SyncRange(author: Self.a, after: 2, through: 3)]),
            .done(id: 0), .done(id: .max),
        ]
        for message in all {
            #expect(try parse(message.encoded()) == message)
            // A node sees the same bytes first as an unknown plaintext of the sync range.
            #expect(try Plaintext.parse(message.encoded()) == .unknown(type: message.encoded()[0], body: Array(message.encoded().dropFirst())))
        }
    }

    @Test func largestFramesFit() throws {
        let entries = (0..<SyncBounds.maxFrontierEntriesPerFrame).map { index in
            FrontierEntry(author: Self.key(index: index), contiguous: 1, highest: 2)
        }
        let frontier = SyncMessage.frontier(last: true, entries: entries).encoded()
        #expect(frontier.count == SyncBounds.maxFrontierFrameLength)
        #expect(try parse(frontier) == .frontier(last: true, entries: entries))
        let ranges = (0..<SyncBounds.maxRequestRanges).map { SyncRange(author: Self.a, after: UInt64($0), through: UInt64($0) + 1) }
        let request = SyncMessage.request(id: 7, ranges: ranges).encoded()
        #expect(request.count == SyncBounds.maxRequestLength)
        #expect(try parse(request) == .request(id: 7, ranges: ranges))
    }

    /// A distinct key per index, in ascending byte order.
    static func key(index: Int) -> SigningPublicKey {
        var raw = [UInt8](repeating: 0, count: 32)
        raw[0] = UInt8(index >> 8)
        raw[1] = UInt8(index & 0xFF)
        return try! SigningPublicKey(rawRepresentation: raw)
    }

    // MARK: Rejections

    @Test func frontierRejections() throws {
        let entry = [UInt8](repeating: 0x11, count: 32) + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 2]
        let good: [UInt8] = [0x11, 0x01, 0x00, 0x01] + entry
        #expect(try parse(good) == .frontier(last: true, entries: [FrontierEntry(author: Self.a, contiguous: 1, highest: 2)]))

        // Short at every length, trailing bytes.
        for length in 1..<good.count {
            #expect(throws: WireError.truncated) { try parse(Array(good.prefix(length))) }
        }
        #expect(throws: WireError.trailingBytes) { try parse(good + [0]) }
        // Count 0 without the last flag.
        #expect(throws: WireError.lengthOutOfRange) { try parse([0x11, 0x00, 0x00, 0x00]) }
        // Unknown flag bits, alone or with the last flag.
        #expect(throws: WireError.invalidField) { try parse([0x11, 0x02, 0x00, 0x00]) }
        #expect(throws: WireError.invalidField) { try parse([0x11, 0x81, 0x00, 0x01] + entry) }
        // contiguous > highest.
        let inverted = [UInt8](repeating: 0x11, count: 32) + [0, 0, 0, 0, 0, 0, 0, 3] + [0, 0, 0, 0, 0, 0, 0, 2]
        #expect(throws: WireError.invalidField) { try parse([0x11, 0x01, 0x00, 0x01] + inverted) }
        // Count over the bound, even with the bytes present.
        let over = SyncBounds.maxFrontierEntriesPerFrame + 1
        let overBytes: [UInt8] = [0x11, 0x01, UInt8(over >> 8), UInt8(over & 0xFF)]
            + (0..<over).flatMap { Self.key(index: $0).rawRepresentation + [UInt8](repeating: 0, count: 16) }
        #expect(throws: WireError.lengthOutOfRange) { try parse(overBytes) }
        // A count that promises more entries than follow is refused before anything is reserved.
        #expect(throws: WireError.truncated) { try parse([0x11, 0x01, 0x04, 0x00] + entry) }
        // Authors repeated or descending within a frame.
        #expect(throws: WireError.invalidField) { try parse([0x11, 0x01, 0x00, 0x02] + entry + entry) }
        let lower = [UInt8](repeating: 0x01, count: 32) + [UInt8](repeating: 0, count: 16)
        #expect(throws: WireError.invalidField) { try parse([0x11, 0x01, 0x00, 0x02] + entry + lower) }
    }

    @Test func requestRejections() throws {
        func range(_ byte: UInt8, _ after: UInt8, _ through: UInt8) -> [UInt8] {
            [UInt8](repeating: byte, count: 32) + [0, 0, 0, 0, 0, 0, 0, after] + [0, 0, 0, 0, 0, 0, 0, through]
        }
        let head: [UInt8] = [0x12, 0, 0, 0, 9]
        let good = head + [0x00, 0x01] + range(0x11, 0, 5)
        #expect(try parse(good) == .request(id: 9, ranges: [SyncRange(author: Self.a, after: 0, through: 5)]))

        for length in 1..<good.count {
            #expect(throws: WireError.truncated) { try parse(Array(good.prefix(length))) }
        }
        #expect(throws: WireError.trailingBytes) { try parse(good + [0]) }
        // Count 0 and count over the bound.
        #expect(throws: WireError.lengthOutOfRange) { try parse(head + [0x00, 0x00]) }
        let over = SyncBounds.maxRequestRanges + 1
        #expect(throws: WireError.lengthOutOfRange) {
            try parse(head + [UInt8(over >> 8), UInt8(over & 0xFF)] + (0..<over).flatMap { _ in range(0x11, 0, 1) })
        }
        // after >= through.
        #expect(throws: WireError.invalidField) { try parse(head + [0x00, 0x01] + range(0x11, 5, 5)) }
        #expect(throws: WireError.invalidField) { try parse(head + [0x00, 0x01] + range(0x11, 6, 5)) }
        // Overlapping or out-of-order ranges.
        #expect(throws: WireError.invalidField) { try parse(head + [0x00, 0x02] + range(0x11, 0, 5) + range(0x11, 4, 8)) }
        #expect(throws: WireError.invalidField) { try parse(head + [0x00, 0x02] + range(0x22, 0, 5) + range(0x11, 0, 5)) }
        // Touching ranges and a later author are fine.
        #expect(throws: Never.self) { try parse(head + [0x00, 0x02] + range(0x11, 0, 5) + range(0x11, 5, 8)) }
        #expect(throws: Never.self) { try parse(head + [0x00, 0x02] + range(0x11, 4, 5) + range(0x22, 0, 1)) }
    }

    @Test func doneRejections() {
        #expect(throws: WireError.truncated) { try parse([0x13]) }
        #expect(throws: WireError.truncated) { try parse([0x13, 0, 0, 0]) }
        #expect(throws: WireError.trailingBytes) { try parse([0x13, 0, 0, 0, 1, 0]) }
    }

    @Test func fuzzedBodiesNeverCrash() {
        var random = XorShift(seed: 0x5_1C)
        for _ in 0..<3000 {
            let type = SyncMessageType.frontier + UInt8(random.below(3))
            let body = random.bytes(random.below(120))
            if let message = try? SyncMessage.parse(type: type, body: body) {
                #expect(message.encoded() == [type] + body)
            }
        }
    }

    // MARK: Frontier frames

    @Test func emptyFrontierIsOneLastFrame() {
        #expect(SyncMessage.frontierFrames([]) == [.frontier(last: true, entries: [])])
    }

    @Test func frontierSplitsAtTheBound() {
        let bound = SyncBounds.maxFrontierEntriesPerFrame
        for count in [1, bound - 1, bound, bound + 1, 2 * bound, 2 * bound + 5] {
            let entries = (0..<count).map { FrontierEntry(author: Self.key(index: $0), contiguous: 0, highest: UInt64($0)) }
            // Given shuffled, framed sorted.
            var generator = XorShiftGenerator(seed: UInt64(count))
            let frames = SyncMessage.frontierFrames(entries.shuffled(using: &generator))
            #expect(frames.count == (count + bound - 1) / bound)
            var joined: [FrontierEntry] = []
            for (index, frame) in frames.enumerated() {
                guard case .frontier(let last, let part) = frame else { Issue.record("not a frontier"); return }
                #expect(last == (index == frames.count - 1))
                #expect(part.count <= bound && !part.isEmpty)
                #expect(frame.encoded().count <= WireBounds.maxPlaintextLength)
                joined += part
            }
            #expect(joined == entries)
        }
    }
}

/// `XorShift` as a `RandomNumberGenerator`, for shuffles that replay.
struct XorShiftGenerator: RandomNumberGenerator {
    var inner: XorShift
    init(seed: UInt64) { inner = XorShift(seed: seed | 1) }
    mutating func next() -> UInt64 { inner.next() }
}
