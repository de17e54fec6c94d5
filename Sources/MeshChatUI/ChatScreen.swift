/// The rendering rule that keeps incoming messages from garbling the line being typed.

/// Renders the prompt and the line editor, and prints text above them without disturbing them.
///
/// Every output starts by returning to column 0 and erasing the input line, then writes what it
/// has to, then draws the prompt and the input again and moves the cursor back to where the person
/// was typing. So whatever arrives while someone types, the partial line is always whole on screen.
public struct ChatScreen: Sendable {
    /// Carriage return then ESC [ 2 K (erase the whole line): start again from an empty input line.
    public static let clearLine = "\r\u{1B}[2K"
    /// ESC [ H then ESC [ 2 J: cursor home and erase the screen, for Ctrl-L.
    public static let clearScreenSequence = "\u{1B}[H\u{1B}[2J"
    /// The line ending a terminal in raw mode needs: output post-processing cannot be relied upon.
    public static let newline = "\r\n"

    /// The room typed text goes to, shown in the prompt.
    public var room: String
    /// Terminal width, when known: input that would not fit is scrolled sideways instead of wrapping,
    /// because erasing the line only erases the row the cursor is on.
    public var columns: Int?

    /// Creates a screen whose prompt names `room`, for a terminal `columns` wide if that is known.
    public init(room: String, columns: Int? = nil) {
        self.room = room
        self.columns = columns
    }

    /// The prompt, such as `[general] > `, with the room name escaped like any text from the network.
    public var prompt: String {
        "[" + escapeForTerminal(room) + "] > "
    }

    /// The bytes that print `text` above the input line and then redraw the prompt and the input.
    ///
    /// Each line of `text` ends with CR LF; one trailing newline in `text` is not an extra empty line.
    public func printAbove(_ text: String, editor: LineEditor) -> String {
        var body = text
        if body.hasSuffix("\n") { body.removeLast() }
        // "\r\n" is one Character in Swift, so split on scalars to catch a bare LF and a CR LF alike.
        let lines = body.unicodeScalars
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line[...])) }
        var output = Self.clearLine
        for line in lines {
            output += line + Self.newline
        }
        return output + promptAndInput(editor: editor)
    }

    /// The bytes that replace the one-row line printed last above the input with `line` (a progress
    /// bar moving on), then redraw the prompt and the input. Only for a line known to be one row and
    /// still the last one printed; anything else goes through `printAbove`.
    public func replaceLastLine(_ line: String, editor: LineEditor) -> String {
        // ESC [ 1 A: up one row, onto the line to replace.
        Self.clearLine + "\u{1B}[1A" + Self.clearLine + line + Self.newline + promptAndInput(editor: editor)
    }

    /// The bytes that erase the input line and draw the prompt and the input, cursor in place.
    public func redraw(editor: LineEditor) -> String {
        Self.clearLine + promptAndInput(editor: editor)
    }

    /// The bytes that clear the whole screen and draw the prompt and the input, for Ctrl-L.
    public func clearScreen(editor: LineEditor) -> String {
        Self.clearScreenSequence + redraw(editor: editor)
    }

    /// Prompt and input, then ESC [ n D to move left over the columns drawn right of the cursor.
    private func promptAndInput(editor: LineEditor) -> String {
        // The editor admits no control characters, so escaping only guards against a misuse upstream.
        var before = Array(escapeForTerminal(editor.textBeforeCursor))
        var after = Array(escapeForTerminal(editor.textAfterCursor))
        if let columns {
            // The last column stays empty: writing into it leaves some terminals in a pending wrap.
            let room = columns - TerminalText.displayWidth(prompt) - 1
            if room >= Self.minimumInputColumns {
                (before, after) = Self.window(before: before, after: after, columns: room)
            }
        }
        var output = prompt + String(before) + String(after)
        let columnsBack = after.reduce(0) { $0 + TerminalText.displayWidth($1) }
        if columnsBack > 0 {
            output += "\u{1B}[\(columnsBack)D"
        }
        return output
    }

    /// Fewer columns than this for the input and scrolling would only confuse: let the line wrap instead.
    static let minimumInputColumns = 2

    /// The part of the input that fits in `columns`, always showing the cursor: text left of it first,
    /// then as much of the text right of it as still fits.
    private static func window(
        before: [Character], after: [Character], columns: Int
    ) -> (before: [Character], after: [Character]) {
        var used = 0
        var start = before.count
        // Keep one column for the cursor itself when it sits at the end of the line.
        let beforeBudget = after.isEmpty ? columns - 1 : columns - TerminalText.displayWidth(after[0])
        while start > 0, used + TerminalText.displayWidth(before[start - 1]) <= beforeBudget {
            start -= 1
            used += TerminalText.displayWidth(before[start])
        }
        var end = 0
        while end < after.count, used + TerminalText.displayWidth(after[end]) <= columns {
            used += TerminalText.displayWidth(after[end])
            end += 1
        }
        return (Array(before[start...]), Array(after[..<end]))
    }
}
