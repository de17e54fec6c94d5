import Foundation
import MeshWire
import NIOCore
import NIOPosix

/// The control socket in the node's home (mode 0600): one JSON request line in, one JSON reply
/// line out, for `meshchat send`, `status` and `history`.
enum ControlServer {
    /// A request line longer than this is refused: the largest legitimate one is a 16 KiB text, JSON-escaped.
    static let maximumRequestBytes = 256 * 1024

    static func bind(home: NodeHome, group: EventLoopGroup, core: NIOLoopBound<NodeCore>) async throws -> Channel {
        let path = home.controlSocketPath
        if FileManager.default.fileExists(atPath: path) {
            if (try? ControlClient.request(home: home, ["command": "ping"])) != nil {
                throw HomeError("Another node is already running with the home \(home.directory); stop it first or use another --home.")
            }
            unlink(path) // left behind by a node that crashed
        }
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ControlHandler(core: core))
                    }
                }
                .bind(unixDomainSocketPath: path).get()
        } catch {
            throw HomeError("Cannot open the control socket \(path).")
        }
        // The home is 0700 already; the socket itself is 0600 as DESIGN.md asks, and checked:
        // whoever can connect can post as this node.
        var info = stat()
        guard chmod(path, 0o600) == 0, stat(path, &info) == 0, info.st_mode & 0o077 == 0 else {
            try? await channel.close()
            unlink(path)
            throw HomeError("The control socket \(path) cannot be made private to its owner; check the home folder's file system.")
        }
        return channel
    }
}

/// Reads one request line, answers it through the core and closes.
private final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let core: NIOLoopBound<NodeCore>
    private var request = ByteBuffer()

    init(core: NIOLoopBound<NodeCore>) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        request.writeBuffer(&bytes)
        guard let newline = request.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if request.readableBytes > ControlServer.maximumRequestBytes { reply(context, ["ok": false, "error": "request too long"]) }
            return
        }
        let line = request.getBytes(at: request.readerIndex, length: newline - request.readerIndex) ?? []
        request.clear()
        if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
           object["command"] as? String == "send-file" {
            return sendFile(object, context)
        }
        reply(context, answer(line))
    }

    private func answer(_ line: [UInt8]) -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let command = object["command"] as? String else {
            return ["ok": false, "error": "The request is not a JSON object with a command."]
        }
        let core = self.core.value
        do {
            switch command {
            case "ping":
                return ["ok": true]
            case "status":
                return ["ok": true, "status": core.status().jsonObject]
            case "send":
                guard let text = object["text"] as? String else { return ["ok": false, "error": "Nothing to send."] }
                let event: NodeEvent
                if let name = object["to"] as? String {
                    event = try core.postDirect(text, toName: name)
                } else {
                    event = try core.postRoom(text, room: object["room"] as? String)
                }
                return ["ok": true, "sent": event.jsonObject ?? [:]]
            case "history":
                let limit = (object["limit"] as? Int) ?? 50
                let messages = try core.history(room: object["room"] as? String, limit: max(1, min(limit, 10_000)))
                return ["ok": true, "messages": messages.map { NodeEvent.message($0).jsonObject ?? [:] }]
            default:
                return ["ok": false, "error": "Unknown command \(command)."]
            }
        } catch {
            return ["ok": false, "error": "\(error)"]
        }
    }

    /// `meshchat send-file`: the reply waits until the receiver confirmed the whole file or the transfer failed.
    private func sendFile(_ object: [String: Any], _ context: ChannelHandlerContext) {
        guard let name = object["to"] as? String, let path = object["path"] as? String else {
            return reply(context, ["ok": false, "error": "send-file needs a peer name and a path."])
        }
        let files = core.value.files
        files.send(toName: name, path: path) { [self] started in
            switch started {
            case .failure(let error):
                reply(context, ["ok": false, "error": error.description])
            case .success(let id):
                files.whenFinished(id) { [self] outcome in
                    switch outcome {
                    case .success(let event): reply(context, ["ok": true, "sent": event.jsonObject])
                    case .failure(let error): reply(context, ["ok": false, "error": error.description])
                    }
                }
            }
        }
    }

    private func reply(_ context: ChannelHandlerContext, _ object: [String: Any]) {
        var data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{\"ok\":false}".utf8)
        data.append(UInt8(ascii: "\n"))
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: data))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// The client side of the control socket, for the `meshchat` commands that talk to a running node.
public enum ControlClient {
    /// Sends one request and returns the reply object; throws a `HomeError` if no node is running.
    public static func request(home: NodeHome, _ request: [String: Any]) throws(HomeError) -> [String: Any] {
        let path = home.controlSocketPath
        let notRunning = HomeError("No node is running with the home \(home.directory); start one with `meshchat start`.")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw notRunning }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw HomeError("The home path \(home.directory) is too long for a control socket; use a shorter --home.")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw notRunning }
        guard var line = try? JSONSerialization.data(withJSONObject: request) else { throw HomeError("Cannot encode the request.") }
        line.append(UInt8(ascii: "\n"))
        let sent = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard sent == line.count else { throw notRunning }
        var reply = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            reply += chunk[0..<count]
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] else {
            throw HomeError("The running node gave no answer.")
        }
        return object
    }
}
