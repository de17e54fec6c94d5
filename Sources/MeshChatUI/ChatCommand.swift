import MeshWire
/// What a typed line asks the node to do.

/// A parsed input line: text for the current room, or one of the slash commands.
public enum ChatCommand: Equatable, Sendable {
    /// An empty or whitespace-only line: nothing to do.
    case empty
    /// Text for the current room.
    case say(String)
    /// `/msg NAME TEXT`: direct text to the pinned peer NAME.
    case direct(peer: String, text: String)
    /// `/join ROOM`: make ROOM the current room.
    case join(String)
    /// `/peers`: list pinned peers and links.
    case peers
    /// `/history [N]`: show the last N messages of the current room, or a default number.
    case history(limit: Int?)
    /// `/quit`: close links and exit.
    case quit
    /// `/help`: show `helpText`.
    case help
    /// `/file NAME PATH`: offer the file at PATH to the linked pinned peer NAME.
    case sendFile(peer: String, path: String)
    /// `/accept [ID]`: take an offered file (ID: the start of its id; optional when only one waits).
    case acceptFile(id: String?)
    /// `/refuse [ID]`: say no to an offered file.
    case refuseFile(id: String?)
    /// `/cancel [ID]`: stop a file transfer, either way.
    case cancelFile(id: String?)

    /// Largest N `/history N` accepts, so one command cannot ask the store for everything it has.
    public static let maxHistoryLimit = 10_000
    /// Longest text in UTF-8 bytes: the protocol's body limit (PROTOCOL.md section 6, "1..16384 bytes").
    public static let maxTextBytes = 16_384

    /// The commands, one a line, as `/help` shows them.
    public static let helpText = """
        Type text and press Enter to send it to the current room. Commands:
          /msg NAME TEXT   send TEXT to the pinned peer NAME only
          /join ROOM       switch to ROOM (created by speaking in it)
          /peers           list pinned peers and which are linked
          /history [N]     show the last N messages of this room
          /file NAME PATH  send the file at PATH to the linked pinned peer NAME
          /accept [ID]     take an offered file (ID may be left out when only one waits)
          /refuse [ID]     say no to an offered file
          /cancel [ID]     stop a file transfer
          /quit            close every link and exit
          /help            show this help
          //TEXT           send TEXT starting with one slash
        Keys: Left/Right, Home/End (Ctrl-A/Ctrl-E), Up/Down for earlier lines, Ctrl-W deletes a word,
        Ctrl-U and Ctrl-K delete to the start and to the end, Ctrl-L redraws, Ctrl-D on an empty line quits.
        """

    /// Parses one typed line.
    public static func parse(_ line: String) -> Result<ChatCommand, ChatCommandError> {
        if line.allSatisfy(\.isWhitespace) {
            return .success(.empty)
        }
        guard line.hasPrefix("/") else {
            return say(line)
        }
        if line.hasPrefix("//") {
            return say(String(line.dropFirst()))
        }
        let afterSlash = line.dropFirst()
        let name = afterSlash.prefix { !$0.isWhitespace }
        let arguments = afterSlash.dropFirst(name.count).trimmingWhitespace()
        switch name.lowercased() {
        case "msg": return direct(arguments)
        case "join": return join(arguments)
        case "peers": return noArguments(.peers, name: "peers", arguments)
        case "history": return history(arguments)
        case "quit": return noArguments(.quit, name: "quit", arguments)
        case "help": return noArguments(.help, name: "help", arguments)
        case "file": return sendFile(arguments)
        case "accept": return transferID(arguments, name: "accept").map { .acceptFile(id: $0) }
        case "refuse": return transferID(arguments, name: "refuse").map { .refuseFile(id: $0) }
        case "cancel": return transferID(arguments, name: "cancel").map { .cancelFile(id: $0) }
        default: return .failure(.unknownCommand(escapeForTerminal(String(name))))
        }
    }

    private static func say(_ text: String) -> Result<ChatCommand, ChatCommandError> {
        guard text.utf8.count <= maxTextBytes else { return .failure(.textTooLong) }
        return .success(.say(text))
    }

    private static func direct(_ arguments: Substring) -> Result<ChatCommand, ChatCommandError> {
        let peer = arguments.prefix { !$0.isWhitespace }
        let text = arguments.dropFirst(peer.count).trimmingWhitespace()
        guard !peer.isEmpty, !text.isEmpty else { return .failure(.missingMessageArguments) }
        guard Names.isValidPeerName(peer) else { return .failure(.invalidPeerName) }
        guard text.utf8.count <= maxTextBytes else { return .failure(.textTooLong) }
        return .success(.direct(peer: String(peer), text: String(text)))
    }

