import MeshChatUI
import Testing

struct ProgressBarTests {
    @Test func showsTheShareDoneAsCellsAndPercent() {
        #expect(ProgressBar.line(name: "a.bin", peer: "bob", incoming: false, bytes: 2_000_000, size: 5_000_000)
            == "a.bin to bob [########------------] 40% 2.0 MB of 5.0 MB")
        #expect(ProgressBar.line(name: "a.bin", peer: "alice", incoming: true, bytes: 0, size: 0)
            == "a.bin from alice [####################] 100% 0 B of 0 B")
    }

    @Test func escapesTheNameAndFitsTheWidth() {
        let line = ProgressBar.line(name: "evil\u{1B}[2Jname-that-is-long", peer: "bob", incoming: true,
                                    bytes: 1, size: 2, columns: 50)
        #expect(!line.contains("\u{1B}"))
        #expect(line.count <= 49)
        #expect(line.hasSuffix("[##########----------] 50% 1 B of 2 B"))
    }

    @Test func byteCountsInDecimalUnits() {
        #expect(ProgressBar.byteCount(999) == "999 B")
        #expect(ProgressBar.byteCount(1000) == "1.0 kB")
        #expect(ProgressBar.byteCount(52_428_800) == "52.4 MB")
        #expect(ProgressBar.byteCount(999_960) == "1.0 MB")
        #expect(ProgressBar.byteCount(4 << 30) == "4.3 GB")
    }

    @Test func aBarRedrawnInPlaceKeepsTheTypedLine() {
        var editor = LineEditor()
        _ = editor.feed(Array("half typed".utf8))
        let screen = ChatScreen(room: "general")
        let output = screen.replaceLastLine("bar 50%", editor: editor)
        #expect(output == "\r\u{1B}[2K\u{1B}[1A\r\u{1B}[2Kbar 50%\r\n[general] > half typed")
    }
}
