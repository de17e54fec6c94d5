import Foundation
import MeshCrypto
import MeshHarness

/// Sizes of a run: the full figures, or `--quick`'s small counts (CI, so the bench cannot rot).
struct BenchSizes {
    var ceilingSeconds: Double
    var linkMessages: Int
    var relayMessages: Int
    var latencyMessages: Int
    var bulkBytes: Int
    var meshNodes: Int
    var meshMessages: Int
    var handshakeSeconds: Double
    var rssLinks: Int
    var startupSamples: Int

    static let full = BenchSizes(ceilingSeconds: 1, linkMessages: 20_000, relayMessages: 20_000, latencyMessages: 5_000,
                                 bulkBytes: 256 << 20, meshNodes: 30, meshMessages: 1_000, handshakeSeconds: 5,
                                 rssLinks: 50, startupSamples: 7)
    static let quick = BenchSizes(ceilingSeconds: 0.1, linkMessages: 2_000, relayMessages: 1_000, latencyMessages: 300,
                                  bulkBytes: 16 << 20, meshNodes: 8, meshMessages: 100, handshakeSeconds: 1,
                                  rssLinks: 8, startupSamples: 2)
}

/// The scenarios on real node processes: each starts its own nodes in fresh homes and stops them.
struct NodeScenarios {
    let binary: String
    let workspace: Workspace
    let sizes: BenchSizes

    /// How long the bench waits for messages that stopped arriving before it calls them lost.
    static let quietSeconds = 10.0
    /// Messages posted before a latency run and not counted: first-use costs (allocation, SQLite caches).
    static let warmupMessages = 100

    // MARK: Helpers

    /// Starts nodes named `names` in fresh homes and waits until each is ready.
    func start(_ names: [String], scenario: String, arguments: [String] = []) throws -> [BenchNode] {
        let nodes = try names.map {
            try BenchNode(binary: binary, name: $0, home: workspace.home(scenario + "-" + $0), arguments: arguments)
        }
        for node in nodes { _ = try node.ready() }
        return nodes
    }

    /// Links `dialer` to `listener` as two people would: each pins the other, only the dialer with an address.
    func link(_ dialer: BenchNode, to listener: BenchNode) throws {
        let dialerReady = try dialer.ready(), listenerReady = try listener.ready()
        let before = (dialer.count(of: "link-up"), listener.count(of: "link-up"))
        try listener.pin(dialer.name, key: dialerReady.key, port: nil)
        try dialer.pin(listener.name, key: listenerReady.key, port: listenerReady.port)
        try dialer.waitFor(count: before.0 + 1, of: "link-up")
        try listener.waitFor(count: before.1 + 1, of: "link-up")
    }

    /// All `texts` as one block of input lines.
    static func lines(_ indices: Range<Int>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(indices.count * (BenchText.bytes + 1))
        for index in indices { bytes += Array(BenchText.text(index: index).utf8); bytes.append(UInt8(ascii: "\n")) }
        return bytes
    }

    /// Posts `indices` at `from` as fast as its input is read and returns the rate at which `at`
    /// showed them: messages / (last shown - first posted).
    func throughput(from: BenchNode, at: BenchNode, indices: Range<Int>) throws -> Double {
        let block = Self.lines(indices)
        let start = Monotonic.now()
        let writer = Thread { try? from.write(block) }
        writer.start()
        let shownCount = at.waitForShown(indices, quiet: Self.quietSeconds)
        guard shownCount == indices.count else {
            throw BenchFailure("\(at.name) showed \(shownCount) of \(indices.count) messages")
        }
        let times = at.shownTimes
        let last = indices.compactMap { times[$0] }.max() ?? start
        return Double(indices.count) / Monotonic.seconds(from: start, to: last)
    }

    // MARK: Scenarios

