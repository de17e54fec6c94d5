import MeshCrypto
import MeshWire
import NIOCore
import NIOPosix

/// Everything a node needs to run, decided before it starts.
public struct NodeConfiguration: Sendable {
    /// The home folder.
    public var home: NodeHome
    /// Where to listen for peers ("default port 7777 on all interfaces").
    public var listen = HostPort(host: "0.0.0.0", port: 7777)
    /// This node's display name.
    public var nickname: String
    /// The room typed text goes to.
    public var room = "general"
    /// The cipher this node asks for when it dials (PROTOCOL.md 3: ChaChaPoly unless the operator chose AESGCM).
    public var cipher: AEADCipher = .chaChaPoly
    /// The mesh pre-shared key, if this mesh uses one (suites 3 and 4).
    public var preSharedKey: SecureBytes?
    /// The gossip hop limit (at most 254, default 8).
    public var hopLimit: UInt8 = WireBounds.defaultHopLimit
    /// The netcat bridge, if this node runs one (docs/netcat-bridge.md).
    public var netcatBridge: NetcatBridgeConfiguration?
    /// Whether to serve the control socket (`meshchat send`, `status`).
    public var controlSocket = true
    /// Accept every offered file without asking (`--accept-files`, for scripts).
    public var acceptFiles = false
    /// The largest file this node accepts (`--max-file-size`).
    public var maxFileSize: UInt64 = NodeConfiguration.defaultMaxFileSize
    /// 4 GiB: larger than most files people send over a chat, small enough that a stranger's
    /// offer cannot fill a disk by default.
    public static let defaultMaxFileSize: UInt64 = 4 << 30

    /// "A handshake not complete within 10 seconds is abandoned by either side." (PROTOCOL.md 4)
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// "sends a PING after 20 seconds without sending anything" (PROTOCOL.md 5)
    public var keepaliveInterval: TimeAmount = .seconds(20)
    /// "may close a connection that has been silent for 60 seconds" (PROTOCOL.md 5)
    public var idleTimeout: TimeAmount = .seconds(60)
    /// How often the trusted-peers file is checked for changes; a removed peer must be cut within a second.
    public var peersFilePollInterval: TimeAmount = .milliseconds(200)
    /// The first redial delay; it doubles per failed attempt up to `maximumRedialDelay`, with ±25% jitter.
    public var initialRedialDelay: TimeAmount = .milliseconds(500)
    /// The redial cap: "exponential backoff and jitter (capped near 30 s)".
    public var maximumRedialDelay: TimeAmount = .seconds(30)
    /// The bounds that hold under attack (docs/limits.md).
    public var limits = NodeLimits()
    /// The worker threads that check signatures and run handshakes' X25519 steps beside the event loop.
    public var workThreads: NIOThreadPool = .singleton

    /// A configuration with defaults for everything but the home and nickname.
    public init(home: NodeHome, nickname: String) {
        self.home = home
        self.nickname = nickname
    }
}
