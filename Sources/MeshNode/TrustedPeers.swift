import Foundation
import MeshCrypto
import MeshWire

/// One line of the trusted-peers file: a pinned peer.
public struct PinnedPeer: Equatable, Sendable {
    /// The local name people use for the peer (`/msg NAME`, `peer remove NAME`).
    public let name: String
    /// The peer's Ed25519 identity, proven in every handshake.
    public let key: SigningPublicKey
    /// Where to dial it, if it listens somewhere we know.
    public let address: HostPort?

    /// Builds a pinned peer.
    public init(name: String, key: SigningPublicKey, address: HostPort?) {
        self.name = name
        self.key = key
        self.address = address
    }

    /// The line that pins this peer.
    public var line: String { [name, key.base64, address?.description].compactMap { $0 }.joined(separator: " ") }
}

/// A mistake in the trusted-peers file, with the line it is on.
public struct TrustedPeersError: Error, Equatable, CustomStringConvertible {
    /// 1-based line number.
    public let line: Int
    /// What is wrong, in one sentence.
    public let problem: String

    public var description: String { "line \(line): \(problem)" }
}

/// The trusted-peers file (DESIGN.md): one peer a line, `NAME KEY [HOST:PORT]`, `#` starts a
/// comment, blank lines ignored; names and keys unique.
public struct TrustedPeers: Equatable, Sendable {
    /// The peers in file order.
    public private(set) var peers: [PinnedPeer]
    /// Each pinned peer by its key, for the lookups every handshake and envelope makes.
    private var pinned: [SigningPublicKey: Pin] = [:]

    /// A pinned peer with its key's X25519 form (PROTOCOL.md 1), converted once when it is pinned:
    /// a responder needs it in every handshake, and the conversion costs about as much as a DH.
    private struct Pin: Equatable, Sendable {
        let peer: PinnedPeer
        let staticKey: KeyAgreementPublicKey
    }

    /// Parses the file's text; the first malformed line is reported with its number.
    public init(parsing text: String) throws(TrustedPeersError) {
        peers = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            let number = index + 1
            guard fields.count <= 3, fields.count >= 2 else {
                throw TrustedPeersError(line: number, problem: "expected NAME KEY [HOST:PORT]")
            }
            let peer = try Self.peer(name: String(fields[0]), key: String(fields[1]), address: fields.count == 3 ? String(fields[2]) : nil, line: number)
            if self.peer(named: peer.name) != nil {
                throw TrustedPeersError(line: number, problem: "the name \(peer.name) is used twice")
            }
            if pinned[peer.key] != nil {
                throw TrustedPeersError(line: number, problem: "that key is already pinned under another name")
            }
            try append(peer, line: number)
        }
    }

    /// Validates one peer's fields as a person or the file gives them.
    public static func peer(name: String, key: String, address: String?, line: Int = 0) throws(TrustedPeersError) -> PinnedPeer {
        guard Names.isValidPeerName(name) else {
            throw TrustedPeersError(line: line, problem: "the name \"\(name)\" is not 1 to 32 of A-Z a-z 0-9 . _ -")
        }
        guard let parsedKey = try? SigningPublicKey(base64: key), (try? parsedKey.keyAgreementKey()) != nil else {
            // The rejected text is not echoed: people paste the wrong thing, sometimes their identity file.
            let looksSecret = Base64.decodeCanonical(key)?.count == SigningPrivateKey.byteCount
            throw TrustedPeersError(line: line, problem: "the key is not a peer key (44 characters of base64, as `meshchat id` prints it)"
                + (looksSecret ? "; it looks like a secret key, which must never be shared: pin what `meshchat id` prints instead" : ""))
        }
        var parsedAddress: HostPort?
        if let address {
            guard let hostPort = HostPort(address), hostPort.port != 0 else {
                throw TrustedPeersError(line: line, problem: "\"\(address)\" is not HOST:PORT")
            }
            parsedAddress = hostPort
        }
        return PinnedPeer(name: name, key: parsedKey, address: parsedAddress)
    }

    /// The peer pinned under `name`.
    public func peer(named name: String) -> PinnedPeer? { peers.first { $0.name == name } }

    /// The peer pinned with `key`.
    public func peer(withKey key: SigningPublicKey) -> PinnedPeer? { pinned[key]?.peer }

    /// The X25519 form of `key` if it is pinned, nil if it is not.
    public func staticKey(of key: SigningPublicKey) -> KeyAgreementPublicKey? { pinned[key]?.staticKey }

    /// Adds a peer; throws if its name or key is already pinned.
    public mutating func add(_ peer: PinnedPeer) throws(TrustedPeersError) {
        if let existing = self.peer(named: peer.name) {
            throw TrustedPeersError(line: 0, problem: "a peer named \(existing.name) is already pinned")
        }
        if let existing = self.peer(withKey: peer.key) {
            throw TrustedPeersError(line: 0, problem: "that key is already pinned as \(existing.name)")
        }
        try append(peer, line: 0)
    }

    /// Pins a peer known to be new, with its key's X25519 form.
    private mutating func append(_ peer: PinnedPeer, line: Int) throws(TrustedPeersError) {
        guard let staticKey = try? peer.key.keyAgreementKey() else {
            throw TrustedPeersError(line: line, problem: "the key cannot be used for a handshake (it has no X25519 form)")
        }
        pinned[peer.key] = Pin(peer: peer, staticKey: staticKey)
        peers.append(peer)
    }

    /// Removes the peer named `name`; returns it, or nil if there was none.
    @discardableResult
    public mutating func remove(named name: String) -> PinnedPeer? {
        guard let index = peers.firstIndex(where: { $0.name == name }) else { return nil }
        pinned[peers[index].key] = nil
        return peers.remove(at: index)
    }

    /// The file's text, with a short header comment.
    public var text: String {
        "# MeshChat trusted peers: NAME KEY [HOST:PORT]\n" + peers.map { $0.line + "\n" }.joined()
    }
}