    /// `hop_latency_p50_ms`, `hop_latency_p99_ms` and `link_msgs_per_s` on one link (B dials A).
    func link() throws -> [Metric] {
        let nodes = try start(["a", "b"], scenario: "link")
        defer { nodes.forEach { $0.stop() } }
        let (a, b) = (nodes[0], nodes[1])
        try link(b, to: a)

        // Latency first, on a quiet link: post-to-shown at 1,000 messages/s.
        let warmup = 0..<Self.warmupMessages
        let measured = warmup.upperBound..<(warmup.upperBound + sizes.latencyMessages)
        var posted = [UInt64](repeating: 0, count: measured.upperBound)
        let start = Monotonic.now()
        for index in 0..<measured.upperBound {
            Monotonic.sleep(until: start + UInt64(index) * 1_000_000)
            posted[index] = Monotonic.now()
            try a.post(BenchText.text(index: index))
        }
        let shownCount = b.waitForShown(measured, quiet: Self.quietSeconds)
        guard shownCount == measured.count else { throw BenchFailure("b showed \(shownCount) of \(measured.count) messages") }
        let times = b.shownTimes
        let latencies = measured.map { Double(times[$0]! - posted[$0]) / 1e6 }
        // If B showed them slower than they were posted, the latencies are mostly queueing: say so.
        let lastShown = measured.map { times[$0]! }.max()!
        let shownRate = Double(measured.count) / Monotonic.seconds(from: posted[measured.lowerBound], to: lastShown)
        let latencyNote = "\(measured.count) msgs at 1000/s" + (shownRate < 950 ? "; B kept up with only \(Int(shownRate))/s" : "")

        // Then throughput: as fast as A's input is read.
        let bulk = measured.upperBound..<(measured.upperBound + sizes.linkMessages)
        let rate = try throughput(from: a, at: b, indices: bulk)
        return [
            Metric("link_msgs_per_s", rate, "msgs/s", goal: ">= 20000", limit: "link_work_bound_msgs_per_s",
                   ratioName: "link_msgs_ratio_to_work_bound", note: "\(bulk.count) msgs"),
            Metric("hop_latency_p50_ms", latencies.percentile(50)!, "ms", goal: "<= 0.3",
                   limit: "hop_latency_paced_floor_ms", ratioName: "hop_latency_p50_ratio_to_floor",
                   note: latencyNote),
            Metric("hop_latency_p99_ms", latencies.percentile(99)!, "ms", goal: "<= 1.0",
                   limit: "hop_latency_paced_floor_ms", ratioName: "hop_latency_p99_ratio_to_floor"),
        ]
    }

    /// `relay_msgs_per_s`: A and C dial B; A posts, C shows.
    func relay() throws -> [Metric] {
        let nodes = try start(["a", "b", "c"], scenario: "relay")
        defer { nodes.forEach { $0.stop() } }
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        try link(a, to: b)
        try link(c, to: b)
        let rate = try throughput(from: a, at: c, indices: 0..<sizes.relayMessages)
        return [Metric("relay_msgs_per_s", rate, "msgs/s", goal: ">= 0.5 x bound", limit: "relay_crypto_bound_msgs_per_s",
                       ratioName: "relay_ratio_to_crypto_bound", note: "A->B->C, \(sizes.relayMessages) msgs")]
    }

    /// Whether this `meshchat` has the `send-file` command (branch `files`).
    /// (An unknown subcommand's `--help` prints the top-level help, so the usage line is checked too.)
    var hasSendFile: Bool {
        guard let help = try? run(binary, ["send-file", "--help"]) else { return false }
        return help.status == 0 && help.output.contains("meshchat send-file")
    }

    /// `link_bulk_MBps`: `meshchat send-file` from A to B (started with `--accept-files`), from
    /// the command's start to B's `file-received` event.
    func bulk() throws -> [Metric] {
        let nodes = try [BenchNode(binary: binary, name: "a", home: workspace.home("bulk-a")),
                         BenchNode(binary: binary, name: "b", home: workspace.home("bulk-b"), arguments: ["--accept-files"])]
        defer { nodes.forEach { $0.stop() } }
        let (a, b) = (nodes[0], nodes[1])
        try link(a, to: b)
        let path = workspace.path + "/bulk.bin"
        let chunk = SecureRandom.bytes(count: 1 << 20)
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let file = FileHandle(forWritingAtPath: path) else { throw BenchFailure("cannot write \(path)") }
        for _ in 0..<(sizes.bulkBytes >> 20) { file.write(Data(chunk)) }
        try file.close()

        let start = Monotonic.now()
        let sent = try run(binary, ["send-file", "--home", a.home.directory, b.name, path])
        guard sent.status == 0 else { throw BenchFailure("meshchat send-file exited with status \(sent.status)") }
        let received = try b.waitFor(event: "file-received", timeout: 120)
        let bytes = (received.fields["bytes"] as? Int) ?? 0
        guard bytes == sizes.bulkBytes else { throw BenchFailure("b received \(bytes) of \(sizes.bulkBytes) bytes") }
        let seconds = Monotonic.seconds(from: start, to: max(received.arrival, start + 1))
        return [Metric("link_bulk_MBps", Double(bytes) / seconds / 1e6, "MB/s", goal: ">= 1500",
                       limit: "aead_chachapoly_64k_MBps", ratioName: "link_bulk_ratio_to_aead",
                       note: "\(bytes >> 20) MiB file")]
    }
}
