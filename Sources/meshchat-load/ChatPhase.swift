import Foundation
import MeshHarness

/// Two nodes chatting at a steady rate for a while: who got what, how fast.
struct ChatPhase {
    /// What one phase measured.
    struct Result {
        let name: String
        /// Messages posted (both directions together).
        let sent: Int
        /// Distinct messages that reached the other node.
        let delivered: Int
        /// `message` events beyond the first for the same message (a message shown twice).
        let duplicates: Int
        /// Post-to-event latency of each delivered message, in milliseconds, sorted.
        let latenciesMs: [Double]
        /// Median latency of the first and of the last tenth of the messages posted: a rise means
        /// the nodes fell behind the rate and a backlog grew (so latency measures queueing).
        let firstTenthMs: Double?, lastTenthMs: Double?
        /// CPU seconds each node and this driver (attack included) used during the phase, by name.
        let cpuSeconds: [String: Double]
        /// The machine's 1-minute load average at the end of the phase (/proc/loadavg).
        let loadAverage: String

        /// Two phases' figures taken together as one run (latencies merged, counts added).
        func pooled(with other: Result, name: String) -> Result {
            Result(name: name, sent: sent + other.sent, delivered: delivered + other.delivered,
                   duplicates: duplicates + other.duplicates, latenciesMs: (latenciesMs + other.latenciesMs).sorted(),
                   firstTenthMs: nil, lastTenthMs: nil,
                   cpuSeconds: cpuSeconds.merging(other.cpuSeconds, uniquingKeysWith: +), loadAverage: other.loadAverage)
        }

        /// Whether a backlog grew over the phase: the last tenth waited `backlogThresholdMs` longer than
        /// the first. Then the nodes (or the machine under them) could not keep up with the rate.
        var fellBehind: Bool {
            guard let first = firstTenthMs, let last = lastTenthMs else { return false }
            return last - first > ChatPhase.backlogThresholdMs
        }

        /// The share of posted messages delivered, 0...1.
        var deliveredShare: Double { sent == 0 ? 0 : Double(delivered) / Double(sent) }

        /// The `fraction` quantile of the latencies (nearest rank), or nil with none.
        func latency(quantile fraction: Double) -> Double? {
            guard !latenciesMs.isEmpty else { return nil }
            let rank = Int((fraction * Double(latenciesMs.count)).rounded(.up))
            return latenciesMs[min(max(rank, 1), latenciesMs.count) - 1]
        }
    }

    /// How long after the last post the phase waits for stragglers before counting them lost.
    static let drainTimeout = 15.0
    /// A rise in median latency from the first to the last tenth of a phase beyond this means a
    /// backlog grew: far above loopback and scheduling jitter, far below the backlogs of a node
    /// that cannot keep up (seconds).
    static let backlogThresholdMs = 100.0

    let name: String
    /// Messages per second, both senders together.
    let rate: Double
    let duration: Double

    /// Posts alternately from each node to the other at `rate` for `duration`, waits for the last
    /// ones to arrive, and tallies.
    func run(between first: ChatNode, and second: ChatNode) throws -> Result {
        let count = Int(rate * duration)
        let interval = 1e9 / rate
        let processes = [(first.name, first.pid), (second.name, second.pid), ("driver", getpid())]
        let cpuBefore = processes.map { ProcessCPU.seconds(of: $0.1) }
        let start = Monotonic.now()
        for index in 0..<count {
            Monotonic.sleep(until: start + UInt64(Double(index) * interval))
            let sender = index.isMultiple(of: 2) ? first : second
            let text = LoadText(phase: name, sender: sender.name, index: index, sentAt: Monotonic.now())
            try sender.post(text.text)
        }
        let deadline = Monotonic.now() + UInt64(Self.drainTimeout * 1e9)
        while Monotonic.now() < deadline, received(first, second).count < count {
            usleep(50_000)
        }
        let cpu = zip(processes, cpuBefore).map { process, before in
            (process.0, max(0, ProcessCPU.seconds(of: process.1) - before))
        }
        return tally(posted: count, receipts: received(first, second), cpuSeconds: Dictionary(uniqueKeysWithValues: cpu))
    }

    /// This phase's receipts at each node of messages the other node posted.
    private func received(_ first: ChatNode, _ second: ChatNode) -> (count: Int, all: [ChatNode.Receipt]) {
        let all = [(first, second), (second, first)].flatMap { receiver, sender in
            receiver.allReceipts.filter { $0.tag.phase == name && $0.tag.sender == sender.name }
        }
        return (Set(all.map(\.tag)).count, all)
    }

    private func tally(posted: Int, receipts: (count: Int, all: [ChatNode.Receipt]), cpuSeconds: [String: Double]) -> Result {
        var firstArrival: [LoadText: UInt64] = [:]
        for receipt in receipts.all where firstArrival[receipt.tag] == nil {
            firstArrival[receipt.tag] = receipt.receivedAt
        }
        let latency = { (tag: LoadText, receivedAt: UInt64) in Double(receivedAt &- tag.sentAt) / 1e6 }
        let tenth = max(posted / 10, 1)
        let medianOf = { (range: Range<Int>) -> Double? in
            let values = firstArrival.filter { range.contains($0.key.index) }.map(latency).sorted()
            return values.isEmpty ? nil : values[values.count / 2]
        }
        return Result(name: name, sent: posted, delivered: firstArrival.count,
                      duplicates: receipts.all.count - firstArrival.count,
                      latenciesMs: firstArrival.map(latency).sorted(),
                      firstTenthMs: medianOf(0..<tenth), lastTenthMs: medianOf((posted - tenth)..<posted),
                      cpuSeconds: cpuSeconds,
                      loadAverage: (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
                          .split(separator: " ").first.map(String.init) ?? "?")
    }
}

/// A process's CPU time from /proc/PID/stat.
enum ProcessCPU {
    /// User plus system CPU seconds `pid` has used so far (0 if it cannot be read).
    static func seconds(of pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.lastIndex(of: ")") else { return 0 }
        // Fields after "(comm)": state is field 3, utime field 14, stime field 15 (proc(5)).
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Samples a process's resident memory from /proc/PID/status while an attack runs.
///
/// A sampler thread writes `peakKiB`; `lock` serialises it and `running`.
final class MemoryProbe: @unchecked Sendable {
    /// How often VmRSS is read.
    static let sampleInterval: useconds_t = 50_000

    private let pid: Int32
    private let lock = NSLock()
    private var peakKiB = 0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    /// Starts sampling process `pid`.
    init(pid: Int32) {
        self.pid = pid
        Thread { [self] in
            while lock.withLock({ running }) {
                if let rss = NodeChild.statusKiB("VmRSS", of: pid) { lock.withLock { peakKiB = max(peakKiB, rss) } }
                usleep(Self.sampleInterval)
            }
            done.signal()
        }.start()
    }

    /// Stops sampling; returns the largest VmRSS seen and the kernel's own high-water mark (VmHWM,
    /// over the process's whole life), both in KiB.
    func stop() -> (sampledPeakKiB: Int, highWaterMarkKiB: Int?) {
        lock.withLock { running = false }
        done.wait()
        return (lock.withLock { peakKiB }, NodeChild.statusKiB("VmHWM", of: pid))
    }
}
