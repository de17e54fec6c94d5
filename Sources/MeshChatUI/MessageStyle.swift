/// How chat messages and system lines look on a terminal.

import Foundation

/// One message as the chat view shows it: who wrote it, where, and whether this node trusts the author.
public struct ChatLine: Equatable, Sendable {
    /// Whether a message went to a room or to one peer.
    public enum Kind: Equatable, Sendable {
        /// Room text (envelope kind 1).
        case room
        /// Direct text sealed to one recipient (envelope kind 2).
        case direct
    }

    /// When the author says it was written (the envelope timestamp, on the author's clock).
    public var timestamp: Date
    /// The author's self-chosen display name; anyone can pick any nickname.
    public var nickname: String
    /// The author's peer key in base64, the identity that cannot be forged.
    public var authorKey: String
    /// The name this node pinned the author under in its trusted-peers file, if any.
    public var pinnedName: String?
    /// Whether the author is one of this node's trusted peers.
    public var pinned: Bool
    /// The room of room text; empty for direct text.
    public var room: String
    /// Room or direct text.
    public var kind: Kind
    /// The body, not yet escaped.
    public var text: String
    /// Whether this node wrote the message.
    public var outgoing: Bool

    /// Creates a chat line from its parts.
    public init(
        timestamp: Date, nickname: String, authorKey: String, pinnedName: String?, pinned: Bool,
        room: String, kind: Kind, text: String, outgoing: Bool
    ) {
        self.timestamp = timestamp
        self.nickname = nickname
        self.authorKey = authorKey
        self.pinnedName = pinnedName
        self.pinned = pinned
        self.room = room
        self.kind = kind
        self.text = text
        self.outgoing = outgoing
    }

    /// Creates a chat line whose timestamp is in milliseconds since the Unix epoch, as on the wire.
    public init(
        timestampMilliseconds: UInt64, nickname: String, authorKey: String, pinnedName: String?, pinned: Bool,
        room: String, kind: Kind, text: String, outgoing: Bool
    ) {
        self.init(
            timestamp: Date(timeIntervalSince1970: Double(timestampMilliseconds) / 1000),
            nickname: nickname, authorKey: authorKey, pinnedName: pinnedName, pinned: pinned,
            room: room, kind: kind, text: text, outgoing: outgoing)
    }
}

/// Formats chat lines and system lines, with or without ANSI colour.
///
/// Every string that came from the network (nickname, room, body, pinned name) goes through
/// `escapeForTerminal` before it reaches the output.
public struct MessageStyle: Sendable {
    /// Whether to emit ANSI colour sequences.
    public var colors: Bool
    /// The zone `HH:mm` is shown in; nil for the local zone. The local zone is looked up only
    /// when a time is first shown: loading it costs a node that never shows one 2.3 MiB of memory.
    public var timeZone: TimeZone?
    /// The room the person is in: its messages need no room tag. Nil tags every room message.
    public var currentRoom: String?

    /// 256-colour codes for authors: distinct, readable on dark and light backgrounds, none grey,
    /// so none can be mistaken for `systemColor`.
    /// (blue, green, cyan, violet, lime, purple, orange, gold, red, pink).
    public static let authorPalette: [UInt8] = [33, 41, 45, 99, 118, 135, 166, 178, 196, 207]
    /// The 256-colour code of system lines: a mid grey no author gets.
    public static let systemColor: UInt8 = 244
    /// Characters of the base64 peer key shown after an unpinned author: 48 bits, enough to tell people apart.
    public static let fingerprintLength = 8
    /// Indentation of the second and later lines of a body: the width of `HH:mm `.
    public static let continuationIndent = String(repeating: " ", count: 6)

    private static let reset = "\u{1B}[0m"
    private static let bold = "\u{1B}[1m"

    /// Creates a style; `currentRoom` nil shows the room of every room message.
    public init(colors: Bool, timeZone: TimeZone? = nil, currentRoom: String? = nil) {
        self.colors = colors
        self.timeZone = timeZone
        self.currentRoom = currentRoom
    }

    /// The palette colour of an author, the same on every run and every node for the same key.
    public static func color(forAuthor authorKey: String) -> UInt8 {
        authorPalette[Int(fnv1a(authorKey) % UInt64(authorPalette.count))]
    }

    /// A short, visible prefix of the author's key, for telling apart unpinned authors with the same nickname.
    public static func fingerprint(of authorKey: String) -> String {
        String(authorKey.prefix(fingerprintLength))
    }

    /// `HH:mm [room] [dm] nick? (unpinned ab12cd34): body`, later body lines indented under the header.
    public func format(_ message: ChatLine) -> String {
        var header = formatTime(message.timestamp) + " "
        switch message.kind {
        case .direct:
            header += paint("[dm]", code: Self.bold) + " "
        case .room:
            if currentRoom != message.room {
                header += "[" + escapeForTerminal(message.room) + "] "
            }
        }
        header += author(of: message) + ":"

        let bodyLines = escapeForTerminal(message.text).split(separator: "\n", omittingEmptySubsequences: false)
        var output = header
        for (index, line) in bodyLines.enumerated() {
            output += index == 0 ? " " + line : "\n" + Self.continuationIndent + line
        }
        return output
    }

    /// A system line `-- text` with no time or nickname, grey when coloured, so it never looks like someone's message.
    public func formatSystem(_ text: String) -> String {
        let lines = escapeForTerminal(text).split(separator: "\n", omittingEmptySubsequences: false)
        let plain = lines.map { "-- " + $0 }.joined(separator: "\n")
        return colors ? color256(Self.systemColor) + plain + Self.reset : plain
    }

    /// The author part of a header: coloured nickname, the pinned name when it differs, the unpinned marker.
    private func author(of message: ChatLine) -> String {
        let nickname = escapeForTerminal(message.nickname)
        var name = colors
            ? color256(Self.color(forAuthor: message.authorKey)) + nickname + Self.reset
            : nickname
        if message.outgoing {
            return name
        }
        guard message.pinned else {
            // Anyone may claim any nickname: a stranger relayed by a trusted peer is marked, with its key.
            let fingerprint = escapeForTerminal(Self.fingerprint(of: message.authorKey))
            return name + "? (unpinned " + fingerprint + ")"
        }
        if let pinnedName = message.pinnedName, pinnedName != message.nickname {
            name += " (" + escapeForTerminal(pinnedName) + ")"
        }
        return name
    }

    private func formatTime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone ?? .current
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return twoDigits(parts.hour ?? 0) + ":" + twoDigits(parts.minute ?? 0)
    }

    private func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    private func paint(_ text: String, code: String) -> String {
        colors ? code + text + Self.reset : text
    }

    private func color256(_ code: UInt8) -> String {
        "\u{1B}[38;5;\(code)m"
    }

    /// FNV-1a, 64-bit: a stable hash, unlike `Hasher`, which is seeded afresh in every process.
    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// Formats a chat message in the local time zone, tagging its room, with colour when `colors` is true.
public func formatMessage(_ m: ChatLine, colors: Bool) -> String {
    MessageStyle(colors: colors).format(m)
}

/// Formats a system line (a join, an error, information) so it cannot be taken for a message.
public func formatSystem(_ s: String, colors: Bool) -> String {
    MessageStyle(colors: colors).formatSystem(s)
}
