import Foundation
import MeshCrypto

/// A mistake or damage a person can cause in the node's home; `description` is one clear sentence.
public struct HomeError: Error, CustomStringConvertible, Equatable {
    /// What is wrong and what to do about it.
    public let description: String

    init(_ description: String) { self.description = description }
}

/// The node's home folder (DESIGN.md "The node's home"): identity, trusted peers, control socket.
public struct NodeHome: Sendable {
    /// The folder.
    public let directory: String

    /// Uses `explicit`, else `$MESHCHAT_HOME`, else `~/.meshchat`.
    public init(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let explicit, !explicit.isEmpty {
            directory = explicit
        } else if let fromEnvironment = environment["MESHCHAT_HOME"], !fromEnvironment.isEmpty {
            directory = fromEnvironment
        } else {
            directory = (environment["HOME"] ?? NSHomeDirectory()) + "/.meshchat"
        }
    }

    /// The Ed25519 secret key, base64, mode 0600.
    public var identityPath: String { directory + "/identity" }
    /// The display name chosen at `init --name` or `start --name`.
    public var nicknamePath: String { directory + "/nickname" }
    /// The SQLite message store.
    public var storePath: String { directory + "/store.sqlite" }
    /// Written when the store is first created, so that a store missing later is known to be lost
    /// (and the node learns its seq from peers) rather than never made.
    public var storeMarkerPath: String { directory + "/store.created" }
    /// The trusted-peers file.
    public var peersPath: String { directory + "/peers" }
    /// The control socket `meshchat send` and `status` talk to.
    public var controlSocketPath: String { directory + "/control.sock" }

    // MARK: Identity

    /// Loads the identity, or nil if there is none yet. Refuses a key file others can read.
    public func loadIdentity() throws(HomeError) -> SigningPrivateKey? {
        guard FileManager.default.fileExists(atPath: identityPath) else { return nil }
        try Self.checkPrivate(identityPath, what: "identity file")
        guard let text = try? String(contentsOfFile: identityPath, encoding: .utf8) else {
            throw HomeError("The identity file \(identityPath) cannot be read.")
        }
        guard let raw = Base64.decodeCanonical(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? SigningPrivateKey(rawRepresentation: SecureBytes(raw))
        else { throw HomeError("The identity file \(identityPath) is damaged; restore it from a backup or move it away and run `meshchat init` for a new identity.") }
        return key
    }

    /// Loads the identity, creating a new one (and the home) when there is none.
    public func loadOrCreateIdentity() throws(HomeError) -> (key: SigningPrivateKey, created: Bool) {
        if let key = try loadIdentity() { return (key, false) }
        try createDirectory()
        let key = SigningPrivateKey()
        try writeAtomically(Base64.encode(key.rawRepresentation.unsafeBytes) + "\n", to: identityPath)
        return (key, true)
    }

    /// The stored nickname, if any.
    public func loadNickname() -> String? {
        guard let text = try? String(contentsOfFile: nicknamePath, encoding: .utf8) else { return nil }
        let name = text.trimmingCharacters(in: .newlines)
        return name.isEmpty ? nil : name
    }

    /// Stores the nickname.
    public func saveNickname(_ nickname: String) throws(HomeError) {
        try createDirectory()
        try writeAtomically(nickname + "\n", to: nicknamePath)
    }

    // MARK: Trusted peers

    /// The trusted-peers file's text, empty when there is none.
    public func peersText() throws(HomeError) -> String {
        guard FileManager.default.fileExists(atPath: peersPath) else { return "" }
        guard let text = try? String(contentsOfFile: peersPath, encoding: .utf8) else {
            throw HomeError("The trusted-peers file \(peersPath) cannot be read as text.")
        }
        return text
    }

    /// Parses the trusted-peers file.
    public func loadPeers() throws(HomeError) -> TrustedPeers {
        do {
            return try TrustedPeers(parsing: try peersText())
        } catch let error as TrustedPeersError {
            throw HomeError("The trusted-peers file \(peersPath) has a mistake on \(error).")
        } catch let error as HomeError {
            throw error
        } catch {
            throw HomeError("The trusted-peers file \(peersPath) cannot be read.")
        }
    }

    /// Pins a peer by appending its line, keeping the rest of the file (comments included) as it is.
    public func addPeer(_ peer: PinnedPeer) throws(HomeError) {
        var peers = try loadPeers()
        do { try peers.add(peer) } catch { throw HomeError("Cannot pin \(peer.name): \(error.problem).") }
        var text = try peersText()
        if text.isEmpty { text = "# MeshChat trusted peers: NAME KEY [HOST:PORT]\n" }
        if !text.hasSuffix("\n") { text += "\n" }
        try createDirectory()
        try writeAtomically(text + peer.line + "\n", to: peersPath)
    }

    /// Unpins the peer named `name` by dropping its line; throws if there is no such peer.
    public func removePeer(named name: String) throws(HomeError) {
        let peers = try loadPeers()
        guard peers.peer(named: name) != nil else {
            throw HomeError("No peer named \(name) is pinned; `meshchat peer list` shows the names.")
        }
        let kept = try peersText().split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return content.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) != name
        }
        try writeAtomically(kept.joined(separator: "\n"), to: peersPath)
    }

    // MARK: Mesh pre-shared key

    /// Reads a mesh pre-shared key file: standard base64 of 32 random bytes (PROTOCOL.md 1),
    /// readable by its owner only, like the identity.
    public static func loadPreSharedKey(path: String) throws(HomeError) -> SecureBytes {
        guard FileManager.default.fileExists(atPath: path) else {
            throw HomeError("The pre-shared key file \(path) does not exist; make one with `meshchat psk generate > \(path)`.")
        }
        try checkPrivate(path, what: "pre-shared key file")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let bytes = Base64.decodeCanonical(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32
        else { throw HomeError("The pre-shared key file \(path) does not hold a key; make one with `meshchat psk generate > \(path)`.") }
        return SecureBytes(bytes)
    }

    // MARK: Store

    /// Whether this home had a message store that is now gone.
    public var storeWasLost: Bool {
        !FileManager.default.fileExists(atPath: storePath) && FileManager.default.fileExists(atPath: storeMarkerPath)
    }

    /// Records that this home has a store.
    public func markStoreCreated() throws(HomeError) {
        guard !FileManager.default.fileExists(atPath: storeMarkerPath) else { return }
        try writeAtomically("A message store was created here; if store.sqlite goes missing the node learns its seq from peers.\n", to: storeMarkerPath)
    }

    // MARK: Files

    /// Creates the home folder, private to its owner.
    public func createDirectory() throws(HomeError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw HomeError("Cannot create the home folder \(directory).")
        }
    }

    /// Refuses a secret file that anyone but its owner can read or write.
    static func checkPrivate(_ path: String, what: String) throws(HomeError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw HomeError("Cannot read the \(what) \(path).") }
        if info.st_mode & 0o077 != 0 {
            throw HomeError("The \(what) \(path) can be read by others; run `chmod 600 \(path)` and start again.")
        }
    }

    /// Writes through a temporary file and a rename, so a crash leaves the old or the new file, never half of one.
    func writeAtomically(_ text: String, to path: String) throws(HomeError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw HomeError("Cannot write \(path).") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw HomeError("Cannot write \(path).")
        }
    }
}
