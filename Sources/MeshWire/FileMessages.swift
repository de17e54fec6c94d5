/// The plaintext types the project gives to file transfer, inside PROTOCOL.md 5's
/// "0x20-0x2F | file transfer | defined by the project". docs/file-transfer.md is the contract.
public enum FileMessageType {
    /// FILE_OFFER: "I would like to send you this file".
    public static let offer: UInt8 = 0x20
    /// FILE_ACCEPT: "send it, starting at this offset".
    public static let accept: UInt8 = 0x21
    /// FILE_CHUNK: bytes of the file at an offset.
    public static let chunk: UInt8 = 0x22
    /// FILE_REFUSE: the receiver does not take the offered file.
    public static let refuse: UInt8 = 0x23
    /// FILE_CANCEL: either side stops a transfer it had agreed to.
    public static let cancel: UInt8 = 0x24
    /// FILE_RECEIVED: the receiver checked the whole file against the offer's hash and kept it.
    public static let received: UInt8 = 0x25

    /// Whether `type` is one of the file types this code knows. Other types of the range are
    /// ignored like any unknown plaintext type (PROTOCOL.md 5).
    public static func isKnown(_ type: UInt8) -> Bool {
        (offer...received).contains(type)
    }
}

/// The limits of the file messages, each with where its value comes from.
public enum FileBounds {
    /// A transfer id is 16 random bytes: collisions between two nodes' transfers are out of reach.
    public static let transferIDByteCount = 16
    /// A hash is SHA-256 of the whole file: 32 bytes (docs/file-transfer.md).
    public static let hashByteCount = 32
    /// An offered name is a `str` of 1..255 bytes: the longest file name most file systems keep
    /// (NAME_MAX). The receiver still makes its own safe name from it.
    public static let nameBytes: ClosedRange<Int> = 1...255
    /// FILE_CHUNK's header: type, id, `u64 offset`.
    public static let chunkHeaderByteCount = 1 + transferIDByteCount + 8
    /// The most file bytes one FILE_CHUNK carries: what is left of the largest plaintext
    /// (65519 bytes, PROTOCOL.md 5) after the header, so every chunk fills one frame.
    public static let maxChunkDataByteCount = WireBounds.maxPlaintextLength - chunkHeaderByteCount
}

/// A transfer's id: 16 random bytes the sender chooses, the same across resumes.
public struct FileTransferID: Hashable, Sendable, CustomStringConvertible {
    /// The 16 raw bytes.
    public let bytes: [UInt8]

    /// An id from exactly 16 bytes; another length is our own mistake.
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == FileBounds.transferIDByteCount, "a transfer id is 16 bytes")
        self.bytes = bytes
    }

    /// 32 lowercase hex digits, as events and file names show it.
    public var hex: String { Hex.lowercase(bytes) }

    public var description: String { hex }
}

/// Why a transfer was refused or cancelled, as FILE_REFUSE and FILE_CANCEL carry it.
public enum FileStopReason: UInt8, Sendable, CaseIterable {
    /// 0: no reason given (and how an unknown reason byte reads).
    case unspecified = 0
    /// 1: the person at the receiving node said no.
    case declined = 1
    /// 2: larger than the receiver accepts.
    case tooLarge = 2
    /// 3: the receiver already has as many transfers from this peer as it keeps.
    case busy = 3
    /// 4: a person cancelled it.
    case cancelled = 4
    /// 5: the bytes received do not have the offered hash.
    case hashMismatch = 5
    /// 6: the receiver could not store the file.
    case cannotStore = 6
    /// 7: the sender could not read the file any more.
    case cannotRead = 7
    /// 8: the other side broke the exchange (a chunk at the wrong offset, an offset past the end).
    case badExchange = 8

    /// The reason a received byte means; like BYE's, an unknown one reads as 0.
    public init(wireValue: UInt8) {
        self = FileStopReason(rawValue: wireValue) ?? .unspecified
    }

    /// A few words for people and for `file-failed`'s `reason`.
    public var text: String {
        switch self {
        case .unspecified: "stopped"
        case .declined: "declined"
        case .tooLarge: "too large"
        case .busy: "too many transfers at once"
        case .cancelled: "cancelled"
        case .hashMismatch: "hash mismatch"
        case .cannotStore: "the receiver could not store it"
        case .cannotRead: "the sender could not read it"
        case .badExchange: "broken exchange"
        }
    }
}

/// What FILE_OFFER says of a file.
public struct FileOffer: Equatable, Sendable {
    /// The transfer id.
    public var id: FileTransferID
    /// The name the sender gives it (never trusted as a path by the receiver).
    public var name: String
    /// The size in bytes.
    public var size: UInt64
    /// SHA-256 of the whole file.
    public var hash: [UInt8]

