import MeshCrypto

/// The plaintext types the project gives to sync (anti-entropy), inside PROTOCOL.md 5's
/// "0x11-0x1F | sync (anti-entropy) | defined by the project". docs/sync-protocol.md is the contract.
public enum SyncMessageType {
    /// SYNC_FRONTIER: one frame of the sender's per-author frontier.
    public static let frontier: UInt8 = 0x11
    /// SYNC_REQUEST: "send me your envelopes in these seq ranges".
    public static let request: UInt8 = 0x12
    /// SYNC_DONE: every envelope held for one request has been sent.
    public static let done: UInt8 = 0x13

    /// Whether `type` is one of the three sync types this code knows. Other types of the sync
    /// range are ignored like any unknown plaintext type (PROTOCOL.md 5).
    public static func isKnown(_ type: UInt8) -> Bool {
        type == frontier || type == request || type == done
    }
}

/// The limits of the sync messages, each with where its value comes from. Every count that comes
/// off the wire is checked against these before anything is allocated for it.
public enum SyncBounds {
    /// One frontier entry on the wire: `key32 author`, `u64 contiguous`, `u64 highest`.
    public static let frontierEntryByteCount = ByteWriter.key32ByteCount + 8 + 8
    /// One request range on the wire: `key32 author`, `u64 after`, `u64 through`.
    public static let requestRangeByteCount = ByteWriter.key32ByteCount + 8 + 8
    /// The most entries in one SYNC_FRONTIER frame. 1 type + 1 flags + 2 count + 1024 × 48 =
    /// 49156 bytes, well under the 65519-byte plaintext limit (PROTOCOL.md 5); a power of two so
    /// frame boundaries are easy to predict. A larger frontier is split over several frames.
    public static let maxFrontierEntriesPerFrame = 1024
    /// The most ranges in one SYNC_REQUEST: 1 type + 4 id + 2 count + 1024 × 48 = 49159 bytes.
    public static let maxRequestRanges = 1024
    /// The most requests a node may have outstanding (sent, DONE not yet received) on one link.
    /// A responder queues at most this many per link and treats more as a protocol error, which
    /// bounds what a peer can make it remember.
    public static let maxOutstandingRequests = 8

    /// The largest SYNC_FRONTIER plaintext, type byte included; under `WireBounds.maxPlaintextLength`.
    public static let maxFrontierFrameLength = 1 + 1 + 2 + maxFrontierEntriesPerFrame * frontierEntryByteCount
    /// The largest SYNC_REQUEST plaintext, type byte included; under `WireBounds.maxPlaintextLength`.
    public static let maxRequestLength = 1 + 4 + 2 + maxRequestRanges * requestRangeByteCount
}

/// What one node holds of one author's sequence, as SYNC_FRONTIER carries it.
public struct FrontierEntry: Equatable, Hashable, Sendable {
    /// The author.
    public var author: SigningPublicKey
    /// Every seq 1...contiguous is held (or was held and pruned).
    public var contiguous: UInt64
    /// The highest seq held (or pruned); never below `contiguous`.
    public var highest: UInt64

    /// An entry; `contiguous > highest` is our own mistake.
    public init(author: SigningPublicKey, contiguous: UInt64, highest: UInt64) {
        precondition(contiguous <= highest, "a frontier's contiguous seq is at most its highest")
        self.author = author
        self.contiguous = contiguous
        self.highest = highest
    }
}

/// One range of a SYNC_REQUEST: `author`'s envelopes with `after < seq <= through`.
public struct SyncRange: Equatable, Hashable, Sendable {
    /// The author.
    public var author: SigningPublicKey
    /// The range starts above this seq.
    public var after: UInt64
    /// The range ends at this seq, inclusive; always above `after`.
    public var through: UInt64

    /// A range; an empty one (`after >= through`) is our own mistake.
    public init(author: SigningPublicKey, after: UInt64, through: UInt64) {
        precondition(after < through, "a sync range holds at least one seq")
        self.author = author
        self.after = after
        self.through = through
    }
}

/// A sync plaintext (types 0x11-0x13). A body that does not parse exactly is a protocol error:
/// BYE 2 and close, as for PING, PONG and BYE (PROTOCOL.md 5).
public enum SyncMessage: Equatable, Sendable {
    /// SYNC_FRONTIER: entries in strictly ascending author order; `last` ends the frontier.
    case frontier(last: Bool, entries: [FrontierEntry])
    /// SYNC_REQUEST: ranges in strictly ascending (author, after) order, not overlapping.
    case request(id: UInt32, ranges: [SyncRange])
    /// SYNC_DONE: the answer to request `id` is complete.
    case done(id: UInt32)

    /// SYNC_FRONTIER flag bit 0: this frame ends the frontier.
    public static let lastFrameFlag: UInt8 = 0x01

