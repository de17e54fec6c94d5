import Foundation
import MeshCrypto

/// How a node bridges to people on the tutorials' `openssl enc | nc` chat
/// (`start --netcat-listen HOST:PORT --netcat-passphrase-file FILE [--netcat-iter N] [--netcat-forward HOST:PORT]`).
public struct NetcatBridgeConfiguration: Sendable {
    /// Where the tutorial's sender (`... | nc -N HOST PORT`) connects, one connection a message.
    public var listen: HostPort
    /// The shared password of `openssl enc -pass pass:...`.
    public var passphrase: SecureBytes
    /// `openssl enc -iter N`; both sides must use the same count.
    public var iterations: Int
    /// Where the tutorial's receiver (`nc -l PORT | openssl enc -d ...`) listens, if room messages go out too.
    public var forward: HostPort?

    /// A bridge with everything decided.
    public init(listen: HostPort, passphrase: SecureBytes, iterations: Int = OpenSSLEnc.defaultIterations, forward: HostPort? = nil) {
        self.listen = listen
        self.passphrase = passphrase
        self.iterations = iterations
        self.forward = forward
    }

    /// The bridge the `start` options ask for, nil when none of them is given; a mistake is one sentence.
    public static func fromOptions(listen: String?, passphraseFile: String?, iterations: Int?, forward: String?) throws(HomeError) -> NetcatBridgeConfiguration? {
        guard listen != nil || passphraseFile != nil || iterations != nil || forward != nil else { return nil }
        guard let listen else {
            throw HomeError("The netcat bridge needs --netcat-listen HOST:PORT, for example --netcat-listen 127.0.0.1:5000.")
        }
        guard let listenAddress = HostPort(listen) else {
            throw HomeError("\"\(listen)\" is not HOST:PORT; for example --netcat-listen 127.0.0.1:5000.")
        }
        var forwardAddress: HostPort?
        if let forward {
            guard let address = HostPort(forward), address.port != 0 else {
                throw HomeError("\"\(forward)\" is not HOST:PORT with a port above 0; for example --netcat-forward 127.0.0.1:5001.")
            }
            forwardAddress = address
        }
        let iterations = iterations ?? OpenSSLEnc.defaultIterations
        guard OpenSSLEnc.iterationRange.contains(iterations) else {
            throw HomeError("--netcat-iter must be 1 to \(OpenSSLEnc.iterationRange.upperBound), the same count the netcat side gives openssl's -iter (default 10000).")
        }
        guard let passphraseFile else {
            throw HomeError("The netcat bridge needs --netcat-passphrase-file FILE, a private file holding the netcat side's password.")
        }
        return NetcatBridgeConfiguration(listen: listenAddress, passphrase: try NodeHome.loadNetcatPassphrase(path: passphraseFile),
                                         iterations: iterations, forward: forwardAddress)
    }
}

extension NodeHome {
    /// Reads the netcat side's password: the file's first line, without its line end, as
    /// `openssl enc -pass file:FILE` reads it (so one file serves both). Readable by its owner
    /// only, like the identity and the pre-shared key.
    public static func loadNetcatPassphrase(path: String) throws(HomeError) -> SecureBytes {
        guard FileManager.default.fileExists(atPath: path) else {
            throw HomeError("The netcat passphrase file \(path) does not exist; put the netcat side's password in it (chmod 600).")
        }
        try checkPrivate(path, what: "netcat passphrase file")
        guard var bytes = FileManager.default.contents(atPath: path).map({ [UInt8]($0) }) else {
            throw HomeError("Cannot read the netcat passphrase file \(path).")
        }
        defer { _ = bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let firstLine = bytes.prefix { $0 != UInt8(ascii: "\n") }
        guard !firstLine.isEmpty else {
            throw HomeError("The netcat passphrase file \(path) is empty; its first line must be the netcat side's password.")
        }
        return SecureBytes(firstLine)
    }
}
