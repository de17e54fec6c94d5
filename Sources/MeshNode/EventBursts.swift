import NIOCore

/// Hands a node's events on as they happen and, once per event-loop tick that had any, says the
/// burst is over, so an output can write a burst's lines with one `write(2)` instead of one each.
///
/// Why: a link delivers many messages per read, and the JSON output's per-event system call was
/// a large share of the cost of showing a message (docs/performance.md).
/// Used only on the node's loop (every event is emitted there), which is what makes it safe to share.
final class EventBursts: @unchecked Sendable {
    private let loop: EventLoop
    private let events: @Sendable (NodeEvent) -> Void
    private let burstEnded: (@Sendable () -> Void)?
    private var endScheduled = false

    init(loop: EventLoop, events: @escaping @Sendable (NodeEvent) -> Void, burstEnded: (@Sendable () -> Void)?) {
        self.loop = loop
        self.events = events
        self.burstEnded = burstEnded
    }

    /// Passes `event` on, and schedules the end-of-burst call behind the tasks already queued.
    func emit(_ event: NodeEvent) {
        loop.assertInEventLoop()
        events(event)
        guard let burstEnded, !endScheduled else { return }
        endScheduled = true
        loop.execute { [self] in
            endScheduled = false
            burstEnded()
        }
    }
}
