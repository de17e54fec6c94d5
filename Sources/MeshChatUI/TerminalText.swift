/// Text rules shared by everything MeshChatUI writes to a terminal: control escaping and display width.

/// Returns `s` with every character of Unicode category Cc except newline and tab shown escaped as `\u{XX}`.
///
/// PROTOCOL.md section 6: "A node never writes a character of category Cc other than newline and tab
/// from a body to a terminal: it shows it escaped." Category Cc is exactly C0 (U+0000..U+001F), DEL (U+007F)
/// and C1 (U+0080..U+009F); C1 matters because terminals honour U+009B as a one-character CSI.
/// The same rule applies to nicknames and room names, which an author chooses just as freely.
public func escapeForTerminal(_ s: String) -> String {
    var escaped = String.UnicodeScalarView()
    for scalar in s.unicodeScalars {
        if TerminalText.mustEscape(scalar) {
            escaped.append(contentsOf: TerminalText.visibleEscape(scalar).unicodeScalars)
        } else {
            escaped.append(scalar)
        }
    }
    return String(escaped)
}

/// Terminal text helpers: what must be escaped and how many columns a character takes.
public enum TerminalText {
    /// Whether `scalar` is a Cc character that may not reach a terminal raw (newline and tab may).
    public static func mustEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar != "\n" && scalar != "\t" && isControl(scalar)
    }

    /// Whether `scalar` is in Unicode general category Cc.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control
    }

    /// The visible form of an escaped control character: `\u{1B}` for ESC, `\u{85}` for NEL.
    static func visibleEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "\\u{" + (hex.count < 2 ? "0" + hex : hex) + "}"
    }

    /// Columns `text` occupies on a terminal, counting East Asian wide characters and emoji as two.
    public static func displayWidth(_ text: String) -> Int {
        text.reduce(0) { $0 + displayWidth($1) }
    }

    /// Columns one grapheme cluster occupies: 0 for one made only of zero-width scalars, 2 when wide, else 1.
    ///
    /// An approximation of wcwidth: terminals disagree on some emoji, but CJK text and the common
    /// emoji are placed correctly, which is what keeps the cursor where the person typed.
    public static func displayWidth(_ character: Character) -> Int {
        var sawVisible = false
        for scalar in character.unicodeScalars {
            if isZeroWidth(scalar) { continue }
            sawVisible = true
            if isWide(scalar) { return 2 }
        }
        if !sawVisible { return 0 }
        // A text-default symbol followed by VS16 (U+FE0F) is drawn as a two-column emoji.
        return character.unicodeScalars.contains("\u{FE0F}") ? 2 : 1
    }

    private static func isZeroWidth(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control:
            return true
        default:
            return false
        }
    }

    /// Ranges drawn two columns wide: Unicode East Asian Width W and F blocks, and emoji presentation.
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F,   // Hangul Jamo initial consonants
        0x2E80...0x303E,   // CJK radicals, punctuation
        0x3041...0x33FF,   // Hiragana, Katakana, CJK compatibility
        0x3400...0x4DBF,   // CJK extension A
        0x4E00...0x9FFF,   // CJK unified ideographs
        0xA000...0xA4CF,   // Yi
        0xAC00...0xD7A3,   // Hangul syllables
        0xF900...0xFAFF,   // CJK compatibility ideographs
        0xFE30...0xFE4F,   // CJK compatibility forms
        0xFF00...0xFF60,   // fullwidth forms
        0xFFE0...0xFFE6,   // fullwidth signs
        0x20000...0x3FFFD, // CJK extensions B and beyond
    ]

    private static func isWide(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isEmojiPresentation { return true }
        return wideRanges.contains { $0.contains(scalar.value) }
    }
}
