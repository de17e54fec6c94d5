import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
