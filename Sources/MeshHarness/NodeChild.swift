import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `meshchat start --json` child process, driven as a script drives a node: lines into its
/// standard input, JSON event lines out of its standard output.
///
/// What the events mean and what is kept of them is the caller's (the bench keeps only indices of
/// tens of thousands of messages, the load test latencies, the tests every event); this is the
/// process, the line splitting and the stop.
public final class NodeChild: @unchecked Sendable {
    // `lock` serialises `errorText`, which the standard-error thread writes; the rest is set before start.

    /// Where the node's standard error goes.
    public enum ErrorOutput: Sendable {
        /// Into this file, which a person reads after the run.
        case file(String)
        /// Kept in memory (`errors`): its last `limit` bytes, or all of it when `limit` is nil.
        case kept(limit: Int?)
    }

    /// The node's name in failures.
    private let name: String
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    /// Standard error's pipe and how much of it is kept, when it is kept.
    private let keptErrors: (pipe: Pipe, limit: Int?)?
    private let lock = NSLock()
    private var errorText = ""

    /// Prepares `binary start --json ARGUMENTS`; `start` runs it.
    public init(binary: String, name: String, arguments: [String], errors: ErrorOutput) {
        self.name = name
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["start", "--json"] + arguments
        process.standardInput = input
        process.standardOutput = output
        switch errors {
        case .file(let path):
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: path) ?? FileHandle.nullDevice
            keptErrors = nil
        case .kept(let limit):
            let pipe = Pipe()
            process.standardError = pipe
            keptErrors = (pipe, limit)
        }
    }

    /// Runs the node. A reader thread hands each chunk of its standard output, split into complete
    /// lines (without the newline), to `onLines` with one monotonic arrival stamp, taken before any
    /// parsing so that parsing is not counted as latency; `onEnd` runs once when the output closes.
    public func start(onLines: @escaping @Sendable (_ lines: [ArraySlice<UInt8>], _ arrival: UInt64) -> Void,
                      onEnd: @escaping @Sendable () -> Void = {}) throws {
        try process.run()
        // The threads hold the child, and so its pipes' descriptors, open until the node's output ends.
        Thread.detachNewThread { [self] in
            Self.readLines(fd: output.fileHandleForReading.fileDescriptor, onLines)
            onEnd()
        }
        if let keptErrors {
            Thread.detachNewThread { [self] in keepErrors(fd: keptErrors.pipe.fileHandleForReading.fileDescriptor, limit: keptErrors.limit) }
        }
    }

    /// The process id, for /proc/PID.
    public var pid: Int32 { process.processIdentifier }

    /// Whether the node has not exited yet.
    public var isRunning: Bool { process.isRunning }

    /// What the node wrote to standard error so far, when it is kept.
    public var errors: String { lock.withLock { errorText } }

    private static func readLines(fd: Int32, _ onLines: ([ArraySlice<UInt8>], UInt64) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var partial: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            let arrival = Monotonic.now()
            var lines: [ArraySlice<UInt8>] = []
            var lineStart = 0
            for index in 0..<count where buffer[index] == UInt8(ascii: "\n") {
                if partial.isEmpty {
                    lines.append(buffer[lineStart..<index])
                } else {
                    lines.append((partial + buffer[lineStart..<index])[...])
                    partial.removeAll(keepingCapacity: true)
                }
                lineStart = index + 1
            }
            partial += buffer[lineStart..<count]
            onLines(lines, arrival)
        }
    }

    private func keepErrors(fd: Int32, limit: Int?) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            let text = String(decoding: buffer[0..<count], as: UTF8.self)
            lock.withLock {
                errorText += text
                if let limit, errorText.utf8.count > limit { errorText = String(decoding: errorText.utf8.suffix(limit), as: UTF8.self) }
            }
        }
    }

    /// Writes `bytes` to the node's standard input, blocking while the pipe is full (the node's back
    /// pressure); throws if the node stopped reading it.
    public func write(_ bytes: [UInt8]) throws {
        let fd = input.fileHandleForWriting.fileDescriptor
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw HarnessFailure("\(name) stopped reading its input (errno \(errno))") }
            offset += written
        }
    }

    /// Writes `line` and a newline, as a person or a script types it.
    public func post(_ line: String) throws {
        try write(Array(line.utf8) + [UInt8(ascii: "\n")])
    }

    /// Stops the node with SIGTERM (it closes its links with BYE 6) and waits for it to exit; kills it
    /// if it has not exited after `killAfter` seconds, when given.
    public func stop(killAfter seconds: Double? = nil) {
        if process.isRunning { process.terminate() }
        if let seconds {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        }
        kill()
    }

    /// Kills the node with SIGKILL (if it still runs) and waits for it.
    public func kill() {
        if process.isRunning { posixKill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
    }

    /// A size field of /proc/PID/status (`VmRSS`, `VmHWM`) of process `pid`, in KiB; nil if it is gone.
    public static func statusKiB(_ field: String, of pid: Int32) -> Int? {
        kiB(field, inFile: "/proc/\(pid)/status")
    }

    /// A field of /proc/PID/smaps_rollup (`Private_Dirty`: the memory only the process holds, its
    /// heap, stacks and written pages, not the shared code it maps), in KiB; nil if it is gone.
    public static func memoryKiB(_ field: String, of pid: Int32) -> Int? {
        kiB(field, inFile: "/proc/\(pid)/smaps_rollup")
    }

    /// The CPU time (user + system) process `pid` has used so far, in seconds; nil if it is gone.
    public static func cpuSeconds(of pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.lastIndex(of: ")") else { return nil }
        // After the name: the state is field 3, so utime and stime (fields 14 and 15) are the 12th and 13th.
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The number of a `Name:   123 kB` line of a /proc file.
    private static func kiB(_ field: String, inFile path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") }
        return line?.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }.first
    }
}

// The system calls whose names the child's own methods shadow inside the class.

private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, bytes, count)
    #else
    Darwin.write(fd, bytes, count)
    #endif
}

private func posixKill(_ pid: Int32, _ signal: Int32) {
    #if canImport(Glibc)
    _ = Glibc.kill(pid, signal)
    #else
    _ = Darwin.kill(pid, signal)
    #endif
}
