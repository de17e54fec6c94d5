import Testing
import MeshChatUI

private func parsed(_ line: String) -> ChatCommand? {
    try? ChatCommand.parse(line).get()
}

private func error(_ line: String) -> ChatCommandError? {
    if case .failure(let error) = ChatCommand.parse(line) { return error }
    return nil
}

@Suite struct ChatCommandTests {
    @Test func plainTextIsSaidAsTyped() {
        #expect(parsed("hello there") == .say("hello there"))
        #expect(parsed("  indented ") == .say("  indented "))
        #expect(parsed("a / b") == .say("a / b"))
    }

    @Test func doubleSlashSendsTextWithOneSlashRemoved() {
        #expect(parsed("//shrug") == .say("/shrug"))
        #expect(parsed("///") == .say("//"))
    }

    @Test func emptyAndWhitespaceLinesAreEmpty() {
        #expect(parsed("") == .empty)
        #expect(parsed("   \t ") == .empty)
    }

    @Test func directMessage() {
        #expect(parsed("/msg alice hi there") == .direct(peer: "alice", text: "hi there"))
        #expect(parsed("/msg  bob.b_2-x \t  spaced out  ") == .direct(peer: "bob.b_2-x", text: "spaced out"))
        #expect(error("/msg") == .missingMessageArguments)
        #expect(error("/msg alice") == .missingMessageArguments)
        #expect(error("/msg alice   ") == .missingMessageArguments)
        #expect(error("/msg al!ce hi") == .invalidPeerName)
        #expect(error("/msg \(String(repeating: "a", count: 33)) hi") == .invalidPeerName)
        #expect(parsed("/msg \(String(repeating: "a", count: 32)) hi") != nil)
    }

    @Test func join() {
        #expect(parsed("/join general") == .join("general"))
        #expect(parsed("/join  café du coin ") == .join("café du coin"))
        #expect(error("/join") == .missingRoom)
        #expect(error("/join   ") == .missingRoom)
        #expect(error("/join a\u{1B}b") == .invalidRoom)
        #expect(error("/join a\u{85}b") == .invalidRoom)
        #expect(error("/join " + String(repeating: "é", count: 33)) == .invalidRoom, "66 bytes is over 64")
        #expect(parsed("/join " + String(repeating: "é", count: 32)) == .join(String(repeating: "é", count: 32)))
    }

    @Test func commandsWithoutArguments() {
        #expect(parsed("/peers") == .peers)
        #expect(parsed("/quit") == .quit)
        #expect(parsed("/help") == .help)
        #expect(parsed("/QUIT ") == .quit)
        #expect(error("/peers now") == .unexpectedArguments(command: "peers"))
        #expect(error("/quit please") == .unexpectedArguments(command: "quit"))
        #expect(error("/help me") == .unexpectedArguments(command: "help"))
    }

    @Test func history() {
        #expect(parsed("/history") == .history(limit: nil))
        #expect(parsed("/history 20") == .history(limit: 20))
        #expect(parsed("/history \(ChatCommand.maxHistoryLimit)") == .history(limit: ChatCommand.maxHistoryLimit))
        for bad in ["0", "-3", "ten", "2 3", "\(ChatCommand.maxHistoryLimit + 1)", "٣"] {
            #expect(error("/history \(bad)") == .invalidHistoryLimit, "/history \(bad)")
        }
    }

    @Test func unknownCommands() {
        #expect(error("/nick bob") == .unknownCommand("nick"))
        #expect(error("/") == .unknownCommand(""))
        #expect(error("/\u{1B}[2J") == .unknownCommand("\\u{1B}[2J"), "the name is escaped before it is shown")
    }

    @Test func overlongTextIsRefused() {
        let limit = ChatCommand.maxTextBytes
        #expect(parsed(String(repeating: "x", count: limit)) != nil)
        #expect(error(String(repeating: "x", count: limit + 1)) == .textTooLong)
        #expect(error("/msg bob " + String(repeating: "x", count: limit + 1)) == .textTooLong)
    }

    @Test func everyErrorIsOneSentenceThatSaysWhatToType() {
        let errors: [ChatCommandError] = [
            .unknownCommand("nick"), .missingMessageArguments, .invalidPeerName, .missingRoom, .invalidRoom,
            .invalidHistoryLimit, .unexpectedArguments(command: "peers"), .textTooLong,
        ]
        for error in errors {
            let sentence = error.description
            #expect(sentence.hasSuffix("."), "\(sentence)")
            #expect(!sentence.dropLast().contains(". "), "one sentence: \(sentence)")
            #expect(!sentence.contains("\n"))
        }
        #expect(ChatCommandError.missingMessageArguments.description.contains("/msg NAME TEXT"))
        #expect(ChatCommandError.missingRoom.description.contains("/join ROOM"))
        #expect(ChatCommandError.unknownCommand("nick").description.contains("/help"))
        #expect(ChatCommandError.unexpectedArguments(command: "peers").description.contains("/peers"))
    }

    @Test func helpListsEveryCommand() {
        for command in ["/msg NAME TEXT", "/join ROOM", "/peers", "/history [N]", "/quit", "/help", "//"] {
            #expect(ChatCommand.helpText.contains(command), "\(command)")
        }
    }
}

@Suite struct FileChatCommandTests {
    @Test func fileTakesAPeerAndTheRestOfTheLineAsThePath() {
        #expect(parsed("/file bob ~/My Documents/a b.txt") == .sendFile(peer: "bob", path: "~/My Documents/a b.txt"))
        #expect(error("/file bob") == .missingFileArguments)
        #expect(error("/file") == .missingFileArguments)
        #expect(error("/file b/o/b x") == .invalidPeerName)
    }

    @Test func acceptRefuseAndCancelTakeAnOptionalHexIdPrefix() {
        #expect(parsed("/accept") == .acceptFile(id: nil))
        #expect(parsed("/accept 1A2b") == .acceptFile(id: "1a2b"))
        #expect(parsed("/refuse 00ff") == .refuseFile(id: "00ff"))
        #expect(parsed("/cancel") == .cancelFile(id: nil))
        #expect(error("/accept nothex") == .invalidTransferID(command: "accept"))
        #expect(error("/cancel " + String(repeating: "a", count: 33)) == .invalidTransferID(command: "cancel"))
    }

    @Test func helpListsTheFileCommands() {
        for command in ["/file NAME PATH", "/accept", "/refuse", "/cancel"] {
            #expect(ChatCommand.helpText.contains(command))
        }
    }
}
