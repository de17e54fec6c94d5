import MeshChatUI

/// Cuts a script's standard input into lines, holding at most `maxLineBytes` of the line being read.
///
/// A longer line is dropped as it streams in and reported once, as soon as it is too long: input
/// with no newline at all (`< /dev/zero`) cannot grow memory, and reading goes on after its end.
struct ScriptLines {
    /// What a complete (or dropped) line turned out to be.
    enum Line: Equatable {
        /// A line without its `\n` (and without a `\r` before it).
        case text(String)
        /// A line longer than `maxLineBytes`, dropped.
        case tooLong
    }

    /// The longest line kept: the longest text (PROTOCOL.md 6, 16384 bytes) and room for what a
    /// command puts before it (`/msg NAME `, `//`) or a file path (PATH_MAX is 4096).
    static let maxLineBytes = ChatCommand.maxTextBytes + 4096

    private var pending: [UInt8] = []
    /// Whether the line being read is already reported too long and is skipped up to its newline.
    private var skipping = false

    /// Takes the bytes of one read; returns the lines they end, in order.
    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Line] {
        var lines: [Line] = []
        var rest = bytes
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: UInt8(ascii: "\n"))
            let part = rest[..<(newline ?? rest.endIndex)]
            if !skipping {
                if pending.count + part.count > Self.maxLineBytes {
                    pending.removeAll()
                    skipping = true
                    lines.append(.tooLong)
                } else {
                    pending += part
                }
            }
            guard let newline else { break }
            if !skipping { lines.append(.text(Self.text(of: pending))) }
            pending.removeAll(keepingCapacity: true)
            skipping = false
            rest = rest[(newline + 1)...]
        }
        return lines
    }

    /// At end of input: the last line if it had no newline.
    mutating func finish() -> Line? {
        defer { pending.removeAll() }
        return skipping || pending.isEmpty ? nil : .text(Self.text(of: pending))
    }

    private static func text(of line: [UInt8]) -> String {
        String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...], as: UTF8.self)
    }
}
