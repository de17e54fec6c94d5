extension NodeEvent {
    /// Appends this event's JSON line (DESIGN.md's object, keys sorted, then `\n`) to `buffer`;
    /// false, appending nothing, for events that are for people only.
    ///
    /// The same object as `jsonObject`, written by ``JSONObjectWriter`` instead of
    /// `JSONSerialization`, which was the largest cost of showing a message on Linux.
    public func appendJSONLine(to buffer: inout [UInt8]) -> Bool {
        if case .notice = self { return false }
        var json = JSONObjectWriter(appendingTo: &buffer)
        defer {
            json.finish(into: &buffer)
            buffer.append(UInt8(ascii: "\n"))
        }
        // Members in ascending key order, as `.sortedKeys` wrote them.
        switch self {
        case let .ready(key, nickname, listen):
            json.field("event", "ready")
            json.field("key", key.base64)
            json.field("listen", listen)
            json.field("nickname", nickname)
        case let .linkUp(peer, key, address, direction, suite):
            json.field("address", address)
            json.field("direction", direction.rawValue)
            json.field("event", "link-up")
            json.field("key", key.base64)
            json.field("peer", peer)
            json.field("suite", suite.noiseProtocolName)
        case let .linkDown(peer, reason):
            json.field("event", "link-down")
            json.field("peer", peer)
            json.field("reason", reason)
        case let .handshakeFailed(peer, address, reason):
            json.field("address", address)
            json.field("event", "handshake-failed")
            json.field("peer", peer)
            json.field("reason", reason)
        case let .rejected(address, reason, key):
            json.field("address", address)
            json.field("event", "rejected")
            json.field("key", key?.base64)
            json.field("reason", reason)
        case let .message(m):
            json.field("author", m.author.base64)
            json.field("event", "message")
            json.field("from", m.from)
            json.field("hops", UInt64(m.hops))
            json.field("id", m.id.hex)
            json.field("kind", m.kind.eventName)
            json.field("peer", m.peer)
            json.field("pinned", m.pinned)
            json.field("room", m.room)
            json.field("seq", m.seq)
            json.field("text", m.text)
            json.field("timestamp", m.timestamp)
        case let .sent(id, kind, room, seq):
            json.field("event", "sent")
            json.field("id", id.hex)
            json.field("kind", kind.eventName)
            json.field("room", room)
            json.field("seq", seq)
        case let .error(message):
            json.field("event", "error")
            json.field("message", message)
        case let .file(event):
            event.appendFields(to: &json)
        case let .netcatBridge(listen, forward):
            json.field("event", "netcat-bridge")
            json.field("forward", forward)
            json.field("listen", listen)
        case .notice:
            break // returned above
        }
        return true
    }
}

extension FileEvent {
    /// Writes this event's members in ascending key order (see `jsonObject`).
    func appendFields(to json: inout JSONObjectWriter) {
        switch self {
        case let .offered(id, peer, name, size, hash):
            json.field("event", "file-offered")
            json.field("hash", hash)
            json.field("id", id)
            json.field("name", name)
            json.field("peer", peer)
            json.field("size", size)
        case let .progress(id, peer, name, direction, bytes, size):
            json.field("bytes", bytes)
            json.field("direction", direction.rawValue)
            json.field("event", "file-progress")
            json.field("id", id)
            json.field("name", name)
            json.field("peer", peer)
            json.field("size", size)
        case let .received(id, peer, name, path, bytes, hash):
            json.field("bytes", bytes)
            json.field("event", "file-received")
            json.field("hash", hash)
            json.field("id", id)
            json.field("name", name)
            json.field("path", path)
            json.field("peer", peer)
        case let .sent(id, peer, name, bytes, hash):
            json.field("bytes", bytes)
            json.field("event", "file-sent")
            json.field("hash", hash)
            json.field("id", id)
            json.field("name", name)
            json.field("peer", peer)
        case let .failed(id, peer, name, reason):
            json.field("event", "file-failed")
            json.field("id", id)
            json.field("name", name)
            json.field("peer", peer)
            json.field("reason", reason)
        }
    }
}
