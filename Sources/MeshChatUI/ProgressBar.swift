/// The one-line progress bar the chat draws for a file transfer.
public enum ProgressBar {
    /// Cells in the bar itself.
    public static let cells = 20

    /// `notes.pdf from alice [########------------] 40% 2.1 MB of 5.2 MB`, with the name escaped
    /// like any text from the network, cut to `columns` when the terminal width is known so the
    /// line stays one row (it is redrawn in place).
    public static func line(name: String, peer: String, incoming: Bool, bytes: UInt64, size: UInt64, columns: Int? = nil) -> String {
        let fraction = size == 0 ? 1.0 : min(1.0, Double(bytes) / Double(size))
        let filled = Int((fraction * Double(cells)).rounded(.down))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: cells - filled) + "]"
        let percent = Int((fraction * 100).rounded(.down))
        let tail = " \(bar) \(percent)% \(byteCount(bytes)) of \(byteCount(size))"
        var head = escapeForTerminal(name) + (incoming ? " from " : " to ") + escapeForTerminal(peer)
        if let columns {
            // The last column stays empty (see ChatScreen); the name gives way first.
            let room = columns - 1 - TerminalText.displayWidth(tail)
            while TerminalText.displayWidth(head) > max(room, 1), !head.isEmpty { head.removeLast() }
        }
        return head + tail
    }

    /// A size as people read it, in decimal units: `512 B`, `2.1 MB`, `4.0 GB`.
    public static func byteCount(_ bytes: UInt64) -> String {
        let units = ["kB", "MB", "GB", "TB"]
        guard bytes >= 1000 else { return "\(bytes) B" }
        var value = Double(bytes) / 1000
        var unit = 0
        while value >= 999.95, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
