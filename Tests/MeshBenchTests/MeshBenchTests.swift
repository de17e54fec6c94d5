import Foundation
@testable import MeshBench
import Testing

/// The benchmark's pure parts: the mesh's graph, the figures' arithmetic and the `--json` line
/// format scripts rely on. The measuring itself runs in CI as `scripts/bench --quick`.
@Suite struct MeshBenchTests {
    @Test func theMeshGraphIsSimpleConnectedAndRegular() {
        var generator = SplitMix64(seed: 30)
        for (nodes, degree) in [(30, 4), (8, 4), (6, 3)] {
            let graph = RegularGraph(nodeCount: nodes, degree: degree, generator: &generator)
            #expect(graph.edges.count == nodes * degree / 2)
            var neighbours = [Set<Int>](repeating: [], count: nodes)
            for (low, high) in graph.edges {
                #expect(low < high, "no loops, each edge once as (lower, higher)")
                #expect(!neighbours[low].contains(high), "no double edges")
                neighbours[low].insert(high)
                neighbours[high].insert(low)
            }
            #expect(neighbours.allSatisfy { $0.count == degree })
            var seen: Set<Int> = [0], frontier = [0]
            while let node = frontier.popLast() {
                for next in neighbours[node] where seen.insert(next).inserted { frontier.append(next) }
            }
            #expect(seen.count == nodes)
        }
    }

    @Test func theSameSeedDrawsTheSameGraph() {
        var first = SplitMix64(seed: 30), second = SplitMix64(seed: 30)
        let a = RegularGraph(nodeCount: 30, degree: 4, generator: &first)
        let b = RegularGraph(nodeCount: 30, degree: 4, generator: &second)
        #expect(a.edges.map { [$0.0, $0.1] } == b.edges.map { [$0.0, $0.1] })
    }

    @Test func floodingCopiesFollowFromTheGraph() {
        var generator = SplitMix64(seed: 1)
        let graph = RegularGraph(nodeCount: 30, degree: 4, generator: &generator)
        // The author sends 4 copies, each of the 29 others forwards 3: 91 copies for 29 deliveries.
        #expect(graph.floodingCopiesPerDelivery == 91.0 / 29.0)
    }

    @Test func percentilesAreNearestRank() {
        let values = (1...100).map(Double.init)
        #expect(values.percentile(50) == 50)
        #expect(values.percentile(99) == 99)
        #expect(values.percentile(100) == 100)
        #expect([7.0].percentile(99) == 7)
        #expect([Double]().percentile(50) == nil)
    }

    @Test func messageTextsAreHundredBytesAndCarryTheirIndex() {
        for index in [0, 7, 123_456] {
            let text = BenchText.text(index: index)
            #expect(text.utf8.count == BenchText.bytes)
            #expect(text.hasPrefix("m\(index) "))
        }
    }

    @Test func boundsComeFromTheCeilingsOfTheSameRun() throws {
        let bounds = BenchCommand.bounds(from: [
            Metric("ed25519_sign_per_s", 80_000, "1/s"), Metric("ed25519_verify_per_s", 20_000, "1/s"),
            Metric("x25519_per_s", 40_000, "1/s"), Metric("x25519_keygen_per_s", 40_000, "1/s"),
        ])
        let byName = Dictionary(uniqueKeysWithValues: bounds.map { ($0.name, $0.value) })
        // 1 sign (12.5 µs) + 2 verify (100 µs) per message, two cores: 2 / 112.5 µs.
        let secondsPerRelayedMessage: Double = 1 / 80_000 + 2 / 20_000
        #expect(try #require(byName["relay_crypto_bound_msgs_per_s"]) == 2 / secondsPerRelayedMessage)
        // 10 X25519 operations per handshake at 40,000/s, two cores: 8,000 a second.
        #expect(try #require(byName["handshake_crypto_bound_per_s"]) == 8_000)
        #expect(byName["hop_latency_work_floor_ms"] == nil, "no store ceiling, no floor")
        #expect(byName["link_work_bound_msgs_per_s"] == nil, "no store ceiling, no link bound")
    }

    @Test func theLinksBoundIsASignAVerifyAndTwoGroupedStoresOnTwoCores() throws {
        let bounds = BenchCommand.bounds(from: [
            Metric("ed25519_sign_per_s", 80_000, "1/s"), Metric("ed25519_verify_per_s", 20_000, "1/s"),
            Metric("store_grouped_us_per_msg", 10, "us"),
        ])
        let bound = try #require(bounds.first { $0.name == "link_work_bound_msgs_per_s" })
        // 12.5 µs + 50 µs + 2 × 10 µs = 82.5 µs a message, two cores.
        #expect(abs(bound.value - 2 / 82.5e-6) < 1e-6)
        #expect(bound.unit == "msgs/s")
    }

    @Test func theHopsWorkFloorIsASignAVerifyAndTwoLoneCommits() throws {
        let bounds = BenchCommand.bounds(from: [
            Metric("ed25519_sign_per_s", 80_000, "1/s"), Metric("ed25519_verify_per_s", 20_000, "1/s"),
            Metric("store_alone_us_per_msg", 40, "us"),
        ])
        let floor = try #require(bounds.first { $0.name == "hop_latency_work_floor_ms" })
        // 12.5 µs + 50 µs + 2 × 40 µs.
        #expect(abs(floor.value - 0.1425) < 1e-12)
        #expect(floor.unit == "ms")
        #expect(!bounds.contains { $0.name == "hop_latency_paced_floor_ms" }, "no paced round trip, no paced floor")
    }

    @Test func thePacedFloorAddsThreeWakeUpsToTheWork() throws {
        let bounds = BenchCommand.bounds(from: [
            Metric("ed25519_sign_per_s", 80_000, "1/s"), Metric("ed25519_verify_per_s", 20_000, "1/s"),
            Metric("store_alone_us_per_msg", 40, "us"), Metric("loopback_pingpong_paced_rtt_ms", 0.05, "ms"),
        ])
        let floor = try #require(bounds.first { $0.name == "hop_latency_paced_floor_ms" })
        // The work floor (0.1425 ms) + 3 wake-ups, half a paced round trip each (25 µs).
        #expect(abs(floor.value - 0.2175) < 1e-12)
        #expect(floor.unit == "ms")
    }

    @Test func jsonLinesHaveExactlyMetricValueAndUnitAndRatiosFollow() throws {
        var report = Report()
        report.add("ceilings", .measured([Metric("aead_chachapoly_64k_MBps", 4_000, "MB/s")]))
        report.add("bulk", .measured([Metric("link_bulk_MBps", 1_000, "MB/s", limit: "aead_chachapoly_64k_MBps",
                                             ratioName: "link_bulk_ratio_to_aead")]))
        report.add("mesh", .skipped(metrics: ["mesh30_p99_ms"], reason: "not here"))
        let objects = try report.jsonLines().map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.allSatisfy { Set($0.keys) == ["metric", "value", "unit"] })
        #expect(objects.map { $0["metric"] as? String } == ["aead_chachapoly_64k_MBps", "link_bulk_MBps", "link_bulk_ratio_to_aead"])
        #expect(objects.last?["value"] as? Double == 0.25)
        #expect(objects.last?["unit"] as? String == "ratio")
        #expect(!report.hasFailures)
        report.add("link", .failed(metrics: ["link_msgs_per_s"], reason: "a node did not start"))
        #expect(report.hasFailures)
        #expect(report.table().contains("FAILED"))
    }
}
