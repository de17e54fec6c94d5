import Foundation
import MeshChatUI
import MeshNode
import NIOConcurrencyHelpers

/// Connects a running node to a person at a terminal, or to a script on standard input and output.
///
/// Interactive: raw terminal, line editor, messages printed above the line being typed. Otherwise
/// (`--json`, or standard input is not a terminal): lines in, one JSON event per line out, and the
/// node keeps running after end of input until SIGINT or SIGTERM.
final class ChatSession: Sendable {
    private struct State {
        var editor = LineEditor()
        var screen: ChatScreen
        var style: MessageStyle
        var terminal: RawTerminal?
        /// The transfer whose progress bar is the last line printed, so the next one redraws it in place.
        var progressLine: String?
    }

    private enum Input: Sendable {
        /// Keys typed at the terminal.
        case keys([UInt8])
        /// A script's command (anything but room text), to carry out before `done` is signalled.
        case command(Result<ChatCommand, ChatCommandError>, done: DispatchSemaphore)
        case endOfInput
        case signal
    }

    let interactive: Bool
    // Output comes from the node's loop and from input handling; the lock keeps lines whole and in order.
    // The session's locks are pthread mutexes (NIO's), which ThreadSanitizer sees order the threads;
    // Synchronization's `Mutex` waits on a futex it cannot see (Sources/MeshNode/FileHashing.swift).
    private let state: NIOLockedValueBox<State>
    /// JSON lines not yet written: the node's events of one loop tick go out in one write (`flushOutput`).
    /// Everything non-interactive mode prints to standard output passes here, so the order holds.
    private let jsonOutput = NIOLockedValueBox<[UInt8]>([])

    /// How many of the room's last messages the chat shows when it opens.
    static let historyOnOpen = 20

    /// This node's display name, for the lines it posts.
    let nickname: String

    /// Whether offered files are taken without asking (`--accept-files`).
    let acceptFiles: Bool

    init(interactive: Bool, room: String, nickname: String, acceptFiles: Bool = false) {
        self.interactive = interactive
        self.acceptFiles = acceptFiles
        self.nickname = nickname
        let colors = interactive && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        state = NIOLockedValueBox(State(screen: ChatScreen(room: room), style: MessageStyle(colors: colors, currentRoom: room)))
    }

    // MARK: Output

    /// Shows a node event: a JSON line for scripts, a formatted line for people.
    func show(_ event: NodeEvent) {
        if !interactive {
            jsonOutput.withLockedValue { _ = event.appendJSONLine(to: &$0) }
            return
        }
        if case let .file(.progress(id, peer, name, direction, bytes, size)) = event {
            return drawProgress(id: id, name: name, peer: peer, incoming: direction == .incoming, bytes: bytes, size: size)
        }
        guard let text = render(event) else { return }
        printAbove(text)
    }

    /// Draws a transfer's progress bar: in place while it is still the last line, else as a new line.
    private func drawProgress(id: String, name: String, peer: String, incoming: Bool, bytes: UInt64, size: UInt64) {
        state.withLockedValue { state in
            let line = state.style.formatSystem(ProgressBar.line(name: name, peer: peer, incoming: incoming, bytes: bytes,
                                                                 size: size, columns: state.screen.columns))
            if state.progressLine == id {
                Self.writeNow(state.screen.replaceLastLine(line, editor: state.editor))
            } else {
                Self.writeNow(state.screen.printAbove(line, editor: state.editor))
                state.progressLine = id
            }
        }
    }

    /// A line for people, in interactive mode only.
    func system(_ text: String) {
        if interactive { printAbove(state.withLockedValue { $0.style.formatSystem(text) }) }
        else { FileHandle.standardError.write(Data("meshchat: \(text)\n".utf8)) }
    }

    private func printAbove(_ text: String) {
        state.withLockedValue { state in
            Self.writeNow(state.screen.printAbove(text, editor: state.editor))
            state.progressLine = nil
        }
    }

    /// Writes the JSON lines collected so far; the node calls it at the end of each burst of events.
    func flushOutput() {
        jsonOutput.withLockedValue { pending in
            guard !pending.isEmpty else { return }
            Self.writeNow(bytes: pending)
            pending.removeAll(keepingCapacity: pending.capacity <= Self.keptOutputCapacity)
        }
    }

    /// The most output buffer kept between bursts; a larger one, after a flood, is given back.
    static let keptOutputCapacity = 1 << 20

