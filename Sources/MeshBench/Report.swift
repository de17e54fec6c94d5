import Foundation

/// One measured figure: a line of the table and of `--json` (`{"metric": NAME, "value": NUMBER, "unit": UNIT}`).
struct Metric: Sendable {
    /// The stable name scripts key on, e.g. `link_msgs_per_s`.
    let name: String
    /// The figure.
    let value: Double
    /// Its unit, e.g. `msgs/s`, `ms`, `MiB`, `ratio`.
    let unit: String
    /// The goal for it, as people read it (e.g. `>= 20000`), if it has one.
    var goal: String?
    /// The ceiling it is compared with: a metric name measured in the same run, if any.
    var limit: String?
    /// The name of the ratio metric `value / limit` (emitted as its own line).
    var ratioName: String?
    /// A short remark for the table (e.g. how many nodes a quick run used).
    var note: String?

    init(_ name: String, _ value: Double, _ unit: String, goal: String? = nil,
         limit: String? = nil, ratioName: String? = nil, note: String? = nil) {
        self.name = name; self.value = value; self.unit = unit
        self.goal = goal; self.limit = limit; self.ratioName = ratioName; self.note = note
    }
}

/// What became of one scenario: its figures, or why there are none.
enum Outcome: Sendable {
    /// Measured.
    case measured([Metric])
    /// Not measurable in this build, by design (e.g. `send-file` not merged yet): not a failure.
    case skipped(metrics: [String], reason: String)
    /// Should have been measured and could not be: the bench exits non-zero.
    case failed(metrics: [String], reason: String)
}

/// Collects outcomes and prints them: a table for people, or JSON lines for scripts.
struct Report {
    private(set) var outcomes: [(scenario: String, outcome: Outcome)] = []

    mutating func add(_ scenario: String, _ outcome: Outcome) { outcomes.append((scenario, outcome)) }

    /// Every measured metric, ceilings included.
    var metrics: [Metric] {
        outcomes.flatMap { entry -> [Metric] in
            if case .measured(let metrics) = entry.outcome { return metrics }
            return []
        }
    }

    /// Whether a scenario failed (the bench's exit status).
    var hasFailures: Bool {
        outcomes.contains { if case .failed = $0.outcome { return true } else { return false } }
    }

    /// The ratio metrics: each metric with a measured limit, divided by it.
    var ratios: [Metric] {
        let byName = Dictionary(metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        return metrics.compactMap { metric in
            guard let limit = metric.limit, let ratioName = metric.ratioName,
                  let limitValue = byName[limit], limitValue > 0 else { return nil }
            return Metric(ratioName, metric.value / limitValue, "ratio")
        }
    }

    /// One JSON object per line, metrics then ratios; skipped and failed metrics are reported on
    /// standard error only, so every stdout line has a number.
    func jsonLines() -> [String] {
        (metrics + ratios).map { metric in
            let object: [String: Any] = ["metric": metric.name, "value": Self.rounded(metric.value), "unit": metric.unit]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The table for people: metric, value, unit, goal, limit and the ratio to it.
    func table() -> String {
        let ratioByName = Dictionary(ratios.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let valueByName = Dictionary(metrics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var rows: [[String]] = [["metric", "value", "unit", "goal", "limit (same run)", "ratio", "note"]]
        for (scenario, outcome) in outcomes {
            switch outcome {
            case .measured(let metrics):
                for metric in metrics {
                    var limitText = "", ratioText = ""
                    if let limit = metric.limit, let limitMetric = valueByName[limit] {
                        limitText = "\(limit) = \(Self.format(limitMetric.value)) \(limitMetric.unit)"
                        if let ratioName = metric.ratioName, let ratio = ratioByName[ratioName] {
                            ratioText = String(format: "%.3f", ratio)
                        }
                    }
                    rows.append([metric.name, Self.format(metric.value), metric.unit, metric.goal ?? "",
                                 limitText, ratioText, metric.note ?? ""])
                }
            case .skipped(let names, let reason):
                for name in names { rows.append([name, "skipped", "", "", "", "", reason]) }
            case .failed(let names, let reason):
                for name in names { rows.append([name, "FAILED", "", "", "", "", "\(scenario): \(reason)"]) }
            }
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.enumerated().map { index, row in
            let line = zip(row, widths).enumerated().map { column, pair in
                column == 1 ? String(repeating: " ", count: pair.1 - pair.0.count) + pair.0
                            : pair.0 + String(repeating: " ", count: pair.1 - pair.0.count)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            return index == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }

    /// Three significant figures or more, no exponent: enough for a table, stable in diffs.
    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        if abs(value) >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.4f", value)
    }

    /// Rounded for JSON to 4 significant decimals where it matters.
    static func rounded(_ value: Double) -> Double {
        guard value.isFinite else { return -1 }
        if abs(value) >= 1000 { return value.rounded() }
        return (value * 10_000).rounded() / 10_000
    }
}
