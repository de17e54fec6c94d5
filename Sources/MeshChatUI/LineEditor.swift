/// A pure line editor for a terminal in raw mode: bytes in, an edited line and events out.

/// What a person's keystrokes asked for beyond editing the line.
public enum LineEditorEvent: Equatable, Sendable {
    /// Enter was pressed: the finished line, which may be empty; the editor is cleared.
    case submit(String)
    /// The line or the cursor changed: redraw the input line.
    case lineChanged
    /// Ctrl-D on an empty line: the person is done typing.
    case endOfInput
    /// Ctrl-C: the line is left as it was, the caller decides what an interrupt means.
    case interrupt
    /// Ctrl-L: clear the screen and draw the input line again.
    case redraw
    /// A key that could not act (line full, nothing to delete, no older history): ring the bell.
    case bell
}

/// An emacs-style line editor fed raw terminal bytes, UTF-8 aware, with bounded length and history.
///
/// The editor works on grapheme clusters, so Backspace removes "é" or "🇫🇷" whole, and it keeps
/// partial UTF-8 and partial escape sequences across calls to `feed`, because a terminal read may end
/// anywhere. It never touches a terminal: `ChatScreen` renders it.
public struct LineEditor: Sendable {
    /// Longest line in UTF-8 bytes: the protocol's room body limit (PROTOCOL.md section 6, "1..16384 bytes").
    public static let maxLineBytes = 16_384
    /// Most lines kept for Up/Down recall; the oldest is dropped first.
    public static let defaultHistoryCapacity = 100
    /// Longest CSI parameter run kept; real keys use at most a few bytes ("1;5").
    static let maxEscapeParameterBytes = 16

    /// The line typed so far.
    public var line: String { String(characters) }
    /// The cursor position in characters (grapheme clusters) from the start of the line.
    public private(set) var cursor: Int = 0
    /// Submitted lines, oldest first, at most `historyCapacity` of them.
    public private(set) var history: [String] = []
    /// How many submitted lines Up/Down can recall.
    public let historyCapacity: Int

    private var characters: [Character] = []
    private var byteCount = 0
    private var decoder = InputDecoder()
    /// Which history entry is shown while browsing, and the line being typed before browsing began.
    private var browsing: (index: Int, draft: [Character])?
    /// A CR was the last byte: an LF right after it belongs to the same Enter (pasted CRLF text).
    private var lastByteWasCarriageReturn = false

    /// Creates an empty editor keeping at most `historyCapacity` lines of history.
    public init(historyCapacity: Int = LineEditor.defaultHistoryCapacity) {
        precondition(historyCapacity >= 0, "history capacity must not be negative")
        self.historyCapacity = historyCapacity
    }

    /// The text left of the cursor, which is what a renderer draws before putting the cursor back.
    public var textBeforeCursor: String { String(characters[..<cursor]) }
    /// The text from the cursor to the end of the line.
    public var textAfterCursor: String { String(characters[cursor...]) }

    /// Feeds raw bytes read from the terminal and returns what they asked for, in order.
    public mutating func feed(_ bytes: [UInt8]) -> [LineEditorEvent] {
        var events: [LineEditorEvent] = []
        for byte in bytes {
            let followsCarriageReturn = lastByteWasCarriageReturn
            lastByteWasCarriageReturn = byte == Self.carriageReturn
            if byte == Self.lineFeed && followsCarriageReturn && decoder.isIdle { continue }
            for key in decoder.decode(byte) {
                apply(key, into: &events)
            }
        }
        return events
    }

    /// Empties the line, keeping history; for a caller that treats Ctrl-C as "discard this line".
    public mutating func clear() {
        replaceLine(with: [])
        browsing = nil
    }

    // MARK: Keys

    private static let carriageReturn: UInt8 = 0x0D
    private static let lineFeed: UInt8 = 0x0A

    private mutating func apply(_ key: Key, into events: inout [LineEditorEvent]) {
        let before = (characters, cursor)
        switch key {
        case .insert(let scalar): insert(scalar, events: &events)
        case .enter: submit(events: &events)
        case .backspace: deleteBackward(events: &events)
        case .delete: deleteForward(events: &events)
        case .endOfInputOrDelete:
            if characters.isEmpty { events.append(.endOfInput) } else { deleteForward(events: &events) }
        case .interrupt: events.append(.interrupt)
        case .redraw: events.append(.redraw)
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(characters.count, cursor + 1)
        case .home: cursor = 0
        case .end: cursor = characters.count
        case .wordLeft: cursor = startOfWord(before: cursor)
        case .wordRight: cursor = endOfWord(after: cursor)
        case .killToStart:
            replaceLine(with: Array(characters[cursor...]), cursor: 0)
        case .killToEnd:
            replaceLine(with: Array(characters[..<cursor]))
        case .deleteWordBackward:
            let start = startOfWord(before: cursor)
            if start == cursor { events.append(.bell) }
            replaceLine(with: Array(characters[..<start] + characters[cursor...]), cursor: start)
        case .historyPrevious: recallPrevious(events: &events)
        case .historyNext: recallNext(events: &events)
        }
        // One change event per run of edits; a submit already tells the caller the line was emptied.
        let changed = before.0 != characters || before.1 != cursor
        if changed, key != .enter, events.last != .lineChanged {
            events.append(.lineChanged)
        }
    }

