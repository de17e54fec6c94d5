import Foundation

/// What a node says about file transfers (docs/file-transfer.md lists the JSON fields). Ids are
/// 32 hex digits, hashes 64 lowercase hex digits of SHA-256, peers this node's pinned names.
public enum FileEvent: Sendable, Equatable {
    /// A peer offers a file (receiver).
    case offered(id: String, peer: String, name: String, size: UInt64, hash: String)
    /// Bytes moved; rate-limited to a few a second per transfer.
    case progress(id: String, peer: String, name: String, direction: FileDirection, bytes: UInt64, size: UInt64)
    /// The whole file arrived, matched the offer's hash and is at `path` (receiver).
    case received(id: String, peer: String, name: String, path: String, bytes: UInt64, hash: String)
    /// The receiver confirmed the whole file (sender).
    case sent(id: String, peer: String, name: String, bytes: UInt64, hash: String)
    /// The transfer ended without the file (either side).
    case failed(id: String, peer: String, name: String, reason: String)

    /// The event's JSON object.
    public var jsonObject: [String: Any] {
        switch self {
        case let .offered(id, peer, name, size, hash):
            ["event": "file-offered", "id": id, "peer": peer, "name": name, "size": size, "hash": hash]
        case let .progress(id, peer, name, direction, bytes, size):
            ["event": "file-progress", "id": id, "peer": peer, "name": name, "direction": direction.rawValue, "bytes": bytes, "size": size]
        case let .received(id, peer, name, path, bytes, hash):
            ["event": "file-received", "id": id, "peer": peer, "name": name, "path": path, "bytes": bytes, "hash": hash]
        case let .sent(id, peer, name, bytes, hash):
            ["event": "file-sent", "id": id, "peer": peer, "name": name, "bytes": bytes, "hash": hash]
        case let .failed(id, peer, name, reason):
            ["event": "file-failed", "id": id, "peer": peer, "name": name, "reason": reason]
        }
    }
}

/// What a person can do to a file transfer from the chat: `/accept`, `/refuse`, `/cancel`.
public enum FileCommand: String, Sendable {
    /// Take an offered file.
    case accept
    /// Say no to an offered file.
    case refuse
    /// Stop a transfer either way.
    case cancel
}
