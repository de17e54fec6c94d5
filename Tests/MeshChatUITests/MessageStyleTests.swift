import Foundation
import Testing
import MeshChatUI

private let utc = TimeZone(identifier: "UTC")!
private let aliceKey = "qL6xA3bC9dE0fG1hI2jK3lM4nO5pQ6rS7tU8vW9xY0Z="
private let malloryKey = "ZZ12cd34EF56gh78IJ90kl12MN34op56QR78st90UV1="

/// 2024-03-05 14:07:30 UTC.
private let fixedMilliseconds: UInt64 = 1_709_647_650_000

private func message(
    text: String = "hello", nickname: String = "alice", key: String = aliceKey, pinnedName: String? = "alice",
    pinned: Bool = true, room: String = "general", kind: ChatLine.Kind = .room, outgoing: Bool = false
) -> ChatLine {
    ChatLine(
        timestampMilliseconds: fixedMilliseconds, nickname: nickname, authorKey: key, pinnedName: pinnedName,
        pinned: pinned, room: room, kind: kind, text: text, outgoing: outgoing)
}

@Suite struct EscapeForTerminalTests {
    @Test func escapesC0ControlsVisibly() {
        #expect(escapeForTerminal("a\u{1B}[2Jb") == "a\\u{1B}[2Jb")
        #expect(escapeForTerminal("bell\u{07}") == "bell\\u{07}")
        #expect(escapeForTerminal("nul\u{00}") == "nul\\u{00}")
        #expect(escapeForTerminal("cr\r") == "cr\\u{0D}")
    }

    @Test func escapesDeleteAndC1Controls() {
        #expect(escapeForTerminal("\u{7F}") == "\\u{7F}")
        #expect(escapeForTerminal("\u{80}\u{85}\u{9B}31m\u{9F}") == "\\u{80}\\u{85}\\u{9B}31m\\u{9F}")
    }

    @Test func escapesEveryCcCharacterExceptNewlineAndTab() {
        let controls = (0x00...0x1F).map { $0 } + [0x7F] + (0x80...0x9F).map { $0 }
        for value in controls where value != 0x0A && value != 0x09 {
            let scalar = Unicode.Scalar(UInt32(value))!
            let escaped = escapeForTerminal(String(scalar))
            #expect(!escaped.unicodeScalars.contains(scalar), "U+\(String(value, radix: 16)) reached the output")
            #expect(escaped.hasPrefix("\\u{"))
        }
    }

    @Test func keepsNewlineTabAndOrdinaryUnicode() {
        let text = "line one\n\tindented: café 漢字 🇫🇷 👩‍💻 e\u{0301} \u{A0}\u{A1}"
        #expect(escapeForTerminal(text) == text)
    }
}

@Suite struct MessageStyleTests {
    let plain = MessageStyle(colors: false, timeZone: utc, currentRoom: "general")
    let colored = MessageStyle(colors: true, timeZone: utc, currentRoom: "general")

    @Test func pinnedRoomMessageInTheCurrentRoom() {
        #expect(plain.format(message()) == "14:07 alice: hello")
    }

    @Test func unpinnedMarkerIsPresentExactlyWhenTheAuthorIsNotPinned() {
        let stranger = plain.format(message(nickname: "alice", key: malloryKey, pinnedName: nil, pinned: false))
        #expect(stranger == "14:07 alice? (unpinned ZZ12cd34): hello")
        #expect(!plain.format(message()).contains("unpinned"))
        #expect(!plain.format(message()).contains("?"))
        #expect(colored.format(message(pinned: false)).contains("? (unpinned qL6xA3bC)"))
        #expect(!colored.format(message(pinned: true)).contains("unpinned"))
    }

    @Test func pinnedNameIsShownWhenTheNicknameDiffers() {
        #expect(plain.format(message(nickname: "Al")) == "14:07 Al (alice): hello")
    }

    @Test func otherRoomsAreTaggedAndDirectMessagesMarked() {
        #expect(plain.format(message(room: "random")) == "14:07 [random] alice: hello")
        #expect(plain.format(message(room: "", kind: .direct)) == "14:07 [dm] alice: hello")
        #expect(MessageStyle(colors: false, timeZone: utc).format(message()) == "14:07 [general] alice: hello")
    }

