import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking POSIX TCP connection from a chosen loopback source address, for the attacker's side
/// of the load test. The source address is set apart (127.0.0.66, 127.0.0.77) so a node that limits
/// per source address tells the attacker from the friendly peer on 127.0.0.1.
final class AttackSocket {
    /// A socket call failed; the errno says why.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// How a connection ended from the attacker's point of view.
    enum Ending: Equatable {
        /// The node closed (end of stream or reset) without sending a byte.
        case closedSilently
        /// The node sent bytes: for an unknown identity this is a protocol failure on its part.
        case answered
        /// Still open when the wait ran out.
        case stillOpen
    }

    /// The descriptor; `close()` sets it to -1.
    private(set) var fd: Int32

    /// Connects from `source` to `host:port`; `receiveTimeout` bounds every later blocking read.
    init(from source: String, to host: String, port: UInt16, receiveTimeout: Double) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: .init(receiveTimeout.truncatingRemainder(dividingBy: 1) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var local = Self.address(source, port: 0)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw closing(Failure(description: "bind to \(source): errno \(errno)")) }
        var remote = Self.address(host, port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw closing(Failure(description: "connect to \(host):\(port): errno \(errno)")) }
    }

    deinit { close() }

    private func closing(_ failure: Failure) -> Failure {
        close()
        return failure
    }

    private static func address(_ host: String, port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(port.bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }

    /// Writes all of `bytes`; false if the node had already closed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let sent = bytes[offset...].withUnsafeBytes { posixSend(fd, $0.baseAddress, $0.count, flags) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Blocks until the node closes, sends something, or the receive timeout passes.
    func awaitEnding() -> Ending {
        var byte: UInt8 = 0
        while true {
            let count = recv(fd, &byte, 1, 0)
            if count > 0 { return .answered }
            if count == 0 || errno == ECONNRESET { return .closedSilently }
            if errno == EINTR { continue }
            return .stillOpen
        }
    }

    /// Closes the descriptor (idempotent).
    func close() {
        if fd >= 0 { posixClose(fd) }
        fd = -1
    }
}

/// `send(2)` and `close(2)`, which the socket's own methods shadow inside the class.
private func posixSend(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    #if canImport(Glibc)
    Glibc.send(fd, bytes, count, flags)
    #else
    Darwin.send(fd, bytes, count, flags)
    #endif
}

private func posixClose(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}

/// Nanoseconds on the monotonic clock; every time in the load test is one of these.
func monotonicNanoseconds() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds
}

/// Sleeps until the monotonic clock reaches `deadline` (returns at once if it already has).
func sleep(untilNanoseconds deadline: UInt64) {
    while true {
        let now = monotonicNanoseconds()
        guard deadline > now else { return }
        usleep(useconds_t(min((deadline - now) / 1000, 500_000)))
    }
}
