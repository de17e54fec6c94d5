import Foundation
import MeshCrypto
import MeshNode
import MeshWire
import Testing

// The fuzz targets' bodies (FuzzHarness.swift, FuzzCorpus.swift: symlinks to Fuzz/Sources/FuzzHarness)
// replayed under `swift test`: every committed seed and every reproducer a fuzzer ever found
// (Fuzz/Regressions/TARGET/) must run through its target without trapping (docs/fuzzing.md).
//
// MESHCHAT_WRITE_FUZZ_CORPUS=1 swift test --filter FuzzRegressionTests remakes Fuzz/Corpus.

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private func files(in folder: String) -> [(name: String, bytes: [UInt8])] {
    let url = repositoryRoot.appendingPathComponent(folder)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
    return names.sorted().compactMap { name in
        guard !name.hasPrefix("."), let data = FileManager.default.contents(atPath: url.appendingPathComponent(name).path)
        else { return nil }
        return (name, [UInt8](data))
    }
}

struct FuzzRegressionTests {
    @Test(arguments: FuzzTarget.allCases)
    func committedCorpusIsTheGeneratedSeeds(target: FuzzTarget) throws {
        let folder = "Fuzz/Corpus/\(target.rawValue)"
        let seeds = FuzzCorpus.seeds(for: target)
        if ProcessInfo.processInfo.environment["MESHCHAT_WRITE_FUZZ_CORPUS"] == "1" {
            let url = repositoryRoot.appendingPathComponent(folder)
            try? FileManager.default.removeItem(at: url)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for seed in seeds { try Data(seed.bytes).write(to: url.appendingPathComponent(seed.name)) }
        }
        let committed = files(in: folder)
        #expect(committed.map(\.name) == seeds.map(\.name).sorted(), "Fuzz/Corpus is stale: remake it (docs/fuzzing.md)")
        for seed in seeds {
            #expect(committed.first { $0.name == seed.name }?.bytes == seed.bytes, "seed \(target.rawValue)/\(seed.name) is stale")
        }
    }

    /// Seeds and reproducers replay without trapping; a crash here is a fuzz finding come back.
    @Test(arguments: FuzzTarget.allCases)
    func seedsAndReproducersReplay(target: FuzzTarget) {
        let inputs = files(in: "Fuzz/Corpus/\(target.rawValue)") + files(in: "Fuzz/Regressions/\(target.rawValue)")
        #expect(!inputs.isEmpty)
        for input in inputs { target.run(input.bytes) }
    }

    /// The handshake seeds are real openings: the responder answers each with message 2, so the
    /// fuzzer starts past the preamble and the Noise decryption.
    @Test func handshakeSeedsReachMessage2() throws {
        let trusted = FuzzCorpus.initiator.publicKey
        for seed in FuzzCorpus.seeds(for: .handshakeResponder) where seed.name != "preamble-only" {
            let preamble = Array(seed.bytes.prefix(Preamble.byteCount))
            let psk = try Preamble.parse(preamble).suite.usesPreSharedKey
            var responder = ResponderHandshake(identity: psk ? FuzzCorpus.responderWithPSK : FuzzCorpus.responder)
            try responder.receive(preamble: preamble)
            var decoder = FrameDecoder()
            decoder.append(seed.bytes.dropFirst(Preamble.byteCount))
            let message1 = try #require(try decoder.next())
            let (_, link) = try responder.receive(message1: message1, timestamp: 2,
                                                  pinnedStaticKey: { $0 == trusted ? try? $0.keyAgreementKey() : nil })
                .unlessReplayed(lastAccepted: 0)
            #expect(link.remote.identity == trusted, "seed \(seed.name)")
        }
    }

    /// The envelope seeds parse and carry valid signatures, so mutations start from accepted envelopes.
    @Test func envelopeSeedsAreValid() throws {
        for seed in FuzzCorpus.seeds(for: .envelope) {
            #expect(try Envelope.parse(seed.bytes).hasValidSignature, "seed \(seed.name)")
        }
    }

    /// The trusted-peers seeds parse to their peers.
    @Test func trustedPeersSeedsParse() throws {
        let counts = try FuzzCorpus.seeds(for: .trustedPeers).map { try TrustedPeers(parsing: String(decoding: $0.bytes, as: UTF8.self)).peers.count }
        #expect(counts == [3, 1])
    }
}