    private func write(_ text: String) {
        if !interactive {
            // Behind any events still pending, so lines keep the order they happened in.
            return jsonOutput.withLockedValue { pending in
                pending += text.utf8
                Self.writeNow(bytes: pending)
                pending.removeAll(keepingCapacity: pending.capacity <= Self.keptOutputCapacity)
            }
        }
        state.withLockedValue { _ in Self.writeNow(text) }
    }

    private static func writeNow(_ text: String) {
        writeNow(bytes: Array(text.utf8))
    }

    private static func writeNow(bytes: [UInt8]) {
        var bytes = bytes
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Foundation.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }

    private func render(_ event: NodeEvent) -> String? {
        let style = state.withLockedValue { $0.style }
        switch event {
        case let .ready(key, nickname, listen):
            return style.formatSystem("You are \(nickname), peer key \(key.base64), listening on \(listen). Type /help for commands.")
        case let .linkUp(peer, _, address, direction, suite):
            return style.formatSystem("\(peer) joined (\(direction == .outbound ? "dialed" : "dialed in from") \(address), \(suite.noiseProtocolName))")
        case let .linkDown(peer, reason):
            return style.formatSystem("\(peer) left (\(reason))")
        case let .handshakeFailed(peer, address, reason):
            return style.formatSystem("Could not link with \(peer) at \(address): \(reason). Retrying.")
        case let .rejected(address, reason, key):
            return style.formatSystem("Refused a connection from \(address): \(reason)\(key.map { ", key \($0.base64)" } ?? "").")
        case let .message(message):
            return style.format(ChatLine(
                timestampMilliseconds: message.timestamp, nickname: message.from, authorKey: message.author.base64,
                pinnedName: message.peer, pinned: message.pinned, room: message.room ?? "",
                kind: message.kind == .room ? .room : .direct, text: message.text, outgoing: false))
        case .sent:
            return nil // shown when posted, with its text
        case let .netcatBridge(listen, forward):
            return style.formatSystem("netcat bridge: listening on \(listen)\(forward.map { ", forwarding room messages to \($0)" } ?? "").")
        case let .error(message), let .notice(message):
            return style.formatSystem(message)
        case let .file(event):
            return style.formatSystem(describe(event))
        }
    }

    /// A file event as a sentence for people.
    private func describe(_ event: FileEvent) -> String {
        switch event {
        case let .offered(id, peer, name, size, _):
            let short = String(id.prefix(8))
            let what = "\(escapeForTerminal(peer)) offers \(escapeForTerminal(name)) (\(ProgressBar.byteCount(size)))"
            return acceptFiles ? "\(what); accepting it." : "\(what): type /accept \(short) to take it or /refuse \(short)."
        case let .progress(_, peer, name, direction, bytes, size):
            return ProgressBar.line(name: name, peer: peer, incoming: direction == .incoming, bytes: bytes, size: size)
        case let .received(_, peer, name, path, bytes, _):
            return "Received \(escapeForTerminal(name)) from \(escapeForTerminal(peer)) (\(ProgressBar.byteCount(bytes)), SHA-256 checked): \(escapeForTerminal(path))"
        case let .sent(_, peer, name, bytes, _):
            return "\(escapeForTerminal(peer)) received \(escapeForTerminal(name)) (\(ProgressBar.byteCount(bytes))) and confirmed its hash."
        case let .failed(_, peer, name, reason):
            return "The transfer of \(escapeForTerminal(name)) with \(escapeForTerminal(peer)) failed: \(reason)."
        }
    }

    // MARK: Input

