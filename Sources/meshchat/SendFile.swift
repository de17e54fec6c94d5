import ArgumentParser
import Foundation
import MeshChatUI
import MeshNode

extension MeshChat {
    struct SendFile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "send-file",
            abstract: "Send a file to a linked pinned peer through the running node, and wait until it is confirmed.",
            discussion: "The peer must be linked to this node directly. Exits 0 once the receiver has checked the whole file against its SHA-256 hash, 1 with one sentence on standard error if it was refused, cancelled or failed.")
        @OptionGroup var home: HomeOption
        @Flag(name: .long, help: "Print the file-sent object as JSON instead of a sentence.") var json = false
        @Argument(help: "The pinned peer's name.") var name: String
        @Argument(help: "The file to send.") var path: String

        func run() async throws {
            try await reportingUserErrors {
                // The node runs elsewhere: it gets an absolute path.
                let absolute = ChatSession.absolutePath(path)
                let reply = try ControlClient.request(home: home.nodeHome, ["command": "send-file", "to": name, "path": absolute])
                guard reply["ok"] as? Bool == true, let sent = reply["sent"] as? [String: Any] else {
                    throw UserError(reply["error"] as? String ?? "The node did not send the file.")
                }
                if json {
                    print(jsonLine(sent))
                } else {
                    let bytes = (sent["bytes"] as? NSNumber)?.uint64Value ?? 0
                    print("Sent \(sent["name"] ?? "") to \(sent["peer"] ?? "") (\(ProgressBar.byteCount(bytes)), \(bytes) bytes); SHA-256 \(sent["hash"] ?? "") confirmed by the receiver.")
                }
            }
        }
    }
}
