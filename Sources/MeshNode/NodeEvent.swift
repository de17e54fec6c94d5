import Foundation
import MeshCrypto
import MeshWire

/// What a running node tells the person or script driving it (DESIGN.md's event table).
public enum NodeEvent: Sendable, Equatable {
    /// Listening and dialing.
    case ready(key: SigningPublicKey, nickname: String, listen: String)
    /// A link is established.
    case linkUp(peer: String, key: SigningPublicKey, address: String, direction: LinkDirection, suite: Suite)
    /// A link closed.
    case linkDown(peer: String, reason: String)
    /// Dialing a pinned peer did not produce a link.
    case handshakeFailed(peer: String, address: String, reason: String)
    /// An inbound connection was refused.
    case rejected(address: String, reason: String, key: SigningPublicKey?)
    /// A message to show.
    case message(ShownMessage)
    /// A message this node posted was stored and sent.
    case sent(id: MessageID, kind: EnvelopeKind, room: String?, seq: UInt64)
    /// Something went wrong that the operator should know.
    case error(message: String)
    /// A file transfer moved on (docs/file-transfer.md).
    case file(FileEvent)
    /// The netcat bridge listens (with the real port when 0 was asked for) and, if set, forwards (docs/netcat-bridge.md).
    case netcatBridge(listen: String, forward: String?)
    /// Information for people (not part of the JSON contract; JSON output leaves it out).
    case notice(String)
}

/// Who opened a link.
public enum LinkDirection: String, Sendable {
    case inbound, outbound
}

/// A message as shown: the envelope's fields plus what this node knows of its author.
public struct ShownMessage: Sendable, Equatable {
    /// The message id.
    public let id: MessageID
    /// Room or direct text.
    public let kind: EnvelopeKind
    /// The room (nil for direct messages).
    public let room: String?
    /// The author's nickname, as they chose it.
    public let from: String
    /// The author's peer key.
    public let author: SigningPublicKey
    /// This node's name for the author, if pinned here.
    public let peer: String?
    /// The author's sequence number.
    public let seq: UInt64
    /// The author's timestamp in ms.
    public let timestamp: UInt64
    /// Links crossed before reaching this node.
    public let hops: UInt8
    /// The text (opened, for direct messages).
    public let text: String

    /// Builds a shown message.
    public init(id: MessageID, kind: EnvelopeKind, room: String?, from: String, author: SigningPublicKey, peer: String?,
                seq: UInt64, timestamp: UInt64, hops: UInt8, text: String) {
        self.id = id; self.kind = kind; self.room = room; self.from = from; self.author = author
        self.peer = peer; self.seq = seq; self.timestamp = timestamp; self.hops = hops; self.text = text
    }

    /// Whether the author is pinned by this node.
    public var pinned: Bool { peer != nil }
}

extension EnvelopeKind {
    /// The event's `kind` word.
    public var eventName: String {
        switch self {
        case .room: "room"
        case .direct: "direct"
        }
    }
}

extension NodeEvent {
    /// The JSON object of DESIGN.md, or nil for events that are for people only.
    public var jsonObject: [String: Any]? {
        switch self {
        case let .ready(key, nickname, listen):
            return ["event": "ready", "key": key.base64, "nickname": nickname, "listen": listen]
        case let .linkUp(peer, key, address, direction, suite):
            return ["event": "link-up", "peer": peer, "key": key.base64, "address": address,
                    "direction": direction.rawValue, "suite": suite.noiseProtocolName]
        case let .linkDown(peer, reason):
            return ["event": "link-down", "peer": peer, "reason": reason]
        case let .handshakeFailed(peer, address, reason):
            return ["event": "handshake-failed", "peer": peer, "address": address, "reason": reason]
        case let .rejected(address, reason, key):
            return ["event": "rejected", "address": address, "reason": reason, "key": key.map { $0.base64 as Any } ?? NSNull()]
        case let .message(m):
            return ["event": "message", "id": m.id.hex, "kind": m.kind.eventName, "room": m.room.map { $0 as Any } ?? NSNull(),
                    "from": m.from, "author": m.author.base64, "peer": m.peer.map { $0 as Any } ?? NSNull(),
                    "pinned": m.pinned, "seq": m.seq, "timestamp": m.timestamp, "hops": Int(m.hops), "text": m.text]
        case let .sent(id, kind, room, seq):
            return ["event": "sent", "id": id.hex, "kind": kind.eventName, "room": room.map { $0 as Any } ?? NSNull(), "seq": seq]
        case let .error(message):
            return ["event": "error", "message": message]
        case let .file(event):
            return event.jsonObject
        case let .netcatBridge(listen, forward):
            return ["event": "netcat-bridge", "listen": listen, "forward": forward.map { $0 as Any } ?? NSNull()]
        case .notice:
            return nil
        }
    }

    /// One line of JSON (no trailing newline), or nil for people-only events.
    public var jsonLine: String? {
        var line: [UInt8] = []
        guard appendJSONLine(to: &line) else { return nil }
        return String(decoding: line.dropLast(), as: UTF8.self)
    }
}