    /// The plaintext bytes, type first. Encoding what a parser would refuse is our own mistake.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .frontier(let last, let entries):
            precondition(Self.isValidFrontier(last: last, entries: entries), "a frontier frame within its bounds")
            writer.u8(SyncMessageType.frontier)
            writer.u8(last ? Self.lastFrameFlag : 0)
            writer.u16(UInt16(entries.count))
            for entry in entries {
                writer.key32(entry.author.rawRepresentation)
                writer.u64(entry.contiguous)
                writer.u64(entry.highest)
            }
        case .request(let id, let ranges):
            precondition(Self.isValidRequest(ranges), "a request within its bounds, in order")
            writer.u8(SyncMessageType.request)
            writer.u32(id)
            writer.u16(UInt16(ranges.count))
            for range in ranges {
                writer.key32(range.author.rawRepresentation)
                writer.u64(range.after)
                writer.u64(range.through)
            }
        case .done(let id):
            writer.u8(SyncMessageType.done)
            writer.u32(id)
        }
        return writer.bytes
    }

    /// Parses the body of a plaintext of sync type `type` (the bytes after the type byte), exactly.
    /// A `type` outside the three known ones is the caller's mistake: unknown types are ignored.
    public static func parse(type: UInt8, body: some Collection<UInt8>) throws(WireError) -> SyncMessage {
        var reader = ByteReader(body)
        let message: SyncMessage
        switch type {
        case SyncMessageType.frontier:
            let flags = try reader.u8()
            // Unknown flag bits are refused, not ignored, so a later meaning can never be
            // silently misread by this version.
            guard flags & ~lastFrameFlag == 0 else { throw .invalidField }
            let last = flags & lastFrameFlag != 0
            let count = Int(try reader.u16())
            guard count <= SyncBounds.maxFrontierEntriesPerFrame, count > 0 || last else { throw .lengthOutOfRange }
            // The count is checked against the bytes left before anything is reserved for it.
            guard count * SyncBounds.frontierEntryByteCount <= reader.remainingCount else { throw .truncated }
            var entries: [FrontierEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let author = try key(&reader)
                let contiguous = try reader.u64()
                let highest = try reader.u64()
                guard contiguous <= highest else { throw .invalidField }
                if let previous = entries.last, !(previous.author < author) { throw .invalidField }
                entries.append(FrontierEntry(author: author, contiguous: contiguous, highest: highest))
            }
            message = .frontier(last: last, entries: entries)
        case SyncMessageType.request:
            let id = try reader.u32()
            let count = Int(try reader.u16())
            guard (1...SyncBounds.maxRequestRanges).contains(count) else { throw .lengthOutOfRange }
            guard count * SyncBounds.requestRangeByteCount <= reader.remainingCount else { throw .truncated }
            var ranges: [SyncRange] = []
            ranges.reserveCapacity(count)
            for _ in 0..<count {
                let author = try key(&reader)
                let after = try reader.u64()
                let through = try reader.u64()
                guard after < through else { throw .invalidField }
                let range = SyncRange(author: author, after: after, through: through)
                if let previous = ranges.last, !Self.follows(range, previous) { throw .invalidField }
                ranges.append(range)
            }
            message = .request(id: id, ranges: ranges)
        case SyncMessageType.done:
            message = .done(id: try reader.u32())
        default:
            preconditionFailure("only the known sync types are parsed; others are ignored")
        }
        try reader.expectEnd()
        return message
    }

    /// Our frontier as SYNC_FRONTIER frames: sorted by author (memcmp), at most
    /// `maxFrontierEntriesPerFrame` per frame, `last` on the final one. An empty frontier is one
    /// frame with no entries, so the peer still learns that we hold nothing.
    public static func frontierFrames(_ entries: some Sequence<FrontierEntry>) -> [SyncMessage] {
        let sorted = entries.sorted { $0.author < $1.author }
        guard !sorted.isEmpty else { return [.frontier(last: true, entries: [])] }
        let chunk = SyncBounds.maxFrontierEntriesPerFrame
        return stride(from: 0, to: sorted.count, by: chunk).map { start in
            let end = min(start + chunk, sorted.count)
            return .frontier(last: end == sorted.count, entries: Array(sorted[start..<end]))
        }
    }

    /// Whether `range` may come right after `previous` in one request: a later author, or the same
    /// author starting at or above where `previous` ends (so no seq is asked for twice).
    static func follows(_ range: SyncRange, _ previous: SyncRange) -> Bool {
        if previous.author == range.author { return range.after >= previous.through }
        return previous.author < range.author
    }

    private static func isValidFrontier(last: Bool, entries: [FrontierEntry]) -> Bool {
        guard entries.count <= SyncBounds.maxFrontierEntriesPerFrame, !entries.isEmpty || last else { return false }
        return zip(entries, entries.dropFirst()).allSatisfy { $0.author < $1.author }
    }

    private static func isValidRequest(_ ranges: [SyncRange]) -> Bool {
        guard (1...SyncBounds.maxRequestRanges).contains(ranges.count) else { return false }
        return zip(ranges, ranges.dropFirst()).allSatisfy { follows($1, $0) }
    }

    private static func key(_ reader: inout ByteReader) throws(WireError) -> SigningPublicKey {
        let raw = try reader.key32()
        // Any 32 bytes name an author here (SigningPublicKey accepts them); the length is all.
        guard let key = try? SigningPublicKey(rawRepresentation: raw) else { throw .invalidField }
        return key
    }
}