    private mutating func insert(_ scalar: Unicode.Scalar, events: inout [LineEditorEvent]) {
        // Control characters never enter the line: they could not be shown as typed, and the line goes out as a body.
        guard !TerminalText.isControl(scalar) else { return }
        let scalarBytes = UTF8.width(scalar)
        guard byteCount + scalarBytes <= Self.maxLineBytes else {
            events.append(.bell)
            return
        }
        byteCount += scalarBytes
        // A combining mark, variation selector or joiner extends the character before the cursor.
        if cursor > 0 {
            var merged = String(characters[cursor - 1])
            merged.unicodeScalars.append(scalar)
            if merged.count == 1 {
                characters[cursor - 1] = merged[merged.startIndex]
                return
            }
        }
        characters.insert(Character(scalar), at: cursor)
        cursor += 1
    }

    private mutating func submit(events: inout [LineEditorEvent]) {
        let submitted = line
        if !submitted.isEmpty, history.last != submitted, historyCapacity > 0 {
            if history.count == historyCapacity { history.removeFirst() }
            history.append(submitted)
        }
        browsing = nil
        replaceLine(with: [])
        events.append(.submit(submitted))
    }

    private mutating func deleteBackward(events: inout [LineEditorEvent]) {
        guard cursor > 0 else {
            events.append(.bell)
            return
        }
        byteCount -= characters[cursor - 1].utf8.count
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    private mutating func deleteForward(events: inout [LineEditorEvent]) {
        guard cursor < characters.count else {
            events.append(.bell)
            return
        }
        byteCount -= characters[cursor].utf8.count
        characters.remove(at: cursor)
    }

    /// Replaces the whole line; the cursor goes to `cursor`, or to the end when nil.
    private mutating func replaceLine(with newCharacters: [Character], cursor newCursor: Int? = nil) {
        characters = newCharacters
        byteCount = newCharacters.reduce(0) { $0 + $1.utf8.count }
        cursor = newCursor ?? newCharacters.count
    }

    // MARK: Words

    /// Start of the word left of `index`, skipping whitespace first, as Ctrl-W does in a shell.
    private func startOfWord(before index: Int) -> Int {
        var position = index
        while position > 0, characters[position - 1].isWhitespace { position -= 1 }
        while position > 0, !characters[position - 1].isWhitespace { position -= 1 }
        return position
    }

    private func endOfWord(after index: Int) -> Int {
        var position = index
        while position < characters.count, characters[position].isWhitespace { position += 1 }
        while position < characters.count, !characters[position].isWhitespace { position += 1 }
        return position
    }

    // MARK: History

    private mutating func recallPrevious(events: inout [LineEditorEvent]) {
        let index: Int
        switch browsing {
        case nil:
            guard !history.isEmpty else {
                events.append(.bell)
                return
            }
            browsing = (history.count - 1, characters)
            index = history.count - 1
        case let (current, draft)?:
            guard current > 0 else {
                events.append(.bell)
                return
            }
            index = current - 1
            browsing = (index, draft)
        }
        replaceLine(with: Array(history[index]))
    }

    private mutating func recallNext(events: inout [LineEditorEvent]) {
        guard let (current, draft) = browsing else {
            events.append(.bell)
            return
        }
        if current + 1 < history.count {
            browsing = (current + 1, draft)
            replaceLine(with: Array(history[current + 1]))
        } else {
            browsing = nil
            replaceLine(with: draft)
        }
    }
}

// MARK: - Decoding bytes into keys

/// One key press, after UTF-8 and escape sequences are decoded.
enum Key: Equatable, Sendable {
    case insert(Unicode.Scalar)
    case enter, backspace, delete, endOfInputOrDelete, interrupt, redraw
    case left, right, home, end, wordLeft, wordRight
    case killToStart, killToEnd, deleteWordBackward
    case historyPrevious, historyNext
}

/// Turns terminal bytes into keys, holding an incomplete UTF-8 character or escape sequence between reads.
struct InputDecoder: Sendable {
    /// Where the decoder is inside a multi-byte input.
    enum State: Equatable, Sendable {
        case ground
        /// Some bytes of a UTF-8 character, and how many it has in all.
        case utf8(bytes: [UInt8], expected: Int)
        /// ESC was read.
        case escape
        /// ESC [ and the parameter bytes so far (ECMA-48 CSI).
        case controlSequence(parameters: [UInt8])
        /// ESC O: one final byte follows (SS3, what many terminals send for Home/End and arrows).
        case singleShift
    }

    private(set) var state: State = .ground

    /// Whether no UTF-8 character or escape sequence is half read.
    var isIdle: Bool { state == .ground }

    private static let escapeByte: UInt8 = 0x1B

