import Foundation
import MeshCrypto
import MeshHarness

/// A random d-regular graph: every node has exactly `degree` neighbours, no loops, no double edges,
/// connected. Drawn by the pairing model, redrawn until it qualifies.
struct RegularGraph {
    let nodeCount: Int
    let degree: Int
    /// Each edge once, as (lower, higher).
    let edges: [(Int, Int)]

    init(nodeCount: Int, degree: Int, generator: inout SplitMix64) {
        precondition(nodeCount > degree && nodeCount * degree % 2 == 0, "a \(degree)-regular graph on \(nodeCount) nodes exists")
        self.nodeCount = nodeCount
        self.degree = degree
        while true {
            var stubs = (0..<nodeCount).flatMap { Array(repeating: $0, count: degree) }
            stubs.shuffle(using: &generator)
            var pairs = Set<[Int]>()
            var simple = true
            for index in stride(from: 0, to: stubs.count, by: 2) {
                let pair = [min(stubs[index], stubs[index + 1]), max(stubs[index], stubs[index + 1])]
                if pair[0] == pair[1] || !pairs.insert(pair).inserted { simple = false; break }
            }
            let edges = pairs.map { ($0[0], $0[1]) }.sorted { $0 < $1 }
            if simple && Self.isConnected(nodeCount, edges) {
                self.edges = edges
                return
            }
        }
    }

    private static func isConnected(_ count: Int, _ edges: [(Int, Int)]) -> Bool {
        var neighbours = [[Int]](repeating: [], count: count)
        for (a, b) in edges { neighbours[a].append(b); neighbours[b].append(a) }
        var seen: Set<Int> = [0], frontier = [0]
        while let node = frontier.popLast() {
            for next in neighbours[node] where seen.insert(next).inserted { frontier.append(next) }
        }
        return seen.count == count
    }

    /// Envelope copies plain flooding makes per delivery: the author sends to its `degree`
    /// neighbours and every other node forwards its first copy to its `degree - 1` others.
    var floodingCopiesPerDelivery: Double {
        Double(degree + (nodeCount - 1) * (degree - 1)) / Double(nodeCount - 1)
    }
}

extension NodeScenarios {
    /// The mesh's degree (the "random 4-regular graph").
    static let meshDegree = 4
    /// The mesh's posting rate, messages per second.
    static let meshRate = 200

    /// `mesh30_*`: `meshNodes` processes on a random 4-regular graph; messages from random authors
    /// at 200/s; share delivered to every node, p99 time until the last node has one, copies received per delivery.
    func mesh() throws -> [Metric] {
        var generator = SplitMix64(seed: 30)
        let graph = RegularGraph(nodeCount: sizes.meshNodes, degree: Self.meshDegree, generator: &generator)
        let nodes = try start((0..<graph.nodeCount).map { "n\($0)" }, scenario: "mesh")
        defer { nodes.forEach { $0.stop() } }
        let ready = try nodes.map { try $0.ready() }
        // Each edge is pinned both ways; only the lower-numbered end dials, so no link is made twice.
        for (low, high) in graph.edges {
            try nodes[high].pin(nodes[low].name, key: ready[low].key, port: nil)
            try nodes[low].pin(nodes[high].name, key: ready[high].key, port: ready[high].port)
        }
        for node in nodes { try node.waitFor(count: graph.degree, of: "link-up", timeout: 60) }

        let count = sizes.meshMessages
        var authors: [Int] = [], posted: [UInt64] = []
        let cpuBefore = nodes.compactMap { NodeChild.cpuSeconds(of: $0.pid) }.reduce(0, +)
        let start = Monotonic.now()
        for index in 0..<count {
            Monotonic.sleep(until: start + UInt64(index) * 1_000_000_000 / UInt64(Self.meshRate))
            let author = Int.random(in: 0..<graph.nodeCount, using: &generator)
            authors.append(author)
            posted.append(Monotonic.now())
            try nodes[author].post(BenchText.text(index: index))
        }
        for (number, node) in nodes.enumerated() {
            node.waitForShown((0..<count).filter { authors[$0] != number }, quiet: Self.quietSeconds)
        }

        // The nodes' CPU over the message phase: against the machine's cores it says how close to
        // saturation they ran, which is what the tail latency follows.
        let phaseSeconds = Double(Monotonic.now() - start) / 1e9
        let nodeCPUSeconds = nodes.compactMap { NodeChild.cpuSeconds(of: $0.pid) }.reduce(0, +) - cpuBefore
        let shown = nodes.map { $0.shownTimes }
        var deliveries = 0, fullyDelivered = 0
        var lastArrivals: [Double] = []
        for index in 0..<count {
            let others = (0..<graph.nodeCount).filter { $0 != authors[index] }
            let arrivals = others.compactMap { shown[$0][index] }
            deliveries += arrivals.count
            if arrivals.count == others.count {
                fullyDelivered += 1
                lastArrivals.append(Double(arrivals.max()! - posted[index]) / 1e6)
            }
        }
        var received: UInt64 = 0
        for node in nodes {
            let status = try run(binary, ["status", "--json", "--home", node.home.directory])
            guard status.status == 0,
                  let object = try? JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any],
                  let counters = object["counters"] as? [String: Any],
                  let envelopes = (counters["envelopes_received"] as? NSNumber)?.uint64Value
            else { throw BenchFailure("\(node.name)'s status --json has no counters.envelopes_received") }
            received += envelopes
        }
        let note = "\(graph.nodeCount) nodes, \(count) msgs at \(Self.meshRate)/s"
        guard fullyDelivered > 0 else { throw BenchFailure("no message reached every node (\(deliveries) deliveries in all)") }
        return [
            Metric("mesh30_delivered_ratio", Double(fullyDelivered) / Double(count), "ratio", goal: "1.0", note: note),
            Metric("mesh30_p99_ms", lastArrivals.percentile(99)!, "ms", goal: "<= 50",
                   note: "post to last node, fully delivered msgs"),
            Metric("mesh30_copies_per_delivery", Double(received) / Double(deliveries), "copies",
                   limit: "mesh30_flooding_copies_per_delivery", ratioName: "mesh30_copies_ratio_to_flooding"),
            Metric("mesh30_flooding_copies_per_delivery", graph.floodingCopiesPerDelivery, "copies",
                   note: "what plain flooding receives on this graph"),
            Metric("mesh30_cpu_us_per_delivery", nodeCPUSeconds * 1e6 / Double(max(deliveries, 1)), "us",
                   note: "all nodes' CPU over the message phase, per message shown"),
            Metric("mesh30_cores_busy", nodeCPUSeconds / phaseSeconds, "cores",
                   note: "of \(ProcessInfo.processInfo.activeProcessorCount), nodes only, message phase"),
        ]
    }
}