    /// Reads input until the person quits or a signal arrives.
    func run(node: Node) async {
        let (inputs, continuation) = AsyncStream<Input>.makeStream()
        if interactive {
            do {
                let terminal = try RawTerminal.enter()
                state.withLockedValue { $0.terminal = terminal }
            } catch {
                system("Cannot switch the terminal to raw mode: \(error).")
            }
            // The chat opens on the room's recent past.
            let room = state.withLockedValue { $0.screen.room }
            for message in (try? await node.history(room: room, limit: Self.historyOnOpen)) ?? [] { show(.message(message)) }
            state.withLockedValue { Self.writeNow($0.screen.redraw(editor: $0.editor)) }
        }
        // SIGINT and SIGTERM end the session (their handlers were installed before the node started).
        Thread {
            StopSignals.wait()
            continuation.yield(.signal)
        }.start()
        // Standard input is read on its own thread: the read blocks, and nothing else may wait on it.
        let reader = interactive
            ? Thread {
                Self.readStandardInput { continuation.yield(.keys(Array($0))) }
                continuation.yield(.endOfInput)
            }
            : Thread { self.readScript(node: node, commands: continuation) }
        reader.start()
        defer { scriptPosting.withLockedValue { $0 = false } }

        for await input in inputs {
            switch input {
            case .signal, .endOfInput:
                return
            case let .command(command, done):
                if await !handle(command, node: node) { return } // the reader stays parked on `done`
                done.signal()
            case .keys(let bytes):
                let events = state.withLockedValue { $0.editor.feed(bytes) }
                for event in events {
                    switch event {
                    case .submit(let line):
                        if await !handle(ChatCommand.parse(line), node: node) { return }
                    case .lineChanged:
                        state.withLockedValue { Self.writeNow($0.screen.redraw(editor: $0.editor)) }
                    case .endOfInput, .interrupt:
                        return
                    case .redraw:
                        state.withLockedValue { Self.writeNow($0.screen.clearScreen(editor: $0.editor)) }
                    case .bell:
                        write("\u{07}")
                    }
                }
            }
        }
    }

