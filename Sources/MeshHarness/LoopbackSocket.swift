import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A socket call failed, the peer did not answer in time, or it broke the protocol the caller expected.
public struct HarnessFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking POSIX TCP socket on loopback, for the bench, the load test's attacker and the tests.
///
/// Every call blocks; the optional timeout is a hang guard (a silent peer fails the caller instead of
/// hanging it), not a measurement.
public final class LoopbackSocket: @unchecked Sendable {
    // One thread uses a socket at a time (its owner hands it over at thread start); nothing is shared.

    /// The descriptor, for `poll`; `close()` sets it to -1.
    public private(set) var fd: Int32
    /// The hang guard in seconds, nil for none.
    public let timeout: Double?

    private init(fd: Int32, timeout: Double?) {
        self.fd = fd
        self.timeout = timeout
    }

    deinit { close() }

    /// Connects to `host`:`port` from the loopback address `source` if given (another address of
    /// 127.0.0.0/8, for a node's per-address limits), else from 127.0.0.1.
    ///
    /// `timeout` bounds every later send and receive, and the connect itself (Linux applies
    /// `SO_SNDTIMEO` to it), which is why it is set first. `receiveBuffer` shrinks the receive buffer
    /// before the connection's window is agreed, so a caller that does not read stops the node's
    /// writes sooner. `noDelay` turns Nagle off, like the node's own links.
    public static func connect(port: Int, host: String = "127.0.0.1", from source: String? = nil,
                               timeout: Double? = nil, receiveBuffer: Int32? = nil, noDelay: Bool = false) throws -> LoopbackSocket {
        let socket = LoopbackSocket(fd: try newDescriptor(), timeout: timeout)
        if let timeout {
            var limit = timeval(tv_sec: Int(timeout), tv_usec: .init(timeout.truncatingRemainder(dividingBy: 1) * 1e6))
            socket.setOption(SOL_SOCKET, SO_RCVTIMEO, &limit)
            socket.setOption(SOL_SOCKET, SO_SNDTIMEO, &limit)
        }
        if var receiveBuffer { socket.setOption(SOL_SOCKET, SO_RCVBUF, &receiveBuffer) }
        if noDelay { socket.setNoDelay() }
        if let source {
            var local = address(source, port: 0)
            guard socket.withAddress(&local, { bind($0, $1, $2) }) == 0 else {
                throw HarnessFailure("bind to \(source): errno \(errno)")
            }
        }
        var remote = address(host, port: port)
        guard socket.withAddress(&remote, { posixConnect($0, $1, $2) }) == 0 else {
            throw HarnessFailure("connect to \(host):\(port): errno \(errno)")
        }
        return socket
    }

    /// A listening socket on 127.0.0.1 at a port the kernel picks; returns it and the port.
    public static func listen() throws -> (LoopbackSocket, Int) {
        let socket = LoopbackSocket(fd: try newDescriptor(), timeout: nil)
        var local = address("127.0.0.1", port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket.fd, pointer, length) == 0 && posixListen(socket.fd, 16) == 0 && getsockname(socket.fd, pointer, &length) == 0
            }
        }
        guard listening else { throw HarnessFailure("cannot listen on loopback: errno \(errno)") }
        return (socket, Int(UInt16(bigEndian: local.sin_port)))
    }

    /// Accepts one connection, with Nagle off.
    public func accept() throws -> LoopbackSocket {
        let client = posixAccept(fd)
        guard client >= 0 else { throw HarnessFailure("accept: errno \(errno)") }
        let socket = LoopbackSocket(fd: client, timeout: nil)
        socket.setNoDelay()
        return socket
    }

    private static func newDescriptor() throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw HarnessFailure("socket: errno \(errno)") }
        return fd
    }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }

    private func withAddress(_ address: inout sockaddr_in, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    private func setOption<Value>(_ level: Int32, _ name: Int32, _ value: inout Value) {
        setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Value>.size))
    }

    private func setNoDelay() {
        var one: Int32 = 1
        setOption(Int32(IPPROTO_TCP), TCP_NODELAY, &one)
    }

    // MARK: Bytes

    /// Writes every byte; throws if the peer has closed (no SIGPIPE) or the timeout passes.
    public func send(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = posixSend(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { throw HarnessFailure("send: errno \(errno)") }
            offset += sent
        }
    }

    /// Writes every byte of `bytes`.
    public func send(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try send($0) } }

    /// Reads what is there (at least one byte); 0 at end of stream, which a reset counts as (the peer closed).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return 0 }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw HarnessFailure("nothing within \(timeout ?? 0) s (the peer neither answered nor closed)")
            }
            throw HarnessFailure("recv: errno \(errno)")
        }
    }

    /// Whether bytes (or the end of the stream) arrive within `seconds`; nothing is read.
    public func hasInput(within seconds: Double) -> Bool {
        var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&request, 1, Int32(seconds * 1000)) > 0
    }

    /// Up to `limit` bytes of what is there; empty at end of stream.
    public func receive(upTo limit: Int = 65536) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: limit) { buffer, count in
            count = try receive(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Reads exactly `buffer.count` bytes; throws at end of stream.
    public func receiveExactly(into buffer: UnsafeMutableRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let count = try receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
            guard count > 0 else { throw HarnessFailure("the connection closed early") }
            offset += count
        }
    }

    /// Closes the descriptor now (the peer sees end of stream); idempotent.
    public func close() {
        if fd >= 0 { posixClose(fd) }
        fd = -1
    }
}

// The system calls whose names the socket's own methods shadow inside the class.

private func posixConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    #if canImport(Glibc)
    Glibc.connect(fd, address, length)
    #else
    Darwin.connect(fd, address, length)
    #endif
}

private func posixListen(_ fd: Int32, _ backlog: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.listen(fd, backlog)
    #else
    Darwin.listen(fd, backlog)
    #endif
}

private func posixAccept(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.accept(fd, nil, nil)
    #else
    Darwin.accept(fd, nil, nil)
    #endif
}

private func posixSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    Darwin.send(fd, bytes, count, 0)
    #endif
}

private func posixClose(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}
