import ArgumentParser
import Foundation
import MeshHarness

/// `meshchat-bench`: MeshChat's benchmark suite (docs/benchmarks.md). Measures the raw ceilings
/// in this process, then real `meshchat` processes on loopback, and prints every figure with
/// its ratio to the ceiling measured in the same run.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshchat-bench",
        abstract: "Measure MeshChat against the machine's own limits.",
        discussion: "Usually run through scripts/bench, which builds in release mode first. Exits non-zero if a figure could not be measured at all; it asserts nothing about speed.")

    @Flag(name: .long, help: "Small counts, a few seconds per figure (CI).") var quick = false
    @Flag(name: .long, help: "One JSON object per line: {\"metric\": NAME, \"value\": NUMBER, \"unit\": UNIT}.") var json = false
    @Option(name: .long, help: "The meshchat executable to drive (default: the one beside this program).") var meshchat: String?
    @Option(name: .long, parsing: .upToNextOption, help: "Only these scenarios: \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var only: [Scenario] = []

    /// The scenarios, in the order they run; ceilings always run first, since every ratio needs them.
    enum Scenario: String, CaseIterable, ExpressibleByArgument {
        case startup, link, relay, bulk, mesh, handshakes, rss
    }

    func run() throws {
        let binary = meshchat ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("meshchat").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            FileHandle.standardError.write(Data("meshchat-bench: no meshchat executable at \(binary); build it or pass --meshchat PATH.\n".utf8))
            throw ExitCode(1)
        }
        signal(SIGPIPE, SIG_IGN) // a node that died must fail a scenario, not kill the bench
        ChildProcesses.stopAllOnSignal()
        let sizes = quick ? BenchSizes.quick : BenchSizes.full
        let workspace = try Workspace()
        defer { workspace.remove() }
        let scenarios = NodeScenarios(binary: binary, workspace: workspace, sizes: sizes)
        var report = Report()

        progress("ceilings (one core each, in this process)")
        let load = Self.loadAverage()
        let ceilings = Ceilings(duration: sizes.ceilingSeconds).measure() + (load.map {
            [Metric("machine_load_1m", $0, "runnable", note: "load average when the run began: other work skews every figure")]
        } ?? [])
        report.add("ceilings", .measured(ceilings + Self.bounds(from: ceilings)))

        let chosen = only.isEmpty ? Scenario.allCases : Scenario.allCases.filter(only.contains)
        for scenario in chosen {
            progress(scenario.rawValue)
            let started = Monotonic.now()
            let outcome: Outcome
            switch scenario {
            case .startup: outcome = measure(["startup_ms", "idle_rss_MiB", "idle_private_dirty_MiB"]) { try scenarios.startupAndIdle() }
            case .link: outcome = measure(["link_msgs_per_s", "hop_latency_p50_ms", "hop_latency_p99_ms"]) { try scenarios.link() }
            case .relay: outcome = measure(["relay_msgs_per_s"]) { try scenarios.relay() }
            case .bulk:
                outcome = scenarios.hasSendFile
                    ? measure(["link_bulk_MBps"]) { try scenarios.bulk() }
                    : .skipped(metrics: ["link_bulk_MBps"], reason: "this meshchat has no send-file command yet (branch files)")
            case .mesh:
                outcome = measure(["mesh30_delivered_ratio", "mesh30_p99_ms", "mesh30_copies_per_delivery"]) { try scenarios.mesh() }
            case .handshakes: outcome = measure(["handshakes_per_s"]) { try scenarios.handshakes() }
            case .rss: outcome = measure(["rss_per_link_KiB"]) { try scenarios.rssPerLink() }
            }
            report.add(scenario.rawValue, outcome)
            switch outcome {
            case .measured: progress("  done in \(String(format: "%.1f", Monotonic.seconds(from: started, to: Monotonic.now()))) s")
            case .skipped(_, let reason): progress("  skipped: \(reason)")
            case .failed(_, let reason): progress("  FAILED: \(reason)")
            }
        }

        if json {
            for line in report.jsonLines() { print(line) }
        } else {
            print(report.table())
            print("\nCeilings are one core each; nodes share this machine's \(ProcessInfo.processInfo.activeProcessorCount) cores with each other and with the bench.")
        }
        if report.hasFailures { throw ExitCode(1) }
    }

    /// The 1-minute load average from /proc/loadavg, so a figure taken on a busy machine says so.
    static func loadAverage() -> Double? {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) }
    }

    private func measure(_ names: [String], _ body: () throws -> [Metric]) -> Outcome {
        do { return .measured(try body()) } catch { return .failed(metrics: names, reason: "\(error)") }
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
    }

    /// Limits derived from the ceilings, for the figures the issue compares with them.
    static func bounds(from ceilings: [Metric]) -> [Metric] {
        let rate = Dictionary(ceilings.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        var bounds: [Metric] = []
        if let sign = rate["ed25519_sign_per_s"], let verify = rate["ed25519_verify_per_s"] {
            // A relayed message costs one signature (A) and two verifications (B and C): on two
            // cores at best 2 / (1/sign + 2/verify) messages a second.
            bounds.append(Metric("relay_crypto_bound_msgs_per_s", 2 / (1 / sign + 2 / verify), "msgs/s",
                                 note: "2 cores / (1 sign + 2 verify)"))
        }
        if let sign = rate["ed25519_sign_per_s"], let verify = rate["ed25519_verify_per_s"],
           let grouped = rate["store_grouped_us_per_msg"] {
            // A message over a link in a burst costs one signature (A), one verification (B) and two
            // stores, many to a transaction (A and B): on two cores at best this many a second.
            bounds.append(Metric("link_work_bound_msgs_per_s", 2 / (1 / sign + 1 / verify + 2 * grouped / 1e6), "msgs/s",
                                 note: "2 cores / (1 sign + 1 verify + 2 grouped stores)"))
        }
        if let sign = rate["ed25519_sign_per_s"], let verify = rate["ed25519_verify_per_s"],
           let store = rate["store_alone_us_per_msg"] {
            // What one message costs on its way over a hop, waiting aside: A signs and stores it, B
            // verifies and stores it, each alone in its transaction at 1,000 messages a second.
            let workFloor = (1e6 / sign + 1e6 / verify + 2 * store) / 1000
            bounds.append(Metric("hop_latency_work_floor_ms", workFloor, "ms",
                                 note: "1 sign + 1 verify + 2 lone commits, no waiting"))
            if let paced = rate["loopback_pingpong_paced_rtt_ms"] {
                // The wake-ups no hop can spare at this pace: A by its input, B by A's frame, the
                // reader by B's output; a paced round trip is two of them.
                bounds.append(Metric("hop_latency_paced_floor_ms", workFloor + 1.5 * paced, "ms",
                                     note: "the work floor + 3 wake-ups from idle"))
            }
        }
        if let dh = rate["x25519_per_s"], let keygen = rate["x25519_keygen_per_s"] {
            // An IK handshake costs each end 4 DH and 1 ephemeral key: with both ends here, 8 DH and
            // 2 key generations shared by two cores.
            bounds.append(Metric("handshake_crypto_bound_per_s", 2 / (8 / dh + 2 / keygen), "1/s",
                                 note: "2 cores / (8 DH + 2 keygen)"))
        }
        return bounds
    }
}