    /// Calls `received` with each read's bytes until end of input or a read error.
    private static func readStandardInput(_ received: (ArraySlice<UInt8>) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            received(buffer[0..<count])
        }
    }

    /// The most room texts posted in one trip to the node (one store commit): enough to share the
    /// cost, few enough that the node's loop is never held up long.
    static let postBatchLimit = 128
    /// The most runs of script text handed to the node and not yet done: a script that writes
    /// faster than the node stores waits in `read`, so what is queued stays bounded.
    static let postBatchesInFlight = 8

    /// Free places for runs in flight (`postBatchesInFlight`).
    private let postSlots = DispatchSemaphore(value: postBatchesInFlight)
    /// Runs in flight, so a command or an error waits until the lines before it are carried out and shown.
    private let postsInFlight = DispatchGroup()
    /// False once the session ends: no run may reach the node after it stops.
    private let scriptPosting = NIOLockedValueBox(true)

    /// Carries out a script's lines in order, on the calling (reader) thread, until end of input.
    ///
    /// Runs of room text go from here straight to the node's loop; each command is handed to the
    /// session's task and reading waits until it is done (a `/join` changes where the next text goes).
    /// After end of input the node keeps running until a signal or `/quit`.
    private func readScript(node: Node, commands: AsyncStream<Input>.Continuation) {
        var splitter = ScriptLines()
        var texts: [String] = []
        func postTexts() {
            guard !texts.isEmpty else { return }
            postSlots.wait()
            postsInFlight.enter()
            let run = texts
            texts.removeAll()
            let posted = scriptPosting.withLockedValue { posting in
                if posting { node.post(run) { self.showPosted($0) } }
                return posting
            }
            if !posted {
                postsInFlight.leave()
                postSlots.signal()
            }
        }
        // What was posted before is carried out and shown first.
        func finishPosts() {
            postTexts()
            postsInFlight.wait()
        }
        func carryOut(_ lines: [ScriptLines.Line]) {
            for line in lines {
                switch line {
                case .text(let text):
                    let command = ChatCommand.parse(text)
                    switch command {
                    case .success(.say(let text)):
                        texts.append(text)
                        if texts.count == Self.postBatchLimit { postTexts() }
                    case .success(.empty):
                        break
                    default:
                        finishPosts()
                        let done = DispatchSemaphore(value: 0)
                        commands.yield(.command(command, done: done))
                        done.wait()
                    }
                case .tooLong:
                    finishPosts()
                    showNow(.error(message: "An input line longer than \(ScriptLines.maxLineBytes) bytes was dropped; a text is at most \(ChatCommand.maxTextBytes) bytes."))
                }
            }
            postTexts()
        }
        Self.readStandardInput { carryOut(splitter.feed($0)) }
        carryOut(splitter.finish().map { [$0] } ?? [])
    }

    /// Shows the outcomes of a run of posted texts; called on the node's loop.
    private func showPosted(_ outcomes: [Result<NodeEvent, any Error>]) {
        for outcome in outcomes {
            switch outcome {
            case .success(let sent): show(sent)
            case .failure(let error): show(.error(message: "\(error)"))
            }
        }
        flushOutput()
        postsInFlight.leave()
        postSlots.signal()
    }

    /// Carries out one parsed line; false means quit.
    private func handle(_ parsed: Result<ChatCommand, ChatCommandError>, node: Node) async -> Bool {
        switch parsed {
        case .failure(let error):
            report(error.description)
        case .success(let command):
            do {
                switch command {
                case .empty:
                    break
                case .say(let text):
                    let sent = try await node.post(text)
                    showSent(sent, text: text, node: node, peer: nil)
                case .direct(let peer, let text):
                    let sent = try await node.postDirect(text, to: peer)
                    showSent(sent, text: text, node: node, peer: peer)
                case .join(let room):
                    await node.join(room)
                    state.withLockedValue { $0.screen.room = room; $0.style.currentRoom = room }
                    if interactive { system("Now in \(room).") }
                case .peers:
                    let status = try await node.status()
                    if interactive {
                        let lines = status.peers.map { peer in
                            let place = peer.linkAddress.map { " via \($0)" } ?? peer.address.map { " at \($0)" } ?? ""
                            let suite = peer.suite.map { ", \($0.noiseProtocolName)" } ?? ""
                            let seen = peer.state == "linked" ? "" : ", last seen " + (peer.lastSeen.map(Self.describeTime) ?? "never")
                            return "\(peer.name): \(peer.state)\(place)\(suite)\(seen)"
                        }
                        system(lines.isEmpty ? "No peers are pinned; add one with meshchat peer add NAME KEY HOST:PORT." : lines.joined(separator: "\n"))
                    } else {
                        write(jsonLine(["event": "peers", "peers": status.jsonObject["peers"] ?? []]) + "\n")
                    }
                case .history(let limit):
                    let room = state.withLockedValue { $0.screen.room }
                    for message in try await node.history(room: room, limit: limit ?? 20) { show(.message(message)) }
                    flushOutput()
                case .quit:
                    return false
                case .help:
                    if interactive { system(ChatCommand.helpText) }
                case let .sendFile(peer, path):
                    let absolute = Self.absolutePath(path)
                    let id = try await node.sendFile(to: peer, path: absolute)
                    if interactive { system("Offering \((absolute as NSString).lastPathComponent) to \(peer) (id \(id.prefix(8))); it waits for \(peer) to accept.") }
                case .acceptFile(let id):
                    let done = try await node.fileCommand(.accept, idPrefix: id)
                    if interactive { system(done) }
                case .refuseFile(let id):
                    let done = try await node.fileCommand(.refuse, idPrefix: id)
                    if interactive { system(done) }
                case .cancelFile(let id):
                    let done = try await node.fileCommand(.cancel, idPrefix: id)
                    if interactive { system(done) }
                }
            } catch {
                report("\(error)")
            }
        }
        return true
    }

    private func showSent(_ sent: NodeEvent, text: String, node: Node, peer: String?) {
        guard interactive else { return showNow(sent) }
        guard case let .sent(_, kind, room, _) = sent else { return }
        let line = state.withLockedValue { state in
            state.style.format(ChatLine(
                timestamp: Date(), nickname: peer.map { "\(nickname) to \($0)" } ?? nickname, authorKey: node.key.base64, pinnedName: nil,
                pinned: true, room: room ?? "", kind: kind == .room ? .room : .direct, text: text, outgoing: true))
        }
        printAbove(line)
    }

    /// A typed path as the node must see it: `~` expanded, relative to this process's directory.
    static func absolutePath(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return expanded }
        return FileManager.default.currentDirectoryPath + "/" + expanded
    }

    /// A last-seen time as people read it: the time today, or the date and time before.
    private static func describeTime(_ milliseconds: UInt64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        return Calendar.current.isDateInToday(date)
            ? date.formatted(date: .omitted, time: .shortened)
            : date.formatted(date: .abbreviated, time: .shortened)
    }

    private func report(_ message: String) {
        if interactive { system(message) } else { showNow(.error(message: message)) }
    }

    /// Shows an event from input handling (off the node's loop, so no burst end follows): written now.
    private func showNow(_ event: NodeEvent) {
        show(event)
        flushOutput()
    }

    /// Writes what is pending and restores the terminal.
    func finish() {
        flushOutput()
        state.withLockedValue { state in
            if let terminal = state.terminal {
                Self.writeNow(ChatScreen.clearLine)
                terminal.restore()
                state.terminal = nil
            }
        }
    }
}