    @Test func outgoingMessagesCarryNoTrustMarker() {
        #expect(plain.format(message(nickname: "me", pinnedName: nil, pinned: false, outgoing: true)) == "14:07 me: hello")
    }

    @Test func multiLineBodiesAreIndentedUnderTheHeader() {
        let formatted = plain.format(message(text: "first\nsecond\n\tthird"))
        #expect(formatted == "14:07 alice: first\n      second\n      \tthird")
    }

    @Test func everyFieldFromTheNetworkIsEscaped() {
        let hostile = message(
            text: "hi\u{1B}]0;pwned\u{07}", nickname: "ev\u{1B}il", pinnedName: "p\u{9B}n", room: "r\u{00}")
        for style in [plain, colored] {
            let formatted = style.format(hostile)
            #expect(!formatted.unicodeScalars.contains("\u{07}"))
            #expect(!formatted.unicodeScalars.contains("\u{9B}"))
            #expect(!formatted.unicodeScalars.contains("\u{00}"))
            #expect(formatted.contains("ev\\u{1B}il"))
            #expect(formatted.contains("hi\\u{1B}]0;pwned\\u{07}"))
            #expect(formatted.contains("[r\\u{00}]"))
            #expect(formatted.contains("(p\\u{9B}n)"))
        }
        // Without colour, nothing at all is an escape sequence.
        #expect(!plain.format(hostile).unicodeScalars.contains("\u{1B}"))
    }

    @Test func colorIsStablePerAuthorAndNeverTheSystemColor() {
        let first = MessageStyle.color(forAuthor: aliceKey)
        #expect(MessageStyle.color(forAuthor: aliceKey) == first)
        #expect(colored.format(message()).contains("\u{1B}[38;5;\(first)malice\u{1B}[0m"))
        #expect(colored.format(message(text: "again")).contains("\u{1B}[38;5;\(first)m"))
        #expect(!MessageStyle.authorPalette.contains(MessageStyle.systemColor))
        #expect(Set(MessageStyle.authorPalette).count == MessageStyle.authorPalette.count)
        // Different keys spread over the palette rather than all landing on one colour.
        let keys = (0..<64).map { "key-\($0)" }
        let used = Set(keys.map(MessageStyle.color(forAuthor:)))
        #expect(used.count > MessageStyle.authorPalette.count / 2)
        #expect(used.isSubset(of: Set(MessageStyle.authorPalette)))
    }

    @Test func noColorSequencesWhenColorsAreOff() {
        let formats = [
            plain.format(message()), plain.format(message(pinned: false)), plain.format(message(kind: .direct)),
            plain.formatSystem("linked to bob"), formatSystem("x", colors: false), formatMessage(message(), colors: false),
        ]
        for formatted in formats {
            #expect(!formatted.contains("\u{1B}"), "\(formatted)")
        }
    }

    @Test func systemLinesLookDifferentFromMessages() {
        #expect(plain.formatSystem("linked to bob") == "-- linked to bob")
        #expect(plain.formatSystem("a\nb") == "-- a\n-- b")
        #expect(colored.formatSystem("joined") == "\u{1B}[38;5;\(MessageStyle.systemColor)m-- joined\u{1B}[0m")
        #expect(plain.formatSystem("bad\u{1B}") == "-- bad\\u{1B}")
    }

    @Test func timeIsHoursAndMinutesWithLeadingZeros() {
        let early = ChatLine(
            timestamp: Date(timeIntervalSince1970: 3 * 60 + 9 * 3600), nickname: "a", authorKey: aliceKey,
            pinnedName: "a", pinned: true, room: "general", kind: .room, text: "t", outgoing: false)
        #expect(plain.format(early) == "09:03 a: t")
        let tokyo = MessageStyle(colors: false, timeZone: TimeZone(identifier: "Asia/Tokyo")!, currentRoom: "general")
        #expect(tokyo.format(early) == "18:03 a: t")
    }

    @Test func withoutAZoneTimesAreShownInTheLocalZone() {
        let line = message()
        let local = MessageStyle(colors: false, timeZone: .current, currentRoom: "general")
        #expect(MessageStyle(colors: false, currentRoom: "general").format(line) == local.format(line))
    }
}
