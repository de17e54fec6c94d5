import Foundation
import MeshCrypto
import MeshHarness
import MeshStore
import MeshWire

/// The raw limits every node figure is compared with, measured in this process, on one core,
/// through MeshCrypto (the same calls the node makes), in the same run as the node figures.
struct Ceilings {
    /// How long each rate is measured.
    let duration: Double

    /// The bytes a 100-byte room message's signature covers: a real envelope's signed part.
    static func roomMessageSignedPart() -> [UInt8] {
        let author = SigningPrivateKey()
        let envelope = try! Envelope.signed(kind: .room, by: author, seq: 1, timestamp: 1_700_000_000_000,
                                            nickname: "n00", room: "general", recipient: nil,
                                            body: Array(BenchText.padded("m0").utf8))
        return envelope.signedBytes
    }

    func measure() -> [Metric] {
        var metrics: [Metric] = []
        // Paced round trips in four blocks between the other ceilings; the lowest block median is
        // kept, so a second in which the host held this machine back does not make the floor.
        var pacedMedians: [Double] = []
        func pacedBlock() {
            if let samples = try? loopbackRoundTrips(every: 0.001, for: duration / 4, atLeast: 25) {
                pacedMedians.append(samples.percentile(50)!)
            }
        }
        let plaintext = [UInt8](repeating: 0x5A, count: 64 * 1024)
        let key = SecureBytes(SecureRandom.bytes(count: AEADCipher.keyByteCount))
        let nonce = [UInt8](repeating: 0, count: AEADCipher.nonceByteCount)
        for (cipher, name) in [(AEADCipher.chaChaPoly, "aead_chachapoly_64k_MBps"), (.aesGCM, "aead_aesgcm_64k_MBps")] {
            let perSecond = rate { _ = cipher.seal(key: key, nonce: nonce, associatedData: [], plaintext: plaintext) }
            metrics.append(Metric(name, perSecond * Double(plaintext.count) / 1e6, "MB/s",
                                  note: "seal of 64 KiB, one core"))
        }
        pacedBlock()

        let signer = SigningPrivateKey()
        let message = Self.roomMessageSignedPart()
        let signature = signer.signature(for: message)
        metrics.append(Metric("ed25519_sign_per_s", rate { _ = signer.signature(for: message) }, "1/s",
                              note: "\(message.count)-byte signed part, one core"))
        metrics.append(Metric("ed25519_verify_per_s", rate {
            precondition(signer.publicKey.isValidSignature(signature, for: message))
        }, "1/s", note: "\(message.count)-byte signed part, one core"))
        pacedBlock()

        let mine = KeyAgreementPrivateKey(), theirs = KeyAgreementPrivateKey().publicKey
        metrics.append(Metric("x25519_per_s", rate { _ = try? mine.sharedSecret(with: theirs) }, "1/s",
                              note: "scalar mult (DH), one core"))
        metrics.append(Metric("x25519_keygen_per_s", rate { _ = KeyAgreementPrivateKey() }, "1/s",
                              note: "fixed-base mult, one core"))
        pacedBlock()

        if let store = try? storeCommits() { metrics += store }
        pacedBlock()
        if let tcp = try? loopbackTCP() { metrics.append(tcp) }
        if let samples = try? loopbackRoundTrips(every: nil, for: duration, atLeast: 100) {
            metrics.append(Metric("loopback_pingpong_rtt_ms", samples.percentile(50)! / 1000, "ms",
                                  note: "64 bytes, median round trip"))
        }
        if let best = pacedMedians.min() {
            metrics.append(Metric("loopback_pingpong_paced_rtt_ms", best / 1000, "ms",
                                  note: "the same, one a ms, best of 4 blocks: threads woken from idle"))
        }
        return metrics
    }

    /// Calls per second of `body`, run in growing batches until `duration` has passed.
    private func rate(_ body: () -> Void) -> Double {
        body() // warm up: first-call allocation and lazy initialisation
        var calls = 0, batch = 16
        let start = Monotonic.now()
        var elapsed = 0.0
        while elapsed < duration {
            for _ in 0..<batch { body() }
            calls += batch
            batch = min(batch * 2, 4096)
            elapsed = Monotonic.seconds(from: start, to: Monotonic.now())
        }
        return Double(calls) / elapsed
    }

