import Foundation
import MeshHarness
import MeshWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds a fixed number of half-open connections to a node (TCP connected, then at most part of a
/// handshake, then silence) and times how long the node takes to cut each one. A cut slot is opened
/// again a moment later while the attack runs, so the node faces the full count the whole time.
///
/// One watcher thread owns the sockets; `lock` serialises `holding` and the results it publishes.
final class HalfOpenConnections: @unchecked Sendable {
    /// What a half-open connection sends before falling silent; the three ways a handshake can stall.
    enum Stall: CaseIterable {
        /// Nothing at all.
        case silent
        /// The 8-byte preamble only.
        case preambleOnly
        /// The preamble and the start of a frame that never completes.
        case partialMessage1
    }

    /// What the node did with the connections, for the report.
    struct Tally {
        /// Connections opened (first ones and replacements).
        var opened = 0
        /// Connections the node cut (end of stream or reset) within `cutLimit`.
        var cut = 0
        /// Connections still open `cutLimit` after they opened: the node failed to cut them.
        var notCut = 0
        /// Connections where the node sent bytes to a stranger's half-open handshake.
        var answered = 0
        /// Connection attempts the node refused outright (counted as cut: the slot never held).
        var refusedAtConnect = 0
        /// How long each cut connection was held open, in seconds.
        var holdTimes: [Double] = []
    }

    /// "A handshake not complete within 10 seconds is abandoned by either side" (PROTOCOL.md 4),
    /// plus 2 s for timer granularity and a loaded machine.
    static let cutLimit = 12.0
    /// A cut slot waits this long before it is opened again, so a node that refuses at once is not
    /// hammered in a tight loop (the handshake flood does the hammering).
    static let reopenDelay = 1.0
    /// The attacker's loopback source address for half-open connections, set apart like the flood's.
    static let sourceAddress = "127.0.0.77"

    private struct Slot {
        var socket: LoopbackSocket?
        var openedAt: UInt64 = 0
        var reopenAt: UInt64 = 0
        var stall: Stall
    }

    private let port: UInt16
    private let lock = NSLock()
    private var holding = true
    private var tally = Tally()
    private let done = DispatchSemaphore(value: 0)

    /// Opens `count` half-open connections to 127.0.0.1:`port` and starts watching them.
    init(count: Int, port: UInt16) {
        self.port = port
        let thread = Thread { [self] in
            let stalls = Stall.allCases
            var slots = (0..<count).map { Slot(stall: stalls[$0 % stalls.count]) }
            watch(&slots)
            done.signal()
        }
        thread.start()
    }

    /// Stops opening replacements, waits until every open connection was cut or outlived
    /// `cutLimit`, and returns the tally.
    func finish() -> Tally {
        lock.withLock { holding = false }
        done.wait()
        return lock.withLock { tally }
    }

    private func watch(_ slots: inout [Slot]) {
        while true {
            let now = Monotonic.now()
            let stillHolding = lock.withLock { holding }
            if stillHolding {
                for index in slots.indices where slots[index].socket == nil && now >= slots[index].reopenAt {
                    open(&slots[index], now: now)
                }
            }
            let open = slots.indices.filter { slots[$0].socket != nil }
            if !stillHolding && open.isEmpty { return }
            var descriptors = open.map { pollfd(fd: slots[$0].socket!.fd, events: Int16(POLLIN), revents: 0) }
            _ = poll(&descriptors, nfds_t(descriptors.count), 100)
            let after = Monotonic.now()
            for (position, index) in open.enumerated() {
                let heldFor = Double(after - slots[index].openedAt) / 1e9
                if descriptors[position].revents != 0 {
                    let ending = slots[index].socket!.awaitEnding()
                    record(ending == .answered ? .answered : .cut(heldFor))
                } else if heldFor > Self.cutLimit {
                    record(.notCut)
                } else {
                    continue
                }
                slots[index].socket?.close()
                slots[index].socket = nil
                slots[index].reopenAt = after + UInt64(Self.reopenDelay * 1e9)
            }
        }
    }

    private enum Outcome {
        case cut(Double), notCut, answered
    }

    private func record(_ outcome: Outcome) {
        lock.withLock {
            switch outcome {
            case .cut(let seconds):
                tally.cut += 1
                tally.holdTimes.append(seconds)
            case .notCut: tally.notCut += 1
            case .answered: tally.answered += 1
            }
        }
    }

    private func open(_ slot: inout Slot, now: UInt64) {
        lock.withLock { tally.opened += 1 }
        // A short receive timeout: the watcher only reads after poll said something is there.
        guard let socket = try? LoopbackSocket.connect(port: Int(port), from: Self.sourceAddress, timeout: 0.2) else {
            lock.withLock { tally.refusedAtConnect += 1 }
            slot.reopenAt = now + UInt64(Self.reopenDelay * 1e9)
            return
        }
        let preamble = Preamble(suite: .ikChaChaPolyBLAKE2b).encoded()
        switch slot.stall {
        case .silent: break
        case .preambleOnly: try? socket.send(preamble)
        // A 2-byte length promising 96 bytes, then 10 of them.
        case .partialMessage1: try? socket.send(preamble + [0, 96] + [UInt8](repeating: 0x5A, count: 10))
        }
        slot.socket = socket
        slot.openedAt = now
    }
}
