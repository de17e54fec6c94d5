import MeshWire
import NIOCore

/// Checks the Ed25519 signatures of received envelopes on worker threads, so the event loop
/// decrypts, stores and shows one batch while the next is being verified: the signature is the
/// costliest step of a received message (docs/performance.md).
///
/// Work leaves in the order it came in: a batch's verdicts, and any step queued behind it with
/// `afterPending` (a sync message, a PONG), are handed back on the loop only once every batch
/// submitted before it has been handed back. A batch of at most `inlineBatchLimit` envelopes is
/// verified on the loop itself, where it costs no thread handoff. Used on the loop only, like the
/// core that owns it.
///
/// Once stopped it hands nothing back: what is queued is dropped (nothing of it was stored, so the
/// senders' next sync offers it again) and batches still on the pool are awaited, so none of them
/// calls back after the loop has closed.
final class SignatureVerifier<Tag> {
    /// An envelope waiting for its verdict, with what its owner needs to act on it.
    struct Item {
        let envelope: Envelope
        let tag: Tag
    }

    /// One unit of ordered work.
    private enum Step {
        /// Envelopes whose verdicts (one per item, in order) are out while `verdicts` is nil.
        case batch(number: UInt64, items: [Item], verdicts: [Bool]?)
        /// Work that must not overtake the batches before it.
        case waiting(() -> Void)
    }

    /// Batches up to this size are verified on the loop. Handing a batch to a worker costs two
    /// wake-ups (the worker's, then the loop's again) and, on a machine whose cores are all busy,
    /// two waits for a core, while a batch this small leaves the loop little to do meanwhile. In the
    /// 30-node mesh, where every core is busy, handing off every batch of two or more made the p99
    /// about a quarter longer (docs/performance.md 17). A burst or a sync answer comes in larger
    /// batches, which still go to the workers.
    static var inlineBatchLimit: Int { 4 }

    private let work: OffLoopWork
    private let deliver: (_ items: [Item], _ verdicts: [Bool]) -> Void
    private var steps = CircularBuffer<Step>()
    private var batchesSubmitted: UInt64 = 0

    /// A verifier that checks batches through `work` and hands each batch's items and verdicts to
    /// `deliver`, on the loop, in order.
    init(work: OffLoopWork, deliver: @escaping (_ items: [Item], _ verdicts: [Bool]) -> Void) {
        self.work = work
        self.deliver = deliver
    }

    /// Whether nothing is waiting: a step given to `afterPending` now runs at once.
    var isIdle: Bool { steps.isEmpty }

    /// Verifies `items` and delivers them behind everything submitted before.
    func submit(_ items: [Item]) {
        guard !items.isEmpty, !work.isStopped else { return }
        batchesSubmitted += 1
        let number = batchesSubmitted
        guard items.count > Self.inlineBatchLimit else {
            steps.append(.batch(number: number, items: items, verdicts: items.map(\.envelope.hasValidSignature)))
            return release()
        }
        steps.append(.batch(number: number, items: items, verdicts: nil))
        let envelopes = items.map(\.envelope)
        work.run({ envelopes.map(\.hasValidSignature) }) { [weak self] verdicts in
            self?.verified(batch: number, verdicts)
        }
    }

    /// Runs `step` once every batch submitted so far has been delivered: at once if none is out.
    func afterPending(_ step: @escaping () -> Void) {
        guard !work.isStopped else { return }
        if steps.isEmpty { return step() }
        steps.append(.waiting(step))
    }

    /// Drops everything queued and hands nothing back from now on; the future completes once every
    /// batch still on the thread pool has come back to the loop (its verdicts dropped too).
    func stop() -> EventLoopFuture<Void> {
        steps.removeAll()
        return work.stop()
    }

    private func verified(batch number: UInt64, _ verdicts: [Bool]) {
        guard let index = steps.firstIndex(where: { if case .batch(number, _, _) = $0 { true } else { false } }),
              case .batch(_, let items, _) = steps[index] else { return }
        steps[index] = .batch(number: number, items: items, verdicts: verdicts)
        release()
    }

    /// Hands back, in order, every step at the head that is ready. Each step leaves the queue
    /// before it runs, so a step that submits more work queues it behind the rest.
    private func release() {
        while let head = steps.first {
            switch head {
            case .batch(_, _, nil):
                return
            case .batch(_, let items, let verdicts?):
                steps.removeFirst()
                deliver(items, verdicts)
            case .waiting(let step):
                steps.removeFirst()
                step()
            }
        }
    }
}
