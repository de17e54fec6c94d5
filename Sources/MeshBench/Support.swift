import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The bench's clock: CLOCK_MONOTONIC in nanoseconds, never the wall clock, so a clock step
/// during a run cannot bend a latency.
enum Monotonic {
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Seconds between two readings.
    static func seconds(from start: UInt64, to end: UInt64) -> Double { Double(end &- start) / 1e9 }

    /// Sleeps until the monotonic clock reaches `deadline` (returns at once if it has).
    static func sleep(until deadline: UInt64) {
        let now = now()
        guard deadline > now else { return }
        let wait = deadline - now
        var request = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}

/// Why a scenario could not be measured; its text goes into the report.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == Double {
    /// The nearest-rank percentile (`p` in 0...100) of the values; nil when there are none.
    func percentile(_ p: Double) -> Double? {
        guard !isEmpty else { return nil }
        let sorted = self.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
    }
}

/// A seeded generator (SplitMix64), so the mesh's graph and authors are the same in every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body(i)` for i in 0..<count on that many threads at once and waits for them all. Unlike
/// `concurrentPerform`, each body gets its own thread, so blocking socket calls do not queue behind each other.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

/// The resident set of a process in KiB, from /proc/PID/status (VmRSS).
func processResidentKiB(pid: Int32) -> Double? { procKiB("VmRSS", in: "/proc/\(pid)/status") }

/// The memory only this process holds, in KiB (Private_Dirty in /proc/PID/smaps_rollup): its heap,
/// stacks and written pages, without the shared libraries' code and data it maps.
func processPrivateDirtyKiB(pid: Int32) -> Double? { procKiB("Private_Dirty", in: "/proc/\(pid)/smaps_rollup") }

/// A `Name:   123 kB` line of a /proc file, in KiB.
private func procKiB(_ field: String, in path: String) -> Double? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let number = line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first
        return number.flatMap { Double($0) }
    }
    return nil
}

/// The CPU time (user + system) a process has used so far, in seconds, from /proc/PID/stat.
func processCPUSeconds(pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let afterName = text.lastIndex(of: ")") else { return nil }
    // After the name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
    let fields = text[text.index(after: afterName)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// A blocking TCP socket on loopback, for the ceilings and the handshake client.
final class LoopbackSocket: @unchecked Sendable {
    // One thread uses a socket at a time (the scenario hands it over at thread start); nothing is shared.
    private(set) var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// Connects to 127.0.0.1:`port`, with TCP_NODELAY like the node's links, from the loopback
    /// address `source` when given (any of 127.0.0.0/8), else from 127.0.0.1.
    static func connect(port: Int, from source: String? = nil) throws -> LoopbackSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchFailure("socket: errno \(errno)") }
        if let source {
            var local = loopbackAddress(port: 0)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { Glibc.close(fd); throw BenchFailure("bind to \(source): errno \(errno)") }
        }
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            Glibc.close(fd)
            throw BenchFailure("connect to 127.0.0.1:\(port): errno \(code)")
        }
        let socket = LoopbackSocket(fd: fd)
        socket.setNoDelay()
        return socket
    }

    /// A listening socket on 127.0.0.1 at a port the kernel picks; returns it and the port.
    static func listen() throws -> (LoopbackSocket, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchFailure("socket: errno \(errno)") }
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && Glibc.listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { Glibc.close(fd); throw BenchFailure("cannot listen on loopback: errno \(errno)") }
        return (LoopbackSocket(fd: fd), Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Accepts one connection.
    func accept() throws -> LoopbackSocket {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw BenchFailure("accept: errno \(errno)") }
        let socket = LoopbackSocket(fd: client)
        socket.setNoDelay()
        return socket
    }

    private static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func setNoDelay() {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Gives up on a read after `seconds`: a hang guard, so a silent node fails the scenario instead of the run.
    func setReceiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes every byte.
    func send(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { throw BenchFailure("send: errno \(errno)") }
            offset += sent
        }
    }

    func send(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try send($0) } }

    /// Reads what is there (at least one byte); 0 at end of stream.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return 0 }
            throw BenchFailure(errno == EAGAIN ? "no answer within the timeout" : "recv: errno \(errno)")
        }
    }

    /// Reads exactly `buffer.count` bytes; throws at end of stream.
    func receiveExactly(into buffer: UnsafeMutableRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let count = try receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
            guard count > 0 else { throw BenchFailure("the connection closed early") }
            offset += count
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// The node processes the bench started and has not stopped yet, so that an interrupted run
/// does not leave nodes behind (a node keeps running after its input closes, by design).
enum ChildProcesses {
    // `lock` serialises `pids`: nodes start and stop on several threads, the signal handler reads them.
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pids: Set<Int32> = []
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func started(_ pid: Int32) { lock.withLock { _ = pids.insert(pid) } }
    static func stopped(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }

    /// On SIGINT or SIGTERM, stops every node still running, then exits.
    static func stopAllOnSignal() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                for pid in lock.withLock({ pids }) { kill(pid, SIGTERM) }
                FileHandle.standardError.write(Data("bench: interrupted; the nodes it started are stopped.\n".utf8))
                exit(130)
            }
            source.resume()
            lock.withLock { sources.append(source) }
        }
    }
}