    /// Storing 100-byte room messages, each its author's next seq, in the node's own SQLite store
    /// (a fresh file, WAL, the node's settings): one message a transaction, as a node stores what
    /// arrives at a person's pace (every hop pays it once), and 64 a transaction, as in a burst.
    /// The envelopes are signed beforehand, so this is the store alone.
    private func storeCommits() throws -> [Metric] {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try FileManager.default.createDirectory(atPath: workspace.path + "/store", withIntermediateDirectories: true)
        let store = try SQLiteMessageStore(path: workspace.path + "/store/messages.sqlite", options: .init(retention: .unlimited))
        defer { try? store.close() }
        let author = SigningPrivateKey()
        let body = Array(BenchText.padded("m0").utf8)
        var seq: UInt64 = 0
        func envelopes(_ count: Int) throws -> [Envelope] {
            try (0..<count).map { _ in
                seq += 1
                return try Envelope.signed(kind: .room, by: author, seq: seq, timestamp: 1_700_000_000_000 + seq,
                                           nickname: "n00", room: "general", recipient: nil, body: body)
            }
        }
        // 2,000 messages per second of `duration` each way: steady enough, without signing tens
        // of thousands of envelopes first.
        func microsecondsPerMessage(perTransaction: Int) throws -> Double {
            let batches = try (0..<max(8, Int(duration * 2_000) / perTransaction)).map { _ in try envelopes(perTransaction) }
            let start = Monotonic.now()
            for batch in batches { _ = try store.transaction { try batch.map { try store.insert($0) } } }
            return Monotonic.seconds(from: start, to: Monotonic.now()) * 1e6 / Double(batches.count * perTransaction)
        }
        return [
            Metric("store_alone_us_per_msg", try microsecondsPerMessage(perTransaction: 1), "us",
                   note: "one message a transaction, one core"),
            Metric("store_grouped_us_per_msg", try microsecondsPerMessage(perTransaction: 64), "us",
                   note: "64 messages a transaction, one core"),
        ]
    }

    /// One TCP connection on loopback, one thread writing 64 KiB chunks, another reading: the wire's limit.
    private func loopbackTCP() throws -> Metric {
        let (listener, port) = try LoopbackSocket.listen()
        let client = try LoopbackSocket.connect(port: port, noDelay: true)
        let server = try listener.accept()
        let chunk = [UInt8](repeating: 1, count: 64 * 1024)
        let duration = self.duration
        let stop = Shared(false)
        let start = Monotonic.now()
        var received = 0
        Thread.detachNewThread {
            while !stop.load() { if (try? client.send(chunk)) == nil { break } }
            client.close()
        }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var elapsed = 0.0
        while elapsed < duration {
            let count = try buffer.withUnsafeMutableBytes { try server.receive(into: $0) }
            guard count > 0 else { break }
            received += count
            elapsed = Monotonic.seconds(from: start, to: Monotonic.now())
        }
        stop.store(true)
        server.close()
        return Metric("loopback_tcp_MBps", Double(received) / elapsed / 1e6, "MB/s", note: "one connection, 64 KiB writes")
    }

    /// Round trips of 64 bytes between two threads over one loopback TCP connection, in µs, for
    /// `duration` seconds and at least `minimum` of them: the floor under any hop's latency. Back
    /// to back (`interval` nil) both threads stay warm; one round trip per `interval`, as messages
    /// come in the hop-latency scenario, each wakes a thread whose core has gone idle meanwhile,
    /// which on a virtual machine costs far more.
    private func loopbackRoundTrips(every interval: Double?, for duration: Double, atLeast minimum: Int) throws -> [Double] {
        let (listener, port) = try LoopbackSocket.listen()
        let client = try LoopbackSocket.connect(port: port, noDelay: true)
        let server = try listener.accept()
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 64)
            while (try? buffer.withUnsafeMutableBytes({ try server.receiveExactly(into: $0) })) != nil {
                if (try? server.send(buffer)) == nil { break }
            }
            server.close()
        }
        defer { client.close() }
        var buffer = [UInt8](repeating: 7, count: 64)
        var samples: [Double] = []
        let end = Monotonic.now() + UInt64(duration * 1e9)
        while Monotonic.now() < end || samples.count < minimum {
            if let interval { Thread.sleep(forTimeInterval: interval) }
            let sent = Monotonic.now()
            try client.send(buffer)
            try buffer.withUnsafeMutableBytes { try client.receiveExactly(into: $0) }
            samples.append(Double(Monotonic.now() - sent) / 1e3)
        }
        return samples
    }
}

/// A tiny lock-protected flag shared with a worker thread.
final class Shared<Value: Sendable>: @unchecked Sendable {
    // `lock` serialises every access to `value`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func load() -> Value { lock.withLock { value } }
    func store(_ new: Value) { lock.withLock { value = new } }
    func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}
