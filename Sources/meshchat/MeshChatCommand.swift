import ArgumentParser
import Foundation
import MeshCrypto
import MeshNode
import MeshWire

/// `meshchat`: a peer-to-peer encrypted mesh chat node (DESIGN.md's command line, a contract).
@main
struct MeshChat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshchat",
        abstract: "A peer-to-peer encrypted mesh chat node: pinned keys, Noise links, signed gossip.",
        subcommands: [Init.self, Id.self, Peer.self, Psk.self, Start.self, Send.self, SendFile.self, Status.self, History.self])
}

/// The `--home` option every command shares.
struct HomeOption: ParsableArguments {
    @Option(name: .long, help: "The node's home folder (default: $MESHCHAT_HOME, else ~/.meshchat).")
    var home: String?

    var nodeHome: NodeHome { NodeHome(explicit: home) }
}

/// A person's mistake: one clear sentence on standard error and exit status 1, never a stack trace.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ParsableCommand {
    /// Runs `body`, turning the errors a person can cause into one sentence and a non-zero exit.
    func reportingUserErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch {
            FileHandle.standardError.write(Data("meshchat: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

extension MeshChat {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create this node's identity and print its peer key.")
        @OptionGroup var home: HomeOption
        @Option(name: .long, help: "Your display name (1 to 32 bytes).") var name: String?

        func run() async throws {
            try await reportingUserErrors {
                let home = home.nodeHome
                if let name {
                    guard Names.isValidNickname(name) else { throw UserError("The name \"\(name)\" is not 1 to 32 bytes without control characters.") }
                }
                let (key, created) = try home.loadOrCreateIdentity()
                if let name { try home.saveNickname(name) }
                if !created { FileHandle.standardError.write(Data("meshchat: an identity already exists in \(home.directory); keeping it.\n".utf8)) }
                print(key.publicKey.base64)
            }
        }
    }

    struct Id: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print this node's peer key.")
        @OptionGroup var home: HomeOption

        func run() async throws {
            try await reportingUserErrors {
                guard let key = try home.nodeHome.loadIdentity() else {
                    throw UserError("There is no identity in \(home.nodeHome.directory) yet; run `meshchat init` first.")
                }
                print(key.publicKey.base64)
            }
        }
    }

    struct Peer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin, unpin and list trusted peers.",
                                                        subcommands: [Add.self, Remove.self, List.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Pin a peer by name, key and optional address.")
            @Argument(help: "A local name for the peer (1 to 32 of A-Z a-z 0-9 . _ -).") var name: String
            @Argument(help: "The peer key `meshchat id` prints on the peer's machine.") var key: String
            @Argument(help: "Where the peer listens, HOST:PORT (optional).") var address: String?
            @OptionGroup var home: HomeOption

            func run() async throws {
                try await reportingUserErrors {
                    let peer: PinnedPeer
                    do { peer = try TrustedPeers.peer(name: name, key: key, address: address) } catch let error as TrustedPeersError {
                        throw UserError(error.problem.prefix(1).uppercased() + error.problem.dropFirst() + ".")
                    }
                    try home.nodeHome.addPeer(peer)
                }
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Unpin a peer; a running node cuts its link at once.")
            @Argument(help: "The peer's name.") var name: String
            @OptionGroup var home: HomeOption

            func run() async throws {
                try await reportingUserErrors { try home.nodeHome.removePeer(named: name) }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List pinned peers.")
            @OptionGroup var home: HomeOption
            @Flag(name: .long, help: "One JSON object per line.") var json = false

            func run() async throws {
                try await reportingUserErrors {
                    for peer in try home.nodeHome.loadPeers().peers {
                        if json {
                            print(jsonLine(["name": peer.name, "key": peer.key.base64,
                                            "address": peer.address.map { $0.description as Any } ?? NSNull()]))
                        } else {
                            print(peer.line)
                        }
                    }
                }
            }
        }
    }

    struct Psk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a mesh pre-shared key.", subcommands: [Generate.self])

        struct Generate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a new mesh pre-shared key (32 random bytes, base64).",
                discussion: "Save it to a file only you can read (umask 077; meshchat psk generate > mesh.psk), give it to every member over a safe channel, and start each node with --psk-file.")

            func run() async throws {
                print(Base64.encode(SecureRandom.bytes(count: 32)))
            }
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a message through the running node.")
        @OptionGroup var home: HomeOption
        @Option(name: .long, help: "The room (default: the node's current room).") var room: String?
        @Option(name: .long, help: "Send a direct message to this pinned peer instead.") var to: String?
        @Argument(help: "The text.") var text: String

        func validate() throws {
            if room != nil && to != nil { throw ValidationError("Give either --room or --to, not both.") }
        }

        func run() async throws {
            try await reportingUserErrors {
                var request: [String: Any] = ["command": "send", "text": text]
                if let room { request["room"] = room }
                if let to { request["to"] = to }
                let reply = try ControlClient.request(home: home.nodeHome, request)
                guard reply["ok"] as? Bool == true, let sent = reply["sent"] else {
                    throw UserError(reply["error"] as? String ?? "The node did not send the message.")
                }
                print(jsonLine(sent))
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the running node's links.")
        @OptionGroup var home: HomeOption
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingUserErrors {
                let reply = try ControlClient.request(home: home.nodeHome, ["command": "status"])
                guard let status = reply["status"] as? [String: Any] else { throw UserError("The node gave no status.") }
                if json { print(jsonLine(status)); return }
                print("\(status["nickname"] ?? "") \(status["key"] ?? "") listening on \(status["listen"] ?? ""), room \(status["room"] ?? "")")
                for peer in status["peers"] as? [[String: Any]] ?? [] {
                    let suite = (peer["suite"] as? String).map { " " + $0 } ?? ""
                    print("  \(peer["name"] ?? "") \(peer["state"] ?? "")\(suite) \(peer["link_address"] as? String ?? peer["address"] as? String ?? "")")
                }
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show stored messages from the running node.")
        @OptionGroup var home: HomeOption
        @Option(name: .long, help: "Only this room.") var room: String?
        @Option(name: .long, help: "How many messages (default 50).") var limit: Int = 50
        @Flag(name: .long, help: "One JSON message event per line.") var json = false

        func run() async throws {
            try await reportingUserErrors {
                guard limit > 0 else { throw UserError("--limit must be a positive number.") }
                var request: [String: Any] = ["command": "history", "limit": limit]
                if let room { request["room"] = room }
                let reply = try ControlClient.request(home: home.nodeHome, request)
                guard let messages = reply["messages"] as? [[String: Any]] else {
                    throw UserError(reply["error"] as? String ?? "The node gave no history.")
                }
                for message in messages {
                    if json {
                        print(jsonLine(message))
                    } else {
                        let place = (message["room"] as? String).map { "#" + $0 } ?? "direct"
                        print("[\(place)] \(message["from"] ?? ""): \(message["text"] ?? "")")
                    }
                }
            }
        }
    }
}

/// One line of JSON with sorted keys.
func jsonLine(_ object: Any) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}
