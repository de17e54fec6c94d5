import Testing
@testable import MeshChatUI

/// Feeds `bytes` one at a time, as the slowest terminal read would, and collects every event.
private func feedByteByByte(_ editor: inout LineEditor, _ bytes: [UInt8]) -> [LineEditorEvent] {
    bytes.flatMap { editor.feed([$0]) }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private let escape: UInt8 = 0x1B
private let left: [UInt8] = [escape] + bytes("[D")
private let right: [UInt8] = [escape] + bytes("[C")
private let up: [UInt8] = [escape] + bytes("[A")
private let down: [UInt8] = [escape] + bytes("[B")

@Suite struct LineEditorTests {
    @Test func typedTextIsSubmittedOnCarriageReturnAndClearsTheLine() {
        var editor = LineEditor()
        let events = feedByteByByte(&editor, bytes("hi\r"))
        #expect(events.contains(.submit("hi")))
        #expect(events.last == .submit("hi"))
        #expect(editor.line == "")
        #expect(editor.cursor == 0)
    }

    @Test func lineFeedSubmitsAndCarriageReturnLineFeedSubmitsOnce() {
        var editor = LineEditor()
        #expect(editor.feed(bytes("a\n")).filter(isSubmit) == [.submit("a")])
        #expect(editor.feed(bytes("b\r")).filter(isSubmit) == [.submit("b")])
        // The LF of a CR LF pair split across reads is not a second, empty submit.
        #expect(editor.feed(bytes("\nc\r\n\r\n")).filter(isSubmit) == [.submit("c"), .submit("")])
    }

    @Test func insertsInTheMiddleAtTheCursor() {
        var editor = LineEditor()
        _ = feedByteByByte(&editor, bytes("held") + left + bytes("l") + left + left + left + bytes("W"))
        #expect(editor.line == "hWelld")
        #expect(editor.cursor == 2)
        #expect(editor.textBeforeCursor == "hW")
        #expect(editor.textAfterCursor == "elld")
    }

    @Test func backspaceRemovesAWholeMultiByteCharacter() {
        var editor = LineEditor()
        _ = feedByteByByte(&editor, bytes("añ🇫🇷é"))
        #expect(editor.line == "añ🇫🇷é")
        #expect(editor.cursor == 4)
        _ = editor.feed([0x7F])
        #expect(editor.line == "añ🇫🇷")
        _ = editor.feed([0x08])
        #expect(editor.line == "añ", "a flag is two scalars but one character: one Backspace removes it")
        _ = editor.feed([0x7F])
        #expect(editor.line == "a")
        #expect(editor.cursor == 1)
    }

    @Test func combiningMarkJoinsTheCharacterBeforeIt() {
        var editor = LineEditor()
        _ = editor.feed(bytes("e\u{0301}x"))
        #expect(editor.cursor == 2)
        _ = editor.feed([0x7F, 0x7F])
        #expect(editor.line == "")
    }

    @Test func utf8CharacterSplitAcrossTwoFeeds() {
        var editor = LineEditor()
        let euro = bytes("€")  // E2 82 AC
        #expect(editor.feed(Array(euro[..<2])).isEmpty, "half a character changes nothing yet")
        #expect(editor.line == "")
        #expect(editor.feed(Array(euro[2...]) + bytes("!")) == [.lineChanged])
        #expect(editor.line == "€!")
    }

    @Test func invalidUTF8IsDroppedAndTheNextByteStillCounts() {
        var editor = LineEditor()
        // A lead byte cut short by ASCII, a lone continuation byte, an overlong "/" and a UTF-16 surrogate.
        _ = editor.feed([0xE2, 0x82, UInt8(ascii: "a"), 0x80, 0xC0, 0xAF, 0xED, 0xA0, 0x80, UInt8(ascii: "b")])
        #expect(editor.line == "ab")
    }

    @Test func controlCharactersNeverEnterTheLine() {
        var editor = LineEditor()
        // Tab, a C1 control typed as UTF-8 (U+009B, a one-character CSI), and NUL.
        _ = editor.feed(bytes("a\tb") + [0xC2, 0x9B] + [0x00] + bytes("c"))
        #expect(editor.line == "abc")
    }

    @Test func homeEndAndDeleteInEveryEncoding() {
        var editor = LineEditor()
        _ = editor.feed(bytes("abc"))
        for home in [[0x01], [escape] + bytes("[H"), [escape] + bytes("OH"), [escape] + bytes("[1~")] {
            _ = editor.feed(bytes("\u{05}"))  // Ctrl-E to the end first
            #expect(editor.cursor == 3)
            _ = feedByteByByte(&editor, home)
            #expect(editor.cursor == 0, "home sequence \(home)")
        }
        for end in [[0x05], [escape] + bytes("[F"), [escape] + bytes("OF"), [escape] + bytes("[4~")] {
            _ = editor.feed([0x01])
            _ = feedByteByByte(&editor, end)
            #expect(editor.cursor == 3, "end sequence \(end)")
        }
        _ = editor.feed([0x01] + [escape] + bytes("[3~"))
        #expect(editor.line == "bc")
        #expect(editor.cursor == 0)
    }

    @Test func leftAndRightStopAtTheEnds() {
        var editor = LineEditor()
        _ = editor.feed(bytes("ab") + right + right)
        #expect(editor.cursor == 2)
        _ = editor.feed(left + left + left + left)
        #expect(editor.cursor == 0)
        _ = editor.feed([escape] + bytes("OC"))
        #expect(editor.cursor == 1)
    }

    @Test func ctrlUDeletesToTheStartAndCtrlKToTheEnd() {
        var editor = LineEditor()
        _ = editor.feed(bytes("hello world") + left + left + left + left + left)
        _ = editor.feed([0x15])
        #expect(editor.line == "world")
        #expect(editor.cursor == 0)
        _ = editor.feed(right + right + [0x0B])
        #expect(editor.line == "wo")
        #expect(editor.cursor == 2)
    }

    @Test func ctrlWDeletesTheWordBeforeTheCursorAndTheSpacesAfterIt() {
        var editor = LineEditor()
        _ = feedByteByByte(&editor, bytes("say héllo  there") + left + left + left + left + left)
        _ = editor.feed([0x17])
        #expect(editor.line == "say there")
        #expect(editor.cursor == 4)
        _ = editor.feed([0x17])
        #expect(editor.line == "there")
        #expect(editor.feed([0x17]) == [.bell], "nothing left of the cursor to delete")
    }

    @Test func historyUpAndDownRestoresTheDraft() {
        var editor = LineEditor()
        _ = editor.feed(bytes("one\rtwo\rdraft"))
        _ = feedByteByByte(&editor, up)
        #expect(editor.line == "two")
        _ = feedByteByByte(&editor, up)
        #expect(editor.line == "one")
        #expect(editor.cursor == 3)
        #expect(feedByteByByte(&editor, up) == [.bell], "no line older than the first")
        _ = feedByteByByte(&editor, down)
        #expect(editor.line == "two")
        _ = feedByteByByte(&editor, down)
        #expect(editor.line == "draft")
        #expect(editor.feed(down) == [.bell])
        _ = editor.feed([0x10])  // Ctrl-P is Up
        #expect(editor.line == "two")
        #expect(editor.feed(bytes("!\r")).contains(.submit("two!")))
        #expect(editor.history == ["one", "two", "two!"])
    }

    @Test func historyIsBoundedAndSkipsEmptyAndRepeatedLines() {
        var editor = LineEditor(historyCapacity: 3)
        _ = editor.feed(bytes("a\rb\rb\r\rc\rd\r"))
        #expect(editor.history == ["b", "c", "d"])
        #expect(LineEditor().historyCapacity == LineEditor.defaultHistoryCapacity)
    }

    @Test func unknownEscapeSequencesAreIgnored() {
        var editor = LineEditor()
        // F5 (CSI 15~), Insert (CSI 2~), SS3 P (F1), Alt-x, a long private CSI and a bracketed-paste marker.
        let unknown: [[UInt8]] = [
            [escape] + bytes("[15~"), [escape] + bytes("[2~"), [escape] + bytes("OP"), [escape] + bytes("x"),
            [escape] + bytes("[?1;2;3;4;5;6;7;8;9;10;11;12c"), [escape] + bytes("[200~"),
        ]
        _ = editor.feed(bytes("ab"))
        for sequence in unknown {
            #expect(feedByteByByte(&editor, sequence).isEmpty, "sequence \(sequence)")
        }
        _ = editor.feed(bytes("c"))
        #expect(editor.line == "abc")
    }

    @Test func ctrlArrowsMoveByWords() {
        var editor = LineEditor()
        _ = editor.feed(bytes("one two three"))
        _ = editor.feed([escape] + bytes("[1;5D"))
        #expect(editor.cursor == 8)
        _ = editor.feed([escape] + bytes("b"))
        #expect(editor.cursor == 4)
        _ = editor.feed([escape] + bytes("[1;5C"))
        #expect(editor.cursor == 7)
    }

    @Test func lengthBoundIsRespectedInBytes() {
        var editor = LineEditor()
        let full = [UInt8](repeating: UInt8(ascii: "x"), count: LineEditor.maxLineBytes - 1)
        _ = editor.feed(full)
        // A two-byte character no longer fits in the one byte left; an ASCII one does.
        #expect(editor.feed(bytes("é")) == [.bell])
        #expect(editor.feed(bytes("y")) == [.lineChanged])
        #expect(editor.feed(bytes("z")) == [.bell])
        #expect(editor.line.utf8.count == LineEditor.maxLineBytes)
        // Deleting makes room again.
        _ = editor.feed([0x7F, 0x7F])
        _ = editor.feed(bytes("é"))
        #expect(editor.line.utf8.count == LineEditor.maxLineBytes)
        #expect(editor.line.hasSuffix("é"))
    }

    @Test func ctrlDEndsInputOnlyOnAnEmptyLine() {
        var editor = LineEditor()
        #expect(editor.feed([0x04]) == [.endOfInput])
        _ = editor.feed(bytes("ab") + [0x01])
        #expect(editor.feed([0x04]) == [.lineChanged], "on a non-empty line Ctrl-D deletes under the cursor")
        #expect(editor.line == "b")
    }

    @Test func ctrlCInterruptsAndCtrlLRedrawsWithoutTouchingTheLine() {
        var editor = LineEditor()
        _ = editor.feed(bytes("half"))
        #expect(editor.feed([0x03]) == [.interrupt])
        #expect(editor.feed([0x0C]) == [.redraw])
        #expect(editor.line == "half")
        editor.clear()
        #expect(editor.line == "")
        #expect(editor.cursor == 0)
    }

    @Test func eventsComeInTheOrderOfTheKeys() {
        var editor = LineEditor()
        #expect(editor.feed(bytes("a\rb") + [0x03]) == [.lineChanged, .submit("a"), .lineChanged, .interrupt])
    }
}

private func isSubmit(_ event: LineEditorEvent) -> Bool {
    if case .submit = event { return true }
    return false
}