    private static func sendFile(_ arguments: Substring) -> Result<ChatCommand, ChatCommandError> {
        let peer = arguments.prefix { !$0.isWhitespace }
        // A path may hold spaces, so the whole rest of the line is the path.
        let path = arguments.dropFirst(peer.count).trimmingWhitespace()
        guard !peer.isEmpty, !path.isEmpty else { return .failure(.missingFileArguments) }
        guard Names.isValidPeerName(peer) else { return .failure(.invalidPeerName) }
        return .success(.sendFile(peer: String(peer), path: String(path)))
    }

    /// The optional id argument of `/accept`, `/refuse` and `/cancel`: 1 to 32 hex digits.
    private static func transferID(_ arguments: Substring, name: String) -> Result<String?, ChatCommandError> {
        if arguments.isEmpty { return .success(nil) }
        guard arguments.count <= 32, arguments.allSatisfy(\.isHexDigit) else { return .failure(.invalidTransferID(command: name)) }
        return .success(arguments.lowercased())
    }

    private static func join(_ arguments: Substring) -> Result<ChatCommand, ChatCommandError> {
        // A room name may contain spaces (PROTOCOL.md section 1 forbids only Cc), so the whole rest is the room.
        guard !arguments.isEmpty else { return .failure(.missingRoom) }
        guard Names.isValidRoom(String(arguments)) else { return .failure(.invalidRoom) }
        return .success(.join(String(arguments)))
    }

    private static func history(_ arguments: Substring) -> Result<ChatCommand, ChatCommandError> {
        if arguments.isEmpty { return .success(.history(limit: nil)) }
        guard arguments.allSatisfy(\.isASCII), let limit = Int(arguments), (1...maxHistoryLimit).contains(limit) else {
            return .failure(.invalidHistoryLimit)
        }
        return .success(.history(limit: limit))
    }

    private static func noArguments(
        _ command: ChatCommand, name: String, _ arguments: Substring
    ) -> Result<ChatCommand, ChatCommandError> {
        arguments.isEmpty ? .success(command) : .failure(.unexpectedArguments(command: name))
    }
}

/// Why a typed line is not a command; `description` tells the person what to type instead.
public enum ChatCommandError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `/NAME` is not a command; carries NAME, already escaped for the terminal.
    case unknownCommand(String)
    /// `/msg` without a peer name or without text.
    case missingMessageArguments
    /// `/msg` with a name that cannot be a pinned peer's.
    case invalidPeerName
    /// `/join` without a room.
    case missingRoom
    /// `/join` with a room name the protocol forbids.
    case invalidRoom
    /// `/history` with something other than a whole number in range.
    case invalidHistoryLimit
    /// A command that takes no arguments was given some; carries the command name.
    case unexpectedArguments(command: String)
    /// The text is longer than a message body may be.
    case textTooLong
    /// `/file` without a peer name or a path.
    case missingFileArguments
    /// `/accept`, `/refuse` or `/cancel` with something other than the start of a transfer id.
    case invalidTransferID(command: String)

    /// One sentence saying what went wrong and what to type.
    public var description: String {
        switch self {
        case .unknownCommand(let name):
            "There is no command /\(name): type /help to list the commands, or start the line with // to send text beginning with a slash."
        case .missingMessageArguments:
            "Type /msg NAME TEXT to send TEXT to the pinned peer NAME, for example /msg alice hello."
        case .invalidPeerName:
            "A peer name is 1 to \(Names.peerNameBytes.upperBound) ASCII letters, digits, dots, underscores or hyphens: type /peers to see the names you can use with /msg."
        case .missingRoom:
            "Type /join ROOM to switch rooms, for example /join general."
        case .invalidRoom:
            "A room name is 1 to \(WireBounds.roomBytes.upperBound) bytes with no control characters, so type /join ROOM with a shorter name, for example /join general."
        case .invalidHistoryLimit:
            "Type /history for recent messages or /history N with N a whole number from 1 to \(ChatCommand.maxHistoryLimit)."
        case .unexpectedArguments(let command):
            "Type /\(command) on its own: it takes no arguments."
        case .textTooLong:
            "That text is longer than \(ChatCommand.maxTextBytes) bytes: send it as several shorter messages."
        case .missingFileArguments:
            "Type /file NAME PATH to send the file at PATH to the pinned peer NAME, for example /file alice ~/notes.txt."
        case .invalidTransferID(let command):
            "Type /\(command) on its own, or /\(command) ID with the start of the transfer id the offer showed (hex digits)."
        }
    }
}


extension Substring {
    /// The substring without leading and trailing whitespace.
    fileprivate func trimmingWhitespace() -> Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