    /// An offer; a name or hash outside the bounds is our own mistake.
    public init(id: FileTransferID, name: String, size: UInt64, hash: [UInt8]) {
        precondition(FileBounds.nameBytes.contains(name.utf8.count), "an offered name is 1...255 bytes")
        precondition(hash.count == FileBounds.hashByteCount, "a file hash is 32 bytes")
        self.id = id
        self.name = name
        self.size = size
        self.hash = hash
    }
}

/// A file plaintext (types 0x20-0x25). A body that does not parse exactly is a protocol error:
/// BYE 2 and close, as for sync messages (docs/file-transfer.md).
public enum FileMessage: Equatable, Sendable {
    /// FILE_OFFER: `id16`, `str name`, `u64 size`, `key32 hash`.
    case offer(FileOffer)
    /// FILE_ACCEPT: `id16`, `u64 offset` (the bytes the receiver already holds).
    case accept(id: FileTransferID, offset: UInt64)
    /// FILE_CHUNK: `id16`, `u64 offset`, then 1..65494 bytes of the file to the end of the plaintext.
    /// `data` may share the storage of the plaintext it was parsed from.
    case chunk(id: FileTransferID, offset: UInt64, data: ArraySlice<UInt8>)
    /// FILE_REFUSE: `id16`, `u8 reason`.
    case refuse(id: FileTransferID, reason: FileStopReason)
    /// FILE_CANCEL: `id16`, `u8 reason`.
    case cancel(id: FileTransferID, reason: FileStopReason)
    /// FILE_RECEIVED: `id16`.
    case received(id: FileTransferID)

    /// The transfer the message is about.
    public var id: FileTransferID {
        switch self {
        case .offer(let offer): offer.id
        case .accept(let id, _), .chunk(let id, _, _), .refuse(let id, _), .cancel(let id, _), .received(let id): id
        }
    }

    /// The plaintext bytes, type first. Encoding what a parser would refuse is our own mistake.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .offer(let offer):
            writer.u8(FileMessageType.offer)
            writer.raw(offer.id.bytes)
            writer.str(offer.name)
            writer.u64(offer.size)
            writer.key32(offer.hash)
        case .accept(let id, let offset):
            writer.u8(FileMessageType.accept)
            writer.raw(id.bytes)
            writer.u64(offset)
        case .chunk(let id, let offset, let data):
            precondition((1...FileBounds.maxChunkDataByteCount).contains(data.count), "a chunk carries 1...65494 bytes")
            return Self.chunkHeader(id: id, offset: offset) + data
        case .refuse(let id, let reason):
            writer.u8(FileMessageType.refuse)
            writer.raw(id.bytes)
            writer.u8(reason.rawValue)
        case .cancel(let id, let reason):
            writer.u8(FileMessageType.cancel)
            writer.raw(id.bytes)
            writer.u8(reason.rawValue)
        case .received(let id):
            writer.u8(FileMessageType.received)
            writer.raw(id.bytes)
        }
        return writer.bytes
    }

    /// The first 25 bytes of a FILE_CHUNK, so a sender can read file bytes straight after them
    /// without building the chunk twice.
    public static func chunkHeader(id: FileTransferID, offset: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: WireBounds.maxPlaintextLength)
        writer.u8(FileMessageType.chunk)
        writer.raw(id.bytes)
        writer.u64(offset)
        return writer.bytes
    }

    /// Parses the body of a plaintext of file type `type` (the bytes after the type byte), exactly.
    /// A `type` outside the known ones is the caller's mistake: unknown types are ignored. Given an
    /// `Array`, a chunk's data is a slice of it, not a copy.
    public static func parse(type: UInt8, body: some Collection<UInt8>) throws(WireError) -> FileMessage {
        var reader = ByteReader(body)
        let id = FileTransferID(try reader.raw(FileBounds.transferIDByteCount))
        let message: FileMessage
        switch type {
        case FileMessageType.offer:
            let name = try reader.str()
            guard FileBounds.nameBytes.contains(name.utf8.count) else { throw .lengthOutOfRange }
            let size = try reader.u64()
            let hash = try reader.raw(FileBounds.hashByteCount)
            message = .offer(FileOffer(id: id, name: name, size: size, hash: hash))
        case FileMessageType.accept:
            message = .accept(id: id, offset: try reader.u64())
        case FileMessageType.chunk:
            let offset = try reader.u64()
            let data = reader.restSharingStorage()
            // An empty chunk moves nothing and could only make a receiver spin.
            guard !data.isEmpty else { throw .lengthOutOfRange }
            // Each chunk's end must be a valid file offset.
            guard offset <= UInt64.max - UInt64(data.count) else { throw .invalidField }
            message = .chunk(id: id, offset: offset, data: data)
        case FileMessageType.refuse:
            message = .refuse(id: id, reason: FileStopReason(wireValue: try reader.u8()))
        case FileMessageType.cancel:
            message = .cancel(id: id, reason: FileStopReason(wireValue: try reader.u8()))
        case FileMessageType.received:
            message = .received(id: id)
        default:
            preconditionFailure("only the known file types are parsed; others are ignored")
        }
        try reader.expectEnd()
        return message
    }
}
