import Testing
import MeshChatUI

private let clear = "\r\u{1B}[2K"

private func editor(typing text: String, thenLeft moves: Int = 0) -> LineEditor {
    var editor = LineEditor()
    let left: [UInt8] = [0x1B, UInt8(ascii: "["), UInt8(ascii: "D")]
    _ = editor.feed(Array(text.utf8) + Array([[UInt8]](repeating: left, count: moves).joined()))
    return editor
}

@Suite struct ChatScreenTests {
    let screen = ChatScreen(room: "general")

    @Test func promptShowsTheRoomEscaped() {
        #expect(screen.prompt == "[general] > ")
        #expect(ChatScreen(room: "a\u{1B}[2Jb").prompt == "[a\\u{1B}[2Jb] > ")
    }

    @Test func printAboveClearsPrintsAndRedrawsThePartialInput() {
        let output = screen.printAbove("12:00 bob: hi", editor: editor(typing: "hel"))
        #expect(output == clear + "12:00 bob: hi\r\n" + "[general] > hel")
    }

    @Test func printAbovePutsTheCursorBackInsideTheInput() {
        let output = screen.printAbove("x", editor: editor(typing: "hello", thenLeft: 2))
        #expect(output == clear + "x\r\n" + "[general] > hello\u{1B}[2D")
    }

    @Test func cursorMovesBackByColumnsNotBytes() {
        // "é" is two bytes and one column; "漢" three bytes and two columns; the flag two scalars and two columns.
        let output = screen.redraw(editor: editor(typing: "aé漢🇫🇷b", thenLeft: 4))
        #expect(output == clear + "[general] > aé漢🇫🇷b\u{1B}[6D")
        #expect(screen.redraw(editor: editor(typing: "aéb", thenLeft: 2)) == clear + "[general] > aéb\u{1B}[2D")
    }

    @Test func everyLineOfTheTextEndsWithCarriageReturnLineFeed() {
        let output = screen.printAbove("one\ntwo\r\nthree\n", editor: LineEditor())
        #expect(output == clear + "one\r\ntwo\r\nthree\r\n" + "[general] > ")
    }

    @Test func partialInputSurvivesManyPrintAboveCalls() {
        var editor = editor(typing: "a long half-typed lin")
        var written = ""
        for index in 0..<50 {
            written += screen.printAbove("message \(index)", editor: editor)
            if index == 25 { _ = editor.feed(Array("e".utf8)) }
        }
        #expect(editor.line == "a long half-typed line")
        #expect(written.hasSuffix(clear + "message 49\r\n[general] > a long half-typed line"))
        // Each message is written whole on its own line, never spliced into the input.
        for index in 0..<50 {
            #expect(written.contains(clear + "message \(index)\r\n[general] > a long half-typed lin"))
        }
    }

    @Test func redrawAndClearScreen() {
        let typed = editor(typing: "ab", thenLeft: 1)
        #expect(screen.redraw(editor: typed) == clear + "[general] > ab\u{1B}[1D")
        #expect(screen.clearScreen(editor: typed) == "\u{1B}[H\u{1B}[2J" + clear + "[general] > ab\u{1B}[1D")
    }

    @Test func inputWiderThanTheTerminalScrollsInsteadOfWrapping() {
        // 20 columns less the 12-column prompt and the kept-free last column: 7 for the input.
        let narrow = ChatScreen(room: "general", columns: 20)
        #expect(narrow.redraw(editor: editor(typing: "abc")) == clear + "[general] > abc")
        #expect(narrow.redraw(editor: editor(typing: "abcdefghij")) == clear + "[general] > efghij")
        #expect(narrow.redraw(editor: editor(typing: "abcdefghij", thenLeft: 8)) == clear + "[general] > abcdefg\u{1B}[5D")
        // Wide characters count two columns each: three of them and the cursor fill the 7.
        #expect(narrow.redraw(editor: editor(typing: "漢字漢字")) == clear + "[general] > 字漢字")
        #expect(narrow.printAbove("m", editor: editor(typing: "abcdefghij")) == clear + "m\r\n[general] > efghij")
    }
}
