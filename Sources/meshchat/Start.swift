import ArgumentParser
import Foundation
import Logging
import MeshChatUI
import MeshCrypto
import MeshNode
import MeshStore
import MeshWire

extension MeshChat {
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the node: listen, dial pinned peers and chat.",
            discussion: "With --json, or when standard input is not a terminal, reads lines (text or commands) from standard input and writes one JSON event per line.")
        @OptionGroup var home: HomeOption
        @Option(name: .long, help: "Where to listen, HOST:PORT (default 0.0.0.0:7777).") var listen: String?
        @Option(name: .long, help: "Your display name.") var name: String?
        @Option(name: .long, help: "The room typed text goes to (default general).") var room: String = "general"
        @Flag(name: .long, help: "Read lines, write JSON events (for scripts).") var json = false
        @Option(name: .long, help: "The cipher to ask for when dialing: chachapoly (default) or aesgcm.") var cipher: String = "chachapoly"
        @Option(name: .long, help: "The most links a message may cross (1 to 254, default 8).") var hopLimit: Int = Int(WireBounds.defaultHopLimit)
        @Option(name: .long, help: "A mesh pre-shared key file (from `meshchat psk generate`): links then need it too (Noise IKpsk2).") var pskFile: String?
        @Option(name: .long, help: "Bridge netcat users: listen here, HOST:PORT, for messages from `openssl enc ... | nc -N` (see docs/netcat-bridge.md).") var netcatListen: String?
        @Option(name: .long, help: "The netcat side's shared password: the first line of this private (0600) file.") var netcatPassphraseFile: String?
        @Option(name: .long, help: "The netcat side's `openssl enc -iter` count (default 10000).") var netcatIter: Int?
        @Option(name: .long, help: "Also send room messages to the netcat receiver at HOST:PORT (`nc -l PORT | openssl enc -d ...`).") var netcatForward: String?
        @Flag(name: .long, help: "Flush every commit to disk (SQLite synchronous=FULL): a power cut loses nothing acknowledged, at a cost in speed.") var strictDurability = false
        @Option(name: .long, help: "Keep messages this many days (default 90).") var retentionDays: Int = 90
        @Option(name: .long, help: "Keep at most this many messages (default 1000000).") var retentionMessages: Int = 1_000_000
        @Flag(name: .long, help: "Log protocol details to standard error.") var verbose = false
        @Flag(name: .long, help: "Accept every offered file without asking (for scripts); files land in the home's downloads/.") var acceptFiles = false
        @Option(name: .long, help: "The largest file to accept, in bytes (default 4294967296, 4 GiB).") var maxFileSize: UInt64 = NodeConfiguration.defaultMaxFileSize

        func run() async throws {
            try await reportingUserErrors {
                let home = home.nodeHome
                guard let listenAddress = HostPort(listen ?? "0.0.0.0:7777") else {
                    throw UserError("\"\(listen ?? "")\" is not HOST:PORT; for example --listen 127.0.0.1:7777.")
                }
                guard Names.isValidRoom(room) else { throw UserError("The room \"\(room)\" is not 1 to 64 bytes without control characters.") }
                let aead: AEADCipher
                switch cipher.lowercased() {
                case "chachapoly", "chacha", "chacha20-poly1305": aead = .chaChaPoly
                case "aesgcm", "aes-gcm", "aes256gcm": aead = .aesGCM
                default: throw UserError("The cipher \"\(cipher)\" is not chachapoly or aesgcm.")
                }
                guard (1...Int(WireBounds.maxHopLimit)).contains(hopLimit) else { throw UserError("--hop-limit must be 1 to 254.") }
                let netcatBridge = try NetcatBridgeConfiguration.fromOptions(
                    listen: netcatListen, passphraseFile: netcatPassphraseFile, iterations: netcatIter, forward: netcatForward)
                let (identity, created) = try home.loadOrCreateIdentity()
                if let name {
                    guard Names.isValidNickname(name) else { throw UserError("The name \"\(name)\" is not 1 to 32 bytes without control characters.") }
                    try home.saveNickname(name)
                }
                guard retentionDays > 0, retentionMessages > 0 else {
                    throw UserError("--retention-days and --retention-messages must be positive numbers.")
                }
                let storeWasLost = home.storeWasLost
                let store = try SQLiteMessageStore(path: home.storePath, options: .init(
                    synchronous: strictDurability ? .full : .normal,
                    retention: .init(maxAge: .seconds(retentionDays * 86_400), maxMessages: retentionMessages),
                    owner: identity.publicKey))
                try home.markStoreCreated()
                let nickname = name ?? home.loadNickname() ?? Self.defaultNickname()
                var configuration = NodeConfiguration(home: home, nickname: nickname)
                configuration.listen = listenAddress
                configuration.room = room
                configuration.cipher = aead
                configuration.hopLimit = UInt8(hopLimit)
                configuration.acceptFiles = acceptFiles
                configuration.maxFileSize = maxFileSize
                if let pskFile { configuration.preSharedKey = try NodeHome.loadPreSharedKey(path: pskFile) }
                configuration.netcatBridge = netcatBridge

                let interactive = !json && RawTerminal.isInteractive
                let session = ChatSession(interactive: interactive, room: room, nickname: nickname, acceptFiles: acceptFiles)
                if created { session.system("Created a new identity in \(home.directory).") }
                var logger = Logger(label: "meshchat") { StreamLogHandler.standardError(label: $0) }
                logger.logLevel = verbose ? .debug : .warning
                StopSignals.install()
                MallocSettings.apply()
                let node = try await Node.start(configuration: configuration, identity: identity, store: store,
                                                storeWasLost: storeWasLost, logger: logger,
                                                eventsFlushed: { session.flushOutput() }) { event in
                    session.show(event)
                }
                await session.run(node: node)
                await node.stop()
                session.finish()
            }
        }

        static func defaultNickname() -> String {
            let user = ProcessInfo.processInfo.environment["USER"] ?? ""
            return Names.isValidNickname(user) ? user : "anon"
        }
    }
}
