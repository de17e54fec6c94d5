import Foundation
import MeshCrypto
import MeshHarness
import MeshNode

/// Floods a node with genuine Noise IK message 1s from fresh identities it does not trust, so the
/// node does the DH work of PROTOCOL.md 4 before refusing each one, at a steady rate.
///
/// Runs on its own threads with blocking sockets; `lock` serialises the counters and `running`.
final class HandshakeFlood: @unchecked Sendable {
    /// What the flood saw, for the report.
    struct Tally {
        /// Handshakes sent (preamble + message 1 written).
        var sent = 0
        /// Connections the node closed without a reply, as it must for an untrusted identity.
        var refused = 0
        /// Connections where the node sent bytes back (message 2 to a stranger would be a bug).
        var answered = 0
        /// Connections still open after `refusalWait`.
        var unanswered = 0
        /// Connections the node did not accept at all (a connection limit may do this).
        var connectFailures = 0
    }

    /// How long one flood connection waits for the node to close it.
    static let refusalWait = 3.0
    /// Threads sharing the rate; each waits for its connection's close before the next.
    static let threadCount = 8
    /// The attacker's loopback source address, set apart from the friendly peer's 127.0.0.1 so that a node
    /// that limits per source address tells the two apart.
    static let sourceAddress = "127.0.0.66"

    private let lock = NSLock()
    private var tally = Tally()
    private var running = true
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    /// Starts flooding `port` on 127.0.0.1 at `perSecond` handshakes, each aimed at `nodeKey`.
    init(port: UInt16, nodeKey: SigningPublicKey, perSecond: Double) {
        let start = Monotonic.now()
        let interval = 1e9 / perSecond
        for index in 0..<Self.threadCount {
            finished.enter()
            let thread = Thread { [self] in
                var attempt = 0
                while isRunning {
                    // Thread `index` owns every `threadCount`-th slot of one shared schedule.
                    let slot = attempt * Self.threadCount + index
                    Monotonic.sleep(until: start + UInt64(Double(slot) * interval))
                    attempt += 1
                    guard isRunning else { break }
                    floodOnce(port: port, nodeKey: nodeKey)
                }
                finished.leave()
            }
            thread.start()
            threads.append(thread)
        }
    }

    private var isRunning: Bool { lock.withLock { running } }

    private func floodOnce(port: UInt16, nodeKey: SigningPublicKey) {
        let stranger = LinkIdentity(signingKey: SigningPrivateKey(), nickname: "flood", listenPort: 0, preSharedKey: nil)
        let opening: [UInt8]
        do {
            var handshake = try InitiatorHandshake(identity: stranger, pinnedPeer: nodeKey, cipher: .chaChaPoly,
                                                   timestamp: UInt64(Date().timeIntervalSince1970 * 1e9))
            opening = try handshake.start()
        } catch {
            fatalError("the node's own key cannot start a handshake: \(error)")
        }
        let socket: LoopbackSocket
        do {
            socket = try LoopbackSocket.connect(port: Int(port), from: Self.sourceAddress, timeout: Self.refusalWait)
        } catch {
            lock.withLock { tally.connectFailures += 1 }
            return
        }
        let wrote = (try? socket.send(opening)) != nil
        let ending = wrote ? socket.awaitEnding() : .closedSilently
        socket.close()
        lock.withLock {
            tally.sent += 1
            switch ending {
            case .closedSilently: tally.refused += 1
            case .answered: tally.answered += 1
            case .stillOpen: tally.unanswered += 1
            }
        }
    }

    /// Stops the flood, waits for its threads, and returns what it saw.
    func stop() -> Tally {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { tally }
    }
}