    mutating func decode(_ byte: UInt8) -> [Key] {
        switch state {
        case .ground:
            return decodeGround(byte)
        case .utf8(let bytes, let expected):
            guard Self.isContinuation(byte) else {
                // The character was cut short: drop it and read this byte afresh.
                state = .ground
                return decodeGround(byte)
            }
            let collected = bytes + [byte]
            guard collected.count == expected else {
                state = .utf8(bytes: collected, expected: expected)
                return []
            }
            state = .ground
            return Self.scalar(fromUTF8: collected).map { [.insert($0)] } ?? []
        case .escape:
            switch byte {
            case UInt8(ascii: "["):
                state = .controlSequence(parameters: [])
                return []
            case UInt8(ascii: "O"):
                state = .singleShift
                return []
            case Self.escapeByte:
                return []
            case UInt8(ascii: "b"):
                state = .ground
                return [.wordLeft]
            case UInt8(ascii: "f"):
                state = .ground
                return [.wordRight]
            default:
                // Alt with a key we do not bind: ignore both bytes.
                state = .ground
                return []
            }
        case .controlSequence(let parameters):
            switch byte {
            case 0x20...0x3F:
                // Parameter and intermediate bytes; an overlong run is kept short but still read to its end.
                let kept = parameters.count < LineEditor.maxEscapeParameterBytes ? parameters + [byte] : parameters
                state = .controlSequence(parameters: kept)
                return []
            case 0x40...0x7E:
                state = .ground
                return Self.controlSequenceKey(parameters: parameters, final: byte).map { [$0] } ?? []
            default:
                // Not part of a CSI: the sequence was malformed, so drop it and read this byte afresh.
                state = .ground
                return decodeGround(byte)
            }
        case .singleShift:
            state = .ground
            return Self.cursorKey(final: byte).map { [$0] } ?? []
        }
    }

    private mutating func decodeGround(_ byte: UInt8) -> [Key] {
        switch byte {
        case 0x01: return [.home]                // Ctrl-A
        case 0x02: return [.left]                // Ctrl-B
        case 0x03: return [.interrupt]           // Ctrl-C
        case 0x04: return [.endOfInputOrDelete]  // Ctrl-D
        case 0x05: return [.end]                 // Ctrl-E
        case 0x06: return [.right]               // Ctrl-F
        case 0x08, 0x7F: return [.backspace]     // Ctrl-H, DEL
        case 0x0A, 0x0D: return [.enter]         // LF, CR
        case 0x0B: return [.killToEnd]           // Ctrl-K
        case 0x0C: return [.redraw]              // Ctrl-L
        case 0x0E: return [.historyNext]         // Ctrl-N
        case 0x10: return [.historyPrevious]     // Ctrl-P
        case 0x15: return [.killToStart]         // Ctrl-U
        case 0x17: return [.deleteWordBackward]  // Ctrl-W
        case Self.escapeByte:
            state = .escape
            return []
        case 0x20...0x7E:
            return [.insert(Unicode.Scalar(byte))]
        case 0xC2...0xDF:
            state = .utf8(bytes: [byte], expected: 2)
            return []
        case 0xE0...0xEF:
            state = .utf8(bytes: [byte], expected: 3)
            return []
        case 0xF0...0xF4:
            state = .utf8(bytes: [byte], expected: 4)
            return []
        default:
            // Other C0 controls (Tab included) and bytes that cannot start UTF-8: nothing to do.
            return []
        }
    }

    private static func isContinuation(_ byte: UInt8) -> Bool {
        byte & 0xC0 == 0x80
    }

    /// The scalar a complete UTF-8 sequence encodes, or nil when it is overlong, a surrogate or beyond U+10FFFF.
    private static func scalar(fromUTF8 bytes: [UInt8]) -> Unicode.Scalar? {
        var iterator = bytes.makeIterator()
        var utf8 = UTF8()
        switch utf8.decode(&iterator) {
        case .scalarValue(let scalar): return scalar
        case .emptyInput, .error: return nil
        }
    }

    private static func controlSequenceKey(parameters: [UInt8], final: UInt8) -> Key? {
        let fields = String(decoding: parameters, as: UTF8.self).split(separator: ";", omittingEmptySubsequences: false)
        if final == UInt8(ascii: "~") {
            // VT220 editing keys: ESC [ n ~.
            switch fields.first {
            case "1", "7": return .home
            case "4", "8": return .end
            case "3": return .delete
            default: return nil
            }
        }
        // xterm sends ESC [ 1 ; 5 C for Ctrl-Right and ESC [ 1 ; 3 C for Alt-Right: move by words.
        let modifier = fields.count > 1 ? Int(fields[1]) : nil
        let withWordModifier = modifier == 3 || modifier == 5
        switch cursorKey(final: final) {
        case .left? where withWordModifier: return .wordLeft
        case .right? where withWordModifier: return .wordRight
        case let key: return key
        }
    }

    private static func cursorKey(final: UInt8) -> Key? {
        switch final {
        case UInt8(ascii: "A"): return .historyPrevious
        case UInt8(ascii: "B"): return .historyNext
        case UInt8(ascii: "C"): return .right
        case UInt8(ascii: "D"): return .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        default: return nil
        }
    }
}
