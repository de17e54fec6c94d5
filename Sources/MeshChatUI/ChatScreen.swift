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

    /// Creates a screen whose prompt names `room`.
    public init(room: String) {
        self.room = room
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
        let after = escapeForTerminal(editor.textAfterCursor)
        var output = prompt + escapeForTerminal(editor.textBeforeCursor) + after
        let columnsBack = TerminalText.displayWidth(after)
        if columnsBack > 0 {
            output += "\u{1B}[\(columnsBack)D"
        }
        return output
    }
}
